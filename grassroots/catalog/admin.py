"""Staff views of the catalog. Status, stock counters and screening fields are read-only here:
they move only through the workflow (with an audit row) and catalog.stock."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from grassroots.catalog.models import Category, Product, ProductImage, ProductRevision, ProductStatusChange, Sku
from grassroots.catalog.workflow import product_refresh_denormalised


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("slug", "name_en", "name_zh", "parent", "position")
    list_select_related = ("parent",)
    list_editable = ("position",)
    search_fields = ("slug", "name_en", "name_zh")
    prepopulated_fields = {"slug": ("name_en",)}
    raw_id_fields = ("parent",)


class SkuInline(admin.TabularInline):
    model = Sku
    extra = 0
    fields = (
        "code",
        "options",
        "price_amount",
        "currency",
        "stock",
        "reserved",
        "sold",
        "max_per_user",
        "is_active",
        "position",
    )
    readonly_fields = ("stock", "reserved", "sold")


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    extra = 0
    fields = ("image", "thumbnail", "width", "height", "position", "is_active", "revision")
    readonly_fields = ("width", "height", "revision")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("id", "title_en", "merchant", "category", "status", "is_listed", "min_price", "updated_at")
    list_filter = ("status", "is_listed", "category")
    list_select_related = ("merchant", "category")
    search_fields = ("title_en", "title_zh", "brand", "slug")
    raw_id_fields = ("merchant", "category")
    readonly_fields = (
        "status",
        "is_listed",
        "listed_at",
        "passed_stages",
        "min_price",
        "search_text",
        "description_html",
        "created_at",
        "updated_at",
    )
    inlines = [SkuInline, ProductImageInline]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Prices or titles edited here must reach the list pages and search too.
        product_refresh_denormalised(product=form.instance)


@admin.register(ProductRevision)
class ProductRevisionAdmin(admin.ModelAdmin):
    list_display = ("id", "product", "state", "created_by", "created_at")
    list_filter = ("state",)
    list_select_related = ("product", "created_by")
    search_fields = ("product__title_en", "product__title_zh")
    readonly_fields = ("product", "payload", "state", "created_by", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ProductStatusChange)
class ProductStatusChangeAdmin(admin.ModelAdmin):
    """The audit trail: read-only."""

    list_display = ("product", "from_status", "to_status", "action", "actor", "created_at")
    list_filter = ("action", "to_status")
    list_select_related = ("product", "actor")
    search_fields = ("product__title_en", "note")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ProductStatusChange | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ProductStatusChange | None = None) -> bool:
        return False
