"""Coupons API: merchants and curators create and manage coupons; buyers quote one on their cart.

A coupon is managed by its merchant's members (platform coupons by curators); for anyone else it
does not exist (404).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from pydantic import StrictInt

from grassroots.core.api_schemas import ErrorOut, error_responses
from grassroots.core.conf import gr_setting
from grassroots.core.errors import PermissionDenied, ValidationFailed
from grassroots.core.pagination import paginate
from grassroots.coupons import selectors, services
from grassroots.coupons.models import Coupon
from grassroots.orders import selectors as orders_selectors
from grassroots.orders import services as orders_services

router = Router(tags=["coupons"])


ERRORS = error_responses(400, 403, 404, 409, 422)


class CouponIn(Schema):
    code: str = Field(max_length=40)
    # "merchant" uses `merchant_id`, or your first merchant; "platform" is for curators.
    scope: Literal["platform", "merchant"] = "merchant"
    merchant_id: StrictInt | None = None
    kind: Literal["fixed", "percent"]
    amount: StrictInt = 0
    percent_bps: StrictInt = 0
    max_discount: StrictInt | None = None
    min_spend: StrictInt = 0
    currency: str | None = Field(None, max_length=3)
    valid_from: datetime | None = None
    valid_until: datetime
    total_limit: StrictInt = 0
    per_user_limit: StrictInt = 1


class CouponOut(Schema):
    id: int
    code: str
    scope: str
    merchant_id: int | None
    kind: str
    amount: int
    percent_bps: int
    max_discount: int | None
    min_spend: int
    currency: str
    valid_from: datetime
    valid_until: datetime
    total_limit: int
    per_user_limit: int
    used_count: int
    is_active: bool
    created_at: datetime


class CouponsPage(Schema):
    items: list[CouponOut]
    next_cursor: str | None


class QuoteLineOut(Schema):
    sku_id: int
    merchant_id: int
    goods_amount: int
    discount_amount: int


class QuoteOut(Schema):
    code: str
    coupon_id: int
    scope: str
    currency: str
    goods_total: int
    eligible_total: int
    discount_total: int
    shipping_total: int
    # What the checkout would cost with the coupon: goods - discount + shipping.
    total: int
    lines: list[QuoteLineOut]


def _out(coupon: Coupon) -> CouponOut:
    return CouponOut.model_validate(coupon, from_attributes=True)


def _merchant_id(request: HttpRequest, merchant_id: int | None) -> int:
    merchant = selectors.merchant_for_coupons(user=request.user, merchant_id=merchant_id)
    if merchant is None:
        raise PermissionDenied(_("You are not a member of a merchant."), code="not_a_merchant")
    return merchant.pk


@router.post("/", response={201: CouponOut, **ERRORS})
def coupon_create(request: HttpRequest, payload: CouponIn) -> tuple[int, CouponOut]:
    """Create a coupon. Amounts are minor units of `currency` (default: the site currency);
    percent_bps 1..10000 (100 = 1%); total_limit and per_user_limit 0 mean unlimited."""
    merchant_id = None if payload.scope == "platform" else _merchant_id(request, payload.merchant_id)
    coupon = services.coupon_create(
        actor=request.user,
        merchant_id=merchant_id,
        code=payload.code,
        kind=payload.kind,
        amount=payload.amount,
        percent_bps=payload.percent_bps,
        max_discount=payload.max_discount,
        min_spend=payload.min_spend,
        currency=payload.currency or gr_setting("CURRENCY"),
        valid_from=payload.valid_from,
        valid_until=payload.valid_until,
        total_limit=payload.total_limit,
        per_user_limit=payload.per_user_limit,
    )
    return 201, _out(coupon)


@router.get("/mine", response={200: CouponsPage, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut})
def coupon_list(
    request: HttpRequest,
    scope: Literal["platform", "merchant"] | None = None,
    merchant_id: int | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> CouponsPage:
    """Your merchant's coupons (the first you belong to, or `merchant_id`), newest first; curators
    get platform coupons (`scope=platform`, their default unless they belong to a merchant)."""
    if scope is None:
        scope = "merchant" if merchant_id or selectors.merchant_for_coupons(user=request.user) else "platform"
    if scope == "platform":
        if not selectors.is_curator(request.user):
            raise PermissionDenied(_("Only curators manage platform coupons."), code="not_a_curator")
        queryset = selectors.platform_coupons()
    else:
        merchant = selectors.merchant_for_coupons(user=request.user, merchant_id=merchant_id)
        if merchant is None:
            raise PermissionDenied(_("You are not a member of a merchant."), code="not_a_merchant")
        queryset = selectors.merchant_coupons(merchant=merchant)
    items, next_cursor = paginate(queryset, cursor=cursor, limit=int(limit or gr_setting("API_PAGE_SIZE")))
    return CouponsPage(items=[_out(c) for c in items], next_cursor=next_cursor)


@router.post("/{coupon_id}/deactivate", response={200: CouponOut, **ERRORS})
def coupon_deactivate(request: HttpRequest, coupon_id: int) -> CouponOut:
    """No new uses from now; checkouts already holding a use keep their discount. Idempotent."""
    return _out(services.coupon_deactivate(actor=request.user, coupon_id=coupon_id))


@router.get("/quote", response={200: QuoteOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut})
def coupon_quote(request: HttpRequest, code: str) -> QuoteOut:
    """What `code` takes off your current cart (the same rules as checkout; nothing is held until
    you place the order). Errors: invalid_coupon, coupon_expired, coupon_not_started,
    coupon_exhausted, coupon_user_limit, coupon_min_spend, coupon_not_applicable, empty_cart."""
    items = orders_selectors.cart_items(cart=orders_selectors.cart_find(user=request.user))
    if not items:
        raise ValidationFailed(_("Your cart is empty."), code="empty_cart")
    plan = orders_services.checkout_plan(items=[(i.sku_id, i.quantity) for i in items])
    goods = plan.goods_by_merchant()
    quote = services.coupon_quote(code=code, buyer=request.user, lines_by_merchant=goods, currency=plan.currency)
    return QuoteOut(
        code=quote.coupon.code,
        coupon_id=quote.coupon.pk,
        scope=quote.coupon.scope,
        currency=quote.currency,
        goods_total=quote.goods_total,
        eligible_total=quote.eligible_total,
        discount_total=quote.discount_total,
        shipping_total=plan.shipping_total,
        total=plan.total - quote.discount_total,
        lines=[
            QuoteLineOut(
                sku_id=sku_id,
                merchant_id=merchant_id,
                goods_amount=amount,
                discount_amount=quote.line_discounts[sku_id],
            )
            for merchant_id, lines in goods.items()
            for sku_id, amount in lines
        ],
    )
