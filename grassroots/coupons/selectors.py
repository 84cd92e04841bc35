"""Reads for coupons, each scoped to who may manage them."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from grassroots.core.errors import NotFound
from grassroots.coupons.models import Coupon
from grassroots.merchants.models import Merchant, MerchantMember


def is_curator(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_curator", False))


def is_member(user: Any, merchant_id: int) -> bool:
    user_id = getattr(user, "pk", None)
    return bool(
        user_id
        and getattr(user, "is_authenticated", False)
        and MerchantMember.objects.filter(merchant_id=merchant_id, user_id=user_id).exists()
    )


def _valid_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 2**63


def coupon_for_manager(*, actor: Any, coupon_id: Any) -> Coupon:
    """A coupon `actor` may manage: platform coupons for curators, a merchant's for its members.
    NotFound for anyone else, so strangers cannot tell whether it exists."""
    coupon = Coupon.objects.filter(pk=coupon_id).first() if _valid_id(coupon_id) else None
    if coupon is None:
        raise NotFound(_("Coupon not found."))
    if coupon.scope == Coupon.Scope.PLATFORM and is_curator(actor):
        return coupon
    if coupon.merchant_id is not None and is_member(actor, coupon.merchant_id):
        return coupon
    raise NotFound(_("Coupon not found."))


def merchant_for_coupons(*, user: Any, merchant_id: int | None = None) -> Merchant | None:
    """The merchant whose coupons `user` manages: `merchant_id` if they belong to it (else
    NotFound), or their first membership, or None."""
    from grassroots.merchants.selectors import merchant_for_member, user_active_merchant

    if merchant_id is not None:
        return merchant_for_member(user=user, merchant_id=merchant_id)
    return user_active_merchant(user=user)


def merchant_coupons(*, merchant: Merchant) -> QuerySet[Coupon]:
    return Coupon.objects.filter(merchant=merchant)


def platform_coupons() -> QuerySet[Coupon]:
    return Coupon.objects.filter(scope=Coupon.Scope.PLATFORM)
