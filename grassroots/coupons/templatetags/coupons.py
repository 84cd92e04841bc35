"""`{% coupon_preview plan as coupon %}`: what a coupon does to the checkout page's plan.

A read (coupon_quote), so the checkout page can show the discount or the reason it does not apply
before anything is held.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template

from grassroots.core.errors import ServiceError
from grassroots.coupons.services import CouponQuote, coupon_quote

register = template.Library()


@dataclass(frozen=True)
class CouponPreview:
    code: str
    quote: CouponQuote | None
    error: ServiceError | None
    # The checkout's total with the coupon (without it when it does not apply).
    total: int


@register.simple_tag(takes_context=True)
def coupon_preview(context: template.Context, plan: Any) -> CouponPreview | None:
    """The code comes from the placed form (`coupon_code`) or the Apply form (`?coupon=`)."""
    request = context.get("request")
    if plan is None or request is None:
        return None
    code = (request.POST.get("coupon_code") or request.GET.get("coupon") or "").strip()
    if not code:
        return None
    try:
        quote = coupon_quote(
            code=code, buyer=request.user, lines_by_merchant=plan.goods_by_merchant(), currency=plan.currency
        )
    except ServiceError as error:
        return CouponPreview(code=code[:40], quote=None, error=error, total=plan.total)
    return CouponPreview(code=quote.coupon.code, quote=quote, error=None, total=plan.total - quote.discount_total)
