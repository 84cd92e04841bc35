"""Commission API: a shopkeeper's commission lines and balances; curators review held lines.

Included by grassroots.commissions.api (`router.add_router("", commissions_router)`), so the paths
are /api/v1/commissions/lines, /balances, /lines/held and /lines/{id}[/release|/reject].
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema

from grassroots.commissions import selectors, services
from grassroots.commissions.models import CommissionLine
from grassroots.core.api_schemas import ErrorOut, error_responses
from grassroots.core.conf import gr_setting
from grassroots.core.errors import ValidationFailed
from grassroots.core.money import CURRENCY_EXPONENT

router = Router(tags=["commissions"])


ERRORS = error_responses(400, 403, 404, 409, 422)


class CommissionLineOut(Schema):
    """One paid line credited to you. `role` says why you earn on it: "shopkeeper" (the sale was
    made through your shop: the commission) or "team" (a member you invited made it: the override).
    `amount` is what you earn on it in minor units of `currency`, `reversed` what refunds (or a
    review) took back of it. `rate_bps` is the commission rate of the paid price for "shopkeeper",
    and the override's share of the platform fee for "team"."""

    id: int
    order_id: int
    order_line_id: int
    product_title: str
    quantity: int
    shop_id: int
    shop_name: str
    role: str
    rule: str
    rate_bps: int
    currency: str
    paid_amount: int
    amount: int
    reversed: int
    status: str
    created_at: datetime
    settled_at: datetime | None


class CommissionLinesPage(Schema):
    items: list[CommissionLineOut]
    next_cursor: str | None


class ReviewLineOut(Schema):
    """A line as a curator reviews it: both parts, both beneficiaries, and why it was held."""

    id: int
    order_id: int
    order_line_id: int
    product_title: str
    shop_id: int
    shopkeeper_id: int
    override_beneficiary_id: int | None
    rule: str
    rate_bps: int
    currency: str
    paid_amount: int
    commission_amount: int
    override_amount: int
    commission_reversed: int
    override_reversed: int
    status: str
    hold_reason: str
    decided_by_id: int | None
    decided_at: datetime | None
    created_at: datetime


class ReviewLinesPage(Schema):
    items: list[ReviewLineOut]
    next_cursor: str | None


class BalancesOut(Schema):
    """Minor units of `currency`. pending: earned, inside the return window; held: waiting for a
    review; available: withdrawable; withdrawing: requested, being paid out; receivable: owed BY
    you (a refund of money already withdrawn), taken out of your next settlements first;
    withdrawn_total: paid out so far."""

    currency: str
    pending: int
    held: int
    available: int
    withdrawing: int
    receivable: int
    withdrawn_total: int


def _line_out(line: CommissionLine, user_id: int) -> CommissionLineOut:
    direct = line.shopkeeper_id == user_id
    return CommissionLineOut(
        id=line.pk,
        order_id=line.order_id,
        order_line_id=line.order_line_id,
        product_title=line.order_line.product_title,
        quantity=line.order_line.quantity,
        shop_id=line.shop_id,
        shop_name=line.shop.name,
        role="shopkeeper" if direct else "team",
        rule=line.rule,
        rate_bps=line.rate_bps if direct else line.override_bps,
        currency=line.currency,
        paid_amount=line.paid_amount,
        amount=line.commission_amount if direct else line.override_amount,
        reversed=line.commission_reversed if direct else line.override_reversed,
        status=line.status,
        created_at=line.created_at,
        settled_at=line.settled_at,
    )


def _review_out(line: CommissionLine) -> ReviewLineOut:
    return ReviewLineOut(
        id=line.pk,
        order_id=line.order_id,
        order_line_id=line.order_line_id,
        product_title=line.order_line.product_title,
        shop_id=line.shop_id,
        shopkeeper_id=line.shopkeeper_id,
        override_beneficiary_id=line.override_beneficiary_id,
        rule=line.rule,
        rate_bps=line.rate_bps,
        currency=line.currency,
        paid_amount=line.paid_amount,
        commission_amount=line.commission_amount,
        override_amount=line.override_amount,
        commission_reversed=line.commission_reversed,
        override_reversed=line.override_reversed,
        status=line.status,
        hold_reason=line.hold_reason,
        decided_by_id=line.decided_by_id,
        decided_at=line.decided_at,
        created_at=line.created_at,
    )


def _page_size(limit: int | None) -> int:
    return int(limit or gr_setting("API_PAGE_SIZE"))


def _user_id(request: HttpRequest) -> int:
    return int(request.user.pk)  # type: ignore[arg-type]  # api_auth: always signed in


@router.get("/lines", response={200: CommissionLinesPage, 422: ErrorOut})
def commission_lines(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> CommissionLinesPage:
    """Your commission lines, newest first: sales through your shop and your team's override."""
    items, next_cursor = selectors.commission_lines_for(user=request.user, cursor=cursor, limit=_page_size(limit))
    user_id = _user_id(request)
    return CommissionLinesPage(items=[_line_out(line, user_id) for line in items], next_cursor=next_cursor)


@router.get("/balances", response={200: BalancesOut, 422: ErrorOut})
def commission_balances(request: HttpRequest, currency: str | None = None) -> BalancesOut:
    """Your shopkeeper balances from the ledger (the platform's currency unless `currency`)."""
    currency = currency or selectors.platform_currency()
    if currency not in CURRENCY_EXPONENT:
        raise ValidationFailed(_("Unsupported currency."), fields={"currency": "invalid"})
    return BalancesOut(currency=currency, **selectors.shopkeeper_balances(user_id=_user_id(request), currency=currency))


@router.get("/lines/held", response={200: ReviewLinesPage, **ERRORS})
def commission_lines_held(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> ReviewLinesPage:
    """Curators: lines held as suspected self-referral, oldest first."""
    services.curator_required(actor=request.user)
    items, next_cursor = selectors.commission_lines_held(cursor=cursor, limit=_page_size(limit))
    return ReviewLinesPage(items=[_review_out(line) for line in items], next_cursor=next_cursor)


@router.get("/lines/{line_id}", response={200: CommissionLineOut, 404: ErrorOut})
def commission_line(request: HttpRequest, line_id: int) -> CommissionLineOut:
    """One of your lines; anyone else's is a 404."""
    line = selectors.commission_line_for(user=request.user, line_id=line_id)
    return _line_out(line, _user_id(request))


@router.post("/lines/{line_id}/release", response={200: ReviewLineOut, **ERRORS})
def commission_release(request: HttpRequest, line_id: int) -> ReviewLineOut:
    """Curators: a held line is fine. It becomes pending and settles after the return window."""
    services.commission_release(line=line_id, actor=request.user)
    return _review_out(selectors.commission_line_for(user=request.user, line_id=line_id))


@router.post("/lines/{line_id}/reject", response={200: ReviewLineOut, **ERRORS})
def commission_reject(request: HttpRequest, line_id: int) -> ReviewLineOut:
    """Curators: a held line is self-referral. Nobody earns on it: the commission goes back to the
    merchant, the override to the platform."""
    services.commission_reject(line=line_id, actor=request.user)
    return _review_out(selectors.commission_line_for(user=request.user, line_id=line_id))
