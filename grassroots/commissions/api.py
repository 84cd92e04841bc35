"""Earnings API: the shopkeeper's dashboard and withdrawals; curators review withdrawals."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from grassroots.commissions import withdrawals as w
from grassroots.commissions.api_commissions import router as commissions_router
from grassroots.commissions.dashboard import clean_days, shopkeeper_dashboard
from grassroots.commissions.models import Withdrawal
from grassroots.core.api_schemas import ErrorOut, error_responses
from grassroots.core.conf import gr_setting
from grassroots.core.errors import NotFound, PermissionDenied
from grassroots.core.idempotency import idempotent, request_idempotency_key
from grassroots.core.pagination import paginate
from grassroots.ledger.services import MAX_POSTING

router = Router(tags=["commissions"])


ERRORS = error_responses(400, 403, 404, 409, 422)


class EarningsBalancesOut(Schema):
    pending: int = Field(description="Commission inside the return window, minor units.")
    held: int = Field(description="Commission held for a self-referral review.")
    available: int = Field(description="Withdrawable now: the available account minus what is owed back.")
    withdrawing: int = Field(description="Requested or approved, not paid out yet.")
    withdrawn: int = Field(description="Paid out, ever.")
    receivable: int = Field(description="Commission clawed back after refunds and still owed.")


class EarningsDayOut(Schema):
    day: date
    clicks: int
    orders: int
    gmv: int
    commission: int


class EarningsProductOut(Schema):
    product_id: int
    title: str
    slug: str
    clicks: int
    orders: int
    units: int
    gmv: int
    commission: int


class EarningsDashboardOut(Schema):
    shop_id: int
    currency: str
    days: int
    since: datetime
    until: datetime
    clicks: int = Field(description="Share-link visits, bots and duplicates excluded.")
    unique_visitors: int
    orders: int = Field(description="Distinct paid orders with a line attributed to the shop.")
    conversion: float | None = Field(description="orders / unique_visitors; null without visitors.")
    gmv: int = Field(description="Paid minus refunded on attributed lines, minor units.")
    refunded: int
    commission_earned: int
    balances: EarningsBalancesOut
    products: list[EarningsProductOut]
    series: list[EarningsDayOut]


class WithdrawalIn(Schema):
    amount: int = Field(gt=0, le=MAX_POSTING, description="Minor units of the platform currency.")


class WithdrawalStatusChangeOut(Schema):
    from_status: str
    to_status: str
    action: str
    note: str
    created_at: datetime


class WithdrawalOut(Schema):
    id: int
    amount: int
    currency: str
    status: str
    payout_ref: str
    failure_reason: str
    created_at: datetime
    decided_at: datetime | None
    paid_at: datetime | None
    history: list[WithdrawalStatusChangeOut]


class WithdrawalReviewOut(WithdrawalOut):
    shopkeeper_id: int
    shopkeeper_name: str


class WithdrawalsPage(Schema):
    items: list[WithdrawalOut]
    next_cursor: str | None


class WithdrawalReviewPage(Schema):
    items: list[WithdrawalReviewOut]
    next_cursor: str | None


class WithdrawalRejectIn(Schema):
    reason: str = Field(min_length=1, max_length=w.REASON_MAX_LENGTH)


def _fields(withdrawal: Withdrawal) -> dict[str, Any]:
    return {
        "id": withdrawal.pk,
        "amount": withdrawal.amount,
        "currency": withdrawal.currency,
        "status": withdrawal.status,
        "payout_ref": withdrawal.payout_ref,
        "failure_reason": withdrawal.failure_reason,
        "created_at": withdrawal.created_at,
        "decided_at": withdrawal.decided_at,
        "paid_at": withdrawal.paid_at,
        "history": [
            WithdrawalStatusChangeOut.model_validate(c, from_attributes=True) for c in withdrawal.status_changes.all()
        ],
    }


def _out(withdrawal: Withdrawal) -> WithdrawalOut:
    return WithdrawalOut(**_fields(withdrawal))


def _review_out(withdrawal: Withdrawal) -> WithdrawalReviewOut:
    return WithdrawalReviewOut(
        **_fields(withdrawal),
        shopkeeper_id=withdrawal.shopkeeper_id,
        shopkeeper_name=withdrawal.shopkeeper.display_name,
    )


def _limit(limit: int | None) -> int:
    return int(gr_setting("API_PAGE_SIZE")) if limit is None else limit


def _curator(request: HttpRequest) -> None:
    if not getattr(request.user, "is_curator", False):
        raise PermissionDenied(_("Only curators review withdrawals."))


@router.get("/dashboard", response={200: EarningsDashboardOut, **ERRORS})
def dashboard(request: HttpRequest, days: str | None = None) -> EarningsDashboardOut:
    """Your shop's clicks, visitors, orders, conversion, GMV and commission over the last `days`
    days (1 to 366, default 30), per day and per product, and your commission balances.
    404 `no_shop` when you have no shop."""
    data = shopkeeper_dashboard(user=request.user, days=clean_days(days))
    if data.shop is None:
        raise NotFound(_("Open a shop first."), code="no_shop")
    b = data.balances
    return EarningsDashboardOut(
        shop_id=data.shop.pk,
        currency=data.currency,
        days=data.days,
        since=data.since,
        until=data.until,
        clicks=data.clicks,
        unique_visitors=data.unique_visitors,
        orders=data.orders,
        conversion=data.conversion,
        gmv=data.gmv,
        refunded=data.refunded,
        commission_earned=data.commission_earned,
        balances=EarningsBalancesOut(
            pending=b.pending,
            held=b.held,
            available=max(b.available - max(b.receivable, 0), 0),
            withdrawing=b.withdrawing,
            withdrawn=b.withdrawn,
            receivable=b.receivable,
        ),
        products=[EarningsProductOut.model_validate(p, from_attributes=True) for p in data.products],
        series=[EarningsDayOut.model_validate(p, from_attributes=True) for p in data.series],
    )


@router.post("/withdrawals", response={201: WithdrawalOut, **ERRORS})
def withdrawal_create(request: HttpRequest, payload: WithdrawalIn) -> tuple[int, Any]:
    """Withdraw `amount` minor units of your available balance. Requires an `Idempotency-Key`
    header: a retry returns the same withdrawal. 422 `below_minimum`, 422 `insufficient_balance`,
    409 `withdrawal_in_flight` while another one is requested or approved."""
    key = request_idempotency_key(request)

    def run() -> tuple[int, Any]:
        withdrawal = w.withdrawal_request(user=request.user, amount=payload.amount, idempotency_key=f"api:{key}")
        return 201, _out(w.withdrawal_for_viewer(user=request.user, withdrawal_id=withdrawal.pk))

    return idempotent(request, scope="commissions.withdrawal_request", body=payload.model_dump(), run=run)


@router.get("/withdrawals", response={200: WithdrawalsPage, **ERRORS})
def withdrawal_list(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> WithdrawalsPage:
    """Your withdrawals, newest first, each with its status history."""
    items, next_cursor = paginate(w.withdrawals_for_user(user=request.user), cursor=cursor, limit=_limit(limit))
    return WithdrawalsPage(items=[_out(item) for item in items], next_cursor=next_cursor)


@router.get("/withdrawals/review", response={200: WithdrawalReviewPage, **ERRORS})
def withdrawal_review_list(
    request: HttpRequest, status: str | None = "requested", cursor: str | None = None, limit: int | None = None
) -> WithdrawalReviewPage:
    """Curators: withdrawals to decide, oldest first. `status` is requested (default), approved
    (payout not finished: approve again to retry), paid, failed, rejected, or empty for all."""
    _curator(request)
    items, next_cursor = paginate(
        w.withdrawals_for_review(status=status or None), cursor=cursor, limit=_limit(limit), order=("id",)
    )
    return WithdrawalReviewPage(items=[_review_out(item) for item in items], next_cursor=next_cursor)


@router.get("/withdrawals/{withdrawal_id}", response={200: WithdrawalOut, **ERRORS})
def withdrawal_get(request: HttpRequest, withdrawal_id: int) -> WithdrawalOut:
    """One of your withdrawals (curators: any)."""
    return _out(w.withdrawal_for_viewer(user=request.user, withdrawal_id=withdrawal_id))


@router.post("/withdrawals/{withdrawal_id}/approve", response={200: WithdrawalReviewOut, 503: ErrorOut, **ERRORS})
def withdrawal_approve(request: HttpRequest, withdrawal_id: int) -> WithdrawalReviewOut:
    """Curators: approve and pay out through the payout provider. The result is `paid`, or `failed`
    with `failure_reason` (the money is back in the shopkeeper's balance). Safe to repeat; 503
    `payout_unavailable` leaves it approved for a retry."""
    withdrawal = w.withdrawal_for_viewer(user=request.user, withdrawal_id=withdrawal_id)
    _curator(request)
    w.withdrawal_approve(actor=request.user, withdrawal=withdrawal)
    return _review_out(w.withdrawal_for_viewer(user=request.user, withdrawal_id=withdrawal_id))


@router.post("/withdrawals/{withdrawal_id}/reject", response={200: WithdrawalReviewOut, **ERRORS})
def withdrawal_reject(request: HttpRequest, withdrawal_id: int, payload: WithdrawalRejectIn) -> WithdrawalReviewOut:
    """Curators: decline a requested withdrawal with a reason shown to the shopkeeper; the money
    goes back to their available balance. Safe to repeat."""
    withdrawal = w.withdrawal_for_viewer(user=request.user, withdrawal_id=withdrawal_id)
    _curator(request)
    w.withdrawal_reject(actor=request.user, withdrawal=withdrawal, reason=payload.reason)
    return _review_out(w.withdrawal_for_viewer(user=request.user, withdrawal_id=withdrawal_id))


# Commission lines and balances share this prefix.
router.add_router("", commissions_router)
