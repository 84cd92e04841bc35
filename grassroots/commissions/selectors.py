"""Reads for commissions: shopkeeper ledger account codes, balances, and commission lines.

Balances come from the ledger (postings), never from CommissionLine sums: the rows say which line
earned what, the ledger says what is owed.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils.translation import gettext as _

from grassroots.core.conf import gr_setting
from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.core.pagination import decode_cursor, paginate
from grassroots.ledger.codes import GATEWAY_CASH
from grassroots.ledger.models import Posting
from grassroots.ledger.selectors import accounts_with_replay

from .models import CommissionLine

PENDING = "pending"
HELD = "held"
AVAILABLE = "available"
WITHDRAWING = "withdrawing"
RECEIVABLE = "receivable"
BUCKETS = (PENDING, HELD, AVAILABLE, WITHDRAWING, RECEIVABLE)
MAX_ID = 2**63 - 1


def shopkeeper_account(user_id: int, bucket: str) -> str:
    """`shopkeeper:<user id>:<bucket>`, bucket one of BUCKETS (see commissions.models)."""
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id < 1:
        raise ValueError(f"user_id must be a positive int, got {user_id!r}")
    if bucket not in BUCKETS:
        raise ValueError(f"unknown shopkeeper account bucket {bucket!r}")
    return f"shopkeeper:{user_id}:{bucket}"


def platform_currency() -> str:
    return str(gr_setting("CURRENCY"))


def shopkeeper_balances(*, user_id: int, currency: str | None = None) -> dict[str, int]:
    """What the ledger holds for one shopkeeper, in minor units of `currency` (the platform's by
    default), each as a positive amount: pending, held, available and withdrawing are owed TO the
    shopkeeper; receivable is owed BY the shopkeeper (clawed back after a refund of withdrawn money,
    netted against the next settlements); withdrawn_total is everything paid out so far (debits of
    the withdrawing account against gateway:cash). Two queries."""
    currency = currency or platform_currency()
    codes = {shopkeeper_account(user_id, bucket): bucket for bucket in BUCKETS}
    balances = dict.fromkeys(BUCKETS, 0)
    for account in accounts_with_replay().filter(code__in=list(codes), currency=currency):
        replay = int(account.replay)  # type: ignore[attr-defined]
        # Liabilities read negative (credit) in the ledger; the receivable is an asset (debit).
        bucket = codes[account.code]
        balances[bucket] = replay if bucket == RECEIVABLE else -replay
    withdrawn = Posting.objects.filter(
        account__code=shopkeeper_account(user_id, WITHDRAWING),
        account__currency=currency,
        amount__gt=0,
        entry__postings__account__code=GATEWAY_CASH,
    ).aggregate(total=Sum("amount"))["total"]
    balances["withdrawn_total"] = int(withdrawn or 0)
    return balances


def _lines() -> QuerySet[CommissionLine]:
    return CommissionLine.objects.select_related("order_line", "shop")


def commission_lines_visible_to(*, user: Any) -> QuerySet[CommissionLine]:
    """Lines the user earns on: as the shopkeeper who made the sale, or as the inviter who gets the
    team override. Nothing for anyone else (or anonymous users)."""
    user_id = getattr(user, "pk", None)
    if not getattr(user, "is_authenticated", False) or user_id is None:
        return CommissionLine.objects.none()
    return _lines().filter(Q(shopkeeper_id=user_id) | Q(override_beneficiary_id=user_id))


def _checked_cursor(cursor: str | None) -> str | None:
    """A cursor is client input: refuse anything but the one id these pages write, before SQL."""
    if cursor:
        values = decode_cursor(cursor)
        if not (len(values) == 1 and isinstance(values[0], int) and not isinstance(values[0], bool)) or not (
            0 <= values[0] <= MAX_ID
        ):
            raise ValidationFailed(_("Invalid cursor."), code="invalid_cursor", fields={"cursor": "invalid"})
    return cursor


def commission_lines_for(
    *, user: Any, cursor: str | None = None, limit: int = 20
) -> tuple[list[CommissionLine], str | None]:
    """The user's lines, newest first, keyset-paginated: one query per page."""
    cursor = _checked_cursor(cursor)
    return paginate(commission_lines_visible_to(user=user), cursor=cursor, limit=limit, order=("-id",))


def commission_line_for(*, user: Any, line_id: int) -> CommissionLine:
    """One of the user's lines; a curator may read any. Anyone else's is NotFound."""
    if isinstance(line_id, bool) or not isinstance(line_id, int) or not 1 <= line_id <= MAX_ID:
        raise NotFound(_("Commission line not found."))
    queryset = _lines() if getattr(user, "is_curator", False) else commission_lines_visible_to(user=user)
    line = queryset.filter(pk=line_id).first()
    if line is None:
        raise NotFound(_("Commission line not found."))
    return line


def commission_lines_for_order(*, order_id: int) -> list[CommissionLine]:
    """Every commission line of one order (for order pages and merchant views), in line order."""
    return list(_lines().filter(order_id=order_id).order_by("order_line_id"))


def commission_lines_held(*, cursor: str | None = None, limit: int = 20) -> tuple[list[CommissionLine], str | None]:
    """The operator's review queue: held lines, oldest first."""
    cursor = _checked_cursor(cursor)
    return paginate(_lines().filter(status=CommissionLine.Status.HELD), cursor=cursor, limit=limit, order=("id",))
