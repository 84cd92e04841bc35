"""Staff views. Shops are paused, suspended or reopened here with the list actions (the status
goes through shops.services.shop_status_set, which refreshes the owner's feed cards) and never
deleted (their attribution history goes with them); a name or pitch edited here is cleaned by the
same rules as the owner's (the avatar is the owner's to change, re-encoded without EXIF); items,
counters and commission rates change only through the services, so their rules cannot be bypassed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from grassroots.core.errors import ServiceError
from grassroots.core.forms import ServiceCleanedModelForm
from grassroots.shops.models import CommissionRate, Shop, ShopItem
from grassroots.shops.services import shop_details_clean, shop_status_set


class ShopAdminForm(ServiceCleanedModelForm):
    def clean_with_service(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return shop_details_clean(name=data.get("name") or "", pitch=data.get("pitch") or "")


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "slug", "owner", "status", "item_count", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "slug", "owner__email")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    form = ShopAdminForm
    readonly_fields = ("owner", "slug", "avatar", "status", "item_count", "terms_accepted_at", "created_at")
    actions = ("pause", "suspend", "reopen")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting would take its share links, clicks and customer bindings with it: suspend instead.
        return False

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Shop], status: str) -> None:
        changed = 0
        for shop in queryset.exclude(status=status):
            try:
                shop_status_set(shop=shop, actor=request.user, status=status)
            except ServiceError as exc:
                self.message_user(request, f"{shop}: {exc.message}", messages.ERROR)
                continue
            self.log_change(request, shop, [{"changed": {"fields": ["status"]}}])
            changed += 1
        message = ngettext("%(count)d shop is now %(status)s.", "%(count)d shops are now %(status)s.", changed)
        self.message_user(request, message % {"count": changed, "status": Shop.Status(status).label}, messages.SUCCESS)

    @admin.action(description=_("Pause the selected shops"), permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Shop]) -> None:
        self._set_status(request, queryset, Shop.Status.PAUSED)

    @admin.action(description=_("Suspend the selected shops"), permissions=["change"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Shop]) -> None:
        self._set_status(request, queryset, Shop.Status.SUSPENDED)

    @admin.action(description=_("Reopen the selected shops"), permissions=["change"])
    def reopen(self, request: HttpRequest, queryset: QuerySet[Shop]) -> None:
        self._set_status(request, queryset, Shop.Status.ACTIVE)


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
