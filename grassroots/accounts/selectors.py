"""Reads for accounts: who a token belongs to, a member's tokens, roles."""

from __future__ import annotations

import hmac
import re
from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from grassroots.accounts.models import ApiToken, User
from grassroots.core.rawsql import datetime_value, model_columns, model_from_row

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
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {model_columns(User, 'u')}, t.id, t.token_hash, t.revoked_at, t.last_used_at"  # noqa: S608
            f" FROM {token_table} AS t JOIN {user_table} AS u ON u.id = t.user_id WHERE t.prefix = %s",
            [match[1]],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    user, at = model_from_row(User, row)
    token_id, token_hash, revoked_at, last_used = row[at:]
    if not hmac.compare_digest(str(token_hash), ApiToken.hash_plaintext(token)):
        return None
    if revoked_at is not None or not user.is_active:
        return None
    now = timezone.now()
    stale = now - LAST_USED_RESOLUTION
    last_used_at = datetime_value(last_used)
    # Written at most once a minute per token, so busy clients do not turn every read into a write.
    if last_used_at is None or last_used_at < stale:
        ApiToken.objects.filter(pk=token_id).filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)).update(
            last_used_at=now
        )
    return user


def api_tokens_for(*, user: User) -> QuerySet[ApiToken]:
    """A member's active tokens, newest first."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at", "-id")


def user_is_curator(*, user: User | AnonymousUser) -> bool:
    return isinstance(user, User) and user.is_curator
