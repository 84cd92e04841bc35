"""Staff views, read-only: links, clicks and bindings are evidence for commissions and fraud
review, so they change only through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from grassroots.attribution.models import Click, CustomerBinding, ShareLink


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ShareLink)
class ShareLinkAdmin(ReadOnlyAdmin):
    list_display = ("code", "kind", "shop", "product", "click_count", "created_at")
    list_filter = ("kind",)
    search_fields = ("code", "shop__slug", "shop__name")
    list_select_related = ("shop", "product")
    raw_id_fields = ("shop", "product")


@admin.register(Click)
class ClickAdmin(ReadOnlyAdmin):
    list_display = ("id", "link", "shop", "user", "is_bot", "is_duplicate", "created_at")
    list_filter = ("is_bot", "is_duplicate")
    search_fields = ("link__code", "visitor_key", "ip_hash", "user__email")
    list_select_related = ("link", "shop", "user")
    raw_id_fields = ("link", "shop", "product", "user")


@admin.register(CustomerBinding)
class CustomerBindingAdmin(ReadOnlyAdmin):
    list_display = ("customer", "shop", "bound_at", "bound_until")
    search_fields = ("customer__email", "shop__slug")
    list_select_related = ("customer", "shop")
    raw_id_fields = ("customer", "shop", "click")
