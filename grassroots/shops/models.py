from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MAX_SHOP_ITEMS = 200
NAME_MAX_LENGTH = 60
PITCH_MAX_LENGTH = 280
RECOMMENDATION_MAX_LENGTH = 280
RATE_MIN_BPS = 100
RATE_MAX_BPS = 8000


class Shop(models.Model):
    """A shopkeeper's micro-shop: a curated selection from the pool with their own pitch.

    Opening one is free and takes one step; there is never an entry fee.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        SUSPENDED = "suspended", _("Suspended")

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shop")
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    pitch = models.CharField(max_length=PITCH_MAX_LENGTH, blank=True)
    avatar = models.ImageField(upload_to="shops/%Y/%m/", blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    terms_accepted_at = models.DateTimeField()
    # Kept by conditional UPDATEs in services, so two concurrent adds cannot pass the item limit.
    item_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(item_count__gte=0, item_count__lte=MAX_SHOP_ITEMS), name="shop_item_count_in_range"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ShopItem(models.Model):
    """A product the shopkeeper recommends, with their own words."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="shop_items")
    recommendation = models.CharField(max_length=RECOMMENDATION_MAX_LENGTH, blank=True)
    position = models.PositiveIntegerField(default=0)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "-added_at", "id"]
        constraints = [models.UniqueConstraint(fields=["shop", "product"], name="uniq_shop_product")]


class CommissionRate(models.Model):
    """Append-only history of a product's commission rate (basis points of the paid price).

    A decrease takes effect only for clicks after a notice period; an increase at once. The rate
    that applies to a sale is the one in effect at the attributed click.
    """

    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="commission_rates")
    rate_bps = models.PositiveIntegerField()
    effective_from = models.DateTimeField(db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when a later decision replaced this change before it took effect; such a row never applies.
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["product_id", "-effective_from", "-id"]
        indexes = [models.Index(fields=["product", "-effective_from"], name="commission_rate_lookup")]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate_bps__gte=RATE_MIN_BPS, rate_bps__lte=RATE_MAX_BPS), name="commission_rate_1_to_80_pct"
            )
        ]
