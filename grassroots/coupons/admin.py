"""Staff views, read-only: coupons change only through the services (create, deactivate, and the
conditional UPDATEs of redeem and release), so the limits and counts stay exact."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from grassroots.coupons.models import Coupon, CouponRedemption


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Coupon)
class CouponAdmin(ReadOnlyAdmin):
    list_display = [
        "code",
        "scope",
        "merchant",
        "kind",
        "amount",
        "percent_bps",
        "used_count",
        "total_limit",
        "is_active",
    ]
    list_filter = ["scope", "kind", "is_active"]
    search_fields = ["code"]
    list_select_related = ["merchant"]


@admin.register(CouponRedemption)
class CouponRedemptionAdmin(ReadOnlyAdmin):
    list_display = ["coupon", "user", "checkout", "amount", "status", "created_at", "released_at"]
    list_filter = ["status"]
    search_fields = ["coupon__code"]
    list_select_related = ["coupon", "user"]
    raw_id_fields = ["coupon", "user", "checkout"]
