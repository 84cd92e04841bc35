from __future__ import annotations

import re

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

CODE_LENGTH = 8
CODE_RE = re.compile(rf"[A-Za-z0-9]{{{CODE_LENGTH}}}")
USER_AGENT_MAX_LENGTH = 300


class ShareLink(models.Model):
    """A short, unguessable link (/s/<code>/) that carries a shop's attribution.

    One per shop and one per (shop, product): minting is idempotent, so the same item always
    shares the same URL and QR code. Note links ("note") carry the author's shop attribution and
    the note they came from: one per (shop, note) leading to the note page, and one per
    (shop, note, product) for each product card of the note, leading to the product page.
    """

    class Kind(models.TextChoices):
        SHOP = "shop", _("Shop")
        PRODUCT = "product", _("Product in shop")
        NOTE = "note", _("Note")

    code = models.CharField(max_length=16, unique=True)
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="share_links")
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="share_links"
    )
    note = models.ForeignKey("notes.Note", null=True, blank=True, on_delete=models.CASCADE, related_name="share_links")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # Counted (non-bot, non-duplicate) clicks, kept by an F() update in click_record.
    click_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["shop"], condition=Q(kind="shop"), name="uniq_share_link_shop"),
            models.UniqueConstraint(
                fields=["shop", "product"], condition=Q(kind="product"), name="uniq_share_link_shop_product"
            ),
            models.UniqueConstraint(
                fields=["shop", "note"],
                condition=Q(kind="note", product__isnull=True),
                name="uniq_share_link_shop_note",
            ),
            models.UniqueConstraint(
                fields=["shop", "note", "product"],
                condition=Q(kind="note", product__isnull=False),
                name="uniq_share_link_shop_note_product",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="shop", product__isnull=True, note__isnull=True)
                    | Q(kind="product", product__isnull=False, note__isnull=True)
                    | Q(kind="note", note__isnull=False)
                ),
                name="share_link_kind_matches_target",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Click(models.Model):
    """One visit through a share link. Append-only: it is the evidence attribution rests on.

    The raw IP address is never stored, only a keyed hash (for self-referral checks).
    """

    link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="clicks")
    # Copied from the link so attribution reads one table.
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="clicks")
    product = models.ForeignKey("catalog.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    visitor_key = models.CharField(max_length=64, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="share_clicks"
    )
    ip_hash = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=USER_AGENT_MAX_LENGTH, blank=True)
    is_bot = models.BooleanField(default=False)
    is_duplicate = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["visitor_key", "created_at"], name="click_visitor_time"),
            models.Index(fields=["user", "created_at"], name="click_user_time"),
            models.Index(fields=["link", "created_at"], name="click_link_time"),
            models.Index(fields=["shop", "created_at"], name="click_shop_time"),
            models.Index(fields=["ip_hash", "created_at"], name="click_ip_time"),
        ]


class CustomerBinding(models.Model):
    """While active (bound_at <= t < bound_until), the customer's purchases of goods the shop
    carries are credited to that shop, whatever links they click. Only used when
    GRASSROOTS["CUSTOMER_BINDING_DAYS"] > 0. One row per customer, re-used when it expires."""

    customer = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shop_binding")
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="bindings")
    click = models.ForeignKey(Click, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    bound_at = models.DateTimeField()
    bound_until = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(bound_until__gt=models.F("bound_at")), name="binding_period_positive")
        ]


class Fingerprint(models.Model):
    """A keyed hash of a shipping address or payment instrument a member used, recorded by
    checkout, so a buyer sharing one with the shopkeeper can be held for review. Never the
    value itself."""

    class Kind(models.TextChoices):
        ADDRESS = "address", _("Shipping address")
        PAYMENT = "payment", _("Payment instrument")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    digest = models.CharField(max_length=64)
    last_seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind", "digest"], name="uniq_fingerprint")]
        indexes = [models.Index(fields=["kind", "digest"], name="fingerprint_lookup")]
