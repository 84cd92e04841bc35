"""Coupons: a code that takes money off goods, platform-wide or for one merchant's goods.

Money is in integer minor units of the coupon's currency. `used_count` changes only through the
conditional UPDATEs in services (redeem, release), so limits hold under concurrency.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _


class Coupon(models.Model):
    class Scope(models.TextChoices):
        PLATFORM = "platform", _("Platform")
        MERCHANT = "merchant", _("Merchant")

    class Kind(models.TextChoices):
        FIXED = "fixed", _("Fixed amount")
        PERCENT = "percent", _("Percentage")

    # Stored upper-case (a check holds it), so the plain unique index is a case-insensitive one.
    code = models.CharField(_("code"), max_length=40, unique=True)
    scope = models.CharField(max_length=10, choices=Scope.choices)
    merchant = models.ForeignKey(
        "merchants.Merchant", null=True, blank=True, on_delete=models.PROTECT, related_name="coupons"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # fixed: minor units off; percent: basis points (1..10000) with an optional cap in minor units.
    amount = models.BigIntegerField(default=0)
    percent_bps = models.PositiveIntegerField(default=0)
    max_discount = models.BigIntegerField(null=True, blank=True)
    # Measured on the goods the coupon applies to (before discount, without shipping).
    min_spend = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    # 0 = unlimited.
    total_limit = models.PositiveIntegerField(default=0)
    per_user_limit = models.PositiveIntegerField(default=1)
    used_count = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["merchant", "-id"], name="coupon_merchant_recent")]
        constraints = [
            models.CheckConstraint(condition=Q(code=Upper("code")), name="coupon_code_upper"),
            models.CheckConstraint(
                condition=(Q(scope="platform") & Q(merchant__isnull=True))
                | (Q(scope="merchant") & Q(merchant__isnull=False)),
                name="coupon_scope_merchant",
            ),
            models.CheckConstraint(
                condition=(Q(kind="fixed") & Q(amount__gt=0) & Q(percent_bps=0) & Q(max_discount__isnull=True))
                | (
                    Q(kind="percent")
                    & Q(amount=0)
                    & Q(percent_bps__gte=1)
                    & Q(percent_bps__lte=10000)
                    & (Q(max_discount__isnull=True) | Q(max_discount__gt=0))
                ),
                name="coupon_kind_values",
            ),
            models.CheckConstraint(condition=Q(min_spend__gte=0), name="coupon_min_spend_nonneg"),
            models.CheckConstraint(condition=Q(valid_until__gt=F("valid_from")), name="coupon_window_order"),
            models.CheckConstraint(
                condition=Q(total_limit=0) | Q(used_count__lte=F("total_limit")), name="coupon_used_within_limit"
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def percent(self) -> Decimal:
        """percent_bps as a percentage, e.g. 1250 -> 12.5."""
        return Decimal(self.percent_bps) / 100


class CouponRedemption(models.Model):
    """One use of a coupon by one checkout. Released when the checkout closes unpaid, which gives
    the use back (to the total and to the buyer's own limit)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        RELEASED = "released", _("Released")

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    checkout = models.OneToOneField("orders.Checkout", on_delete=models.PROTECT, related_name="coupon_redemption")
    amount = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["coupon", "user", "status"], name="redemption_coupon_user")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="redemption_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.coupon_id} by {self.user_id} ({self.status})"
