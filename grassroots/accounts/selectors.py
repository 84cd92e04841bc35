"""Reads for accounts: who a token belongs to, a member's tokens, roles."""

from __future__ import annotations

import hmac
import re
from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.utils import timezone

from grassroots.accounts.models import ApiToken, User
from grassroots.core.rawsql import datetime_value

TOKEN_RE = re.compile(r"gr_([0-9a-f]{10})_([A-Za-z0-9_-]{20,128})")
LAST_USED_RESOLUTION = timedelta(minutes=1)


def user_from_api_token(*, token: str) -> User | None:
    """The active owner of a valid, unrevoked token; None otherwise. One query on the hot path (every
    API request with a token): written as SQL, since building it through the ORM cost more than the
    query itself."""
    match = TOKEN_RE.fullmatch(token)
    if match is None:
        return None
    user_table, token_table = User._meta.db_table, ApiToken._meta.db_table
    found = list(
        User.objects.raw(
            f"SELECT u.*, t.id AS api_token_id, t.token_hash AS api_token_hash, t.revoked_at AS api_token_revoked_at,"  # noqa: S608
            f" t.last_used_at AS api_token_last_used_at FROM {token_table} AS t JOIN {user_table} AS u"
            " ON u.id = t.user_id WHERE t.prefix = %s",
            [match[1]],
        )
    )
    if not found:
        return None
    user = found[0]
    # The token's columns came as extra attributes; take them off the user that is handed on.
    columns = {name: vars(user).pop(f"api_token_{name}") for name in ("id", "hash", "revoked_at", "last_used_at")}
    if not hmac.compare_digest(str(columns["hash"]), ApiToken.hash_plaintext(token)):
        return None
    if columns["revoked_at"] is not None or not user.is_active:
        return None
    now = timezone.now()
    stale = now - LAST_USED_RESOLUTION
    last_used_at = datetime_value(columns["last_used_at"])
    # Written at most once a minute per token, so busy clients do not turn every read into a write.
    if last_used_at is None or last_used_at < stale:
        ApiToken.objects.filter(pk=columns["id"]).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
        ).update(last_used_at=now)
    return user


def api_tokens_for(*, user: User) -> QuerySet[ApiToken]:
    """A member's active tokens, newest first."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at", "-id")


def user_is_curator(*, user: User | AnonymousUser) -> bool:
    return isinstance(user, User) and user.is_curator
