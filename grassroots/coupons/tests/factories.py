from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from grassroots.coupons.models import Coupon


class CouponFactory(factory.django.DjangoModelFactory):
    """A live platform coupon, ¥10 off, once per buyer, no total limit. Pass `merchant=` (and
    scope="merchant") for a merchant's coupon, kind="percent" with percent_bps and amount=0."""

    class Meta:
        model = Coupon

    code = factory.Sequence(lambda n: f"SAVE{n:04d}")
    scope = Coupon.Scope.PLATFORM
    merchant = None
    kind = Coupon.Kind.FIXED
    amount = 1000
    percent_bps = 0
    min_spend = 0
    currency = "CNY"
    valid_from = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    valid_until = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    total_limit = 0
    per_user_limit = 1


def percent_coupon(bps: int, **kwargs: object) -> Coupon:
    return CouponFactory(kind=Coupon.Kind.PERCENT, amount=0, percent_bps=bps, **kwargs)


def merchant_coupon(merchant: object, **kwargs: object) -> Coupon:
    return CouponFactory(scope=Coupon.Scope.MERCHANT, merchant=merchant, **kwargs)
