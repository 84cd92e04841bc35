"""Staff views. Shops may be paused or suspended here (the status field); items, counters and
commission rates change only through the services, so their rules cannot be bypassed."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from grassroots.shops.models import CommissionRate, Shop, ShopItem


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "slug", "owner", "status", "item_count", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "slug", "owner__email")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    readonly_fields = ("owner", "slug", "item_count", "terms_accepted_at", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ShopItem)
class ShopItemAdmin(_ReadOnly):
    list_display = ("id", "shop", "product", "position", "added_at")
    list_select_related = ("shop", "product")
    raw_id_fields = ("shop", "product")


@admin.register(CommissionRate)
class CommissionRateAdmin(_ReadOnly):
    list_display = ("id", "product", "rate_bps", "effective_from", "cancelled_at", "created_by", "created_at")
    list_select_related = ("product", "created_by")
    raw_id_fields = ("product", "created_by")
