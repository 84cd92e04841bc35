from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


def _pick(en: str, zh: str) -> str:
    lang = (get_language() or "en").lower()
    if lang.startswith("zh"):
        return zh or en
    return en or zh


class Category(models.Model):
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    slug = models.SlugField(max_length=80, unique=True)
    name_en = models.CharField(max_length=80)
    name_zh = models.CharField(max_length=80, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return _pick(self.name_en, self.name_zh)


class Product(models.Model):
    """What buyers see is always the approved content on this row.

    A material edit of a listed product waits as a ProductRevision until screening passes,
    so the old version stays listed meanwhile.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        IN_REVIEW = "in_review", _("In review")
        CHANGES_REQUESTED = "changes_requested", _("Changes requested")
        REJECTED = "rejected", _("Rejected")
        LISTED = "listed", _("Listed")
        SUSPENDED = "suspended", _("Suspended")

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="products")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    slug = models.SlugField(max_length=160, unique=True)
    title_en = models.CharField(max_length=160)
    title_zh = models.CharField(max_length=160, blank=True)
    brand = models.CharField(max_length=80, blank=True)
    origin = models.CharField(max_length=80, blank=True)
    description_md = models.TextField(blank=True)
    description_html = models.TextField(blank=True, editable=False)
    currency = models.CharField(max_length=3, default="CNY")
    # Cheapest active variant, kept by the catalog services for list pages and sorting.
    min_price = models.BigIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    is_listed = models.BooleanField(default=False, db_index=True)
    # Lower-cased titles, brand and origin in both languages: what search matches against.
    search_text = models.TextField(blank=True, default="")
    passed_stages = models.JSONField(default=list, blank=True)
    listed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["is_listed", "category", "-listed_at"], name="product_listed_cat")]
        constraints = [
            models.CheckConstraint(condition=Q(min_price__gte=0), name="product_min_price_nonneg"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        return _pick(self.title_en, self.title_zh)


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    # Set while the image belongs to a pending revision; cleared when the revision is applied.
    revision = models.ForeignKey(
        "ProductRevision", null=True, blank=True, on_delete=models.CASCADE, related_name="new_images"
    )
    image = models.ImageField(upload_to="products/%Y/%m/")
    thumbnail = models.ImageField(upload_to="products/thumbs/%Y/%m/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]


class Sku(models.Model):
    """A variant: option values (e.g. size, colour), a price in minor units, and stock."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus")
    code = models.CharField(max_length=64)
    options = models.JSONField(default=dict, blank=True)
    price_amount = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="CNY")
    # stock: free to sell; reserved: held by unpaid orders; sold: paid and not returned.
    # Only conditional UPDATEs in catalog/stock.py change them, so their sum is conserved.
    stock = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    sold = models.IntegerField(default=0)
    # Most units one buyer may hold across unpaid and paid orders; 0 means no limit.
    max_per_user = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "code"], name="uniq_sku_code_per_product"),
            models.CheckConstraint(condition=Q(price_amount__gt=0), name="sku_price_positive"),
            models.CheckConstraint(condition=Q(stock__gte=0), name="sku_stock_nonneg"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="sku_reserved_nonneg"),
            models.CheckConstraint(condition=Q(sold__gte=0), name="sku_sold_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}:{self.code}"

    @property
    def label(self) -> str:
        return " / ".join(str(v) for v in self.options.values()) or self.code


class ProductRevision(models.Model):
    """Proposed content for a listed product, applied only when screening passes."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPLIED = "applied", _("Applied")
        DISCARDED = "discarded", _("Discarded")

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="revisions")
    # {"title_en", "title_zh", "brand", "origin", "description_md", "category_id",
    #  "skus": [{"code", "options", "price_amount", "stock"}], "remove_image_ids": [...]}
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)


class ProductStatusChange(models.Model):
    """Audit row for every product status transition."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    action = models.CharField(max_length=30)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
