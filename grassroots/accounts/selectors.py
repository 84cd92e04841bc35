"""Reads for accounts: who a token belongs to, a member's tokens, roles."""

from __future__ import annotations

import hmac
import re
from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.utils import timezone

from grassroots.accounts.models import ApiToken, User

TOKEN_RE = re.compile(r"gr_([0-9a-f]{10})_([A-Za-z0-9_-]{20,128})")
LAST_USED_RESOLUTION = timedelta(minutes=1)


def user_from_api_token(*, token: str) -> User | None:
    """The active owner of a valid, unrevoked token; None otherwise. One query on the hot path."""
    match = TOKEN_RE.fullmatch(token)
    if match is None:
        return None
    api_token = ApiToken.objects.select_related("user").filter(prefix=match[1]).first()
    if api_token is None:
        return None
    if not hmac.compare_digest(api_token.token_hash, ApiToken.hash_plaintext(token)):
        return None
    if api_token.revoked_at is not None or not api_token.user.is_active:
        return None
    now = timezone.now()
    stale = now - LAST_USED_RESOLUTION
    # Written at most once a minute per token, so busy clients do not turn every read into a write.
    if api_token.last_used_at is None or api_token.last_used_at < stale:
        ApiToken.objects.filter(pk=api_token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
        ).update(last_used_at=now)
    return api_token.user


def api_tokens_for(*, user: User) -> QuerySet[ApiToken]:
    """A member's active tokens, newest first."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at", "-id")


def user_is_curator(*, user: User | AnonymousUser) -> bool:
    return isinstance(user, User) and user.is_curator
