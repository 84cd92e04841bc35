"""Staff views. Orders and checkouts are read-only here: they change only through the services,
so stock, ledger and audit rows stay in step. Shipping rules may be edited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from grassroots.orders.models import (
    Address,
    Checkout,
    Order,
    OrderLine,
    OrderStatusChange,
    ReturnLine,
    ReturnRequest,
    ReturnStatusChange,
    ShippingRule,
    UnappliedPayment,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LineInline(ReadOnlyInline):
    model = OrderLine
    fields = readonly_fields = (
        "sku",
        "product_title",
        "sku_label",
        "unit_price",
        "quantity",
        "discount_amount",
        "paid_amount",
        "platform_fee",
        "refunded_amount",
        "refunded_quantity",
    )


class StatusChangeInline(ReadOnlyInline):
    model = OrderStatusChange
    fields = readonly_fields = ("from_status", "to_status", "action", "actor", "note", "created_at")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("id", "checkout", "merchant", "buyer", "status", "total", "currency", "placed_at")
    list_filter = ("status",)
    search_fields = ("=id", "=checkout__id", "tracking_number", "buyer__email")
    list_select_related = ("merchant", "buyer", "checkout")
    inlines = [LineInline, StatusChangeInline]


@admin.register(Checkout)
class CheckoutAdmin(ReadOnlyAdmin):
    list_display = ("id", "buyer", "status", "total", "currency", "created_at", "expires_at", "paid_at")
    list_filter = ("status",)
    search_fields = ("=id", "buyer__email")
    list_select_related = ("buyer",)


@admin.register(UnappliedPayment)
class UnappliedPaymentAdmin(ReadOnlyAdmin):
    list_display = ("intent_id", "checkout", "amount", "currency", "checkout_status", "refunded_at", "refund_error")


@admin.register(ShippingRule)
class ShippingRuleAdmin(admin.ModelAdmin):
    list_display = ("merchant", "currency", "flat_fee", "free_over")
    list_select_related = ("merchant",)
    raw_id_fields = ("merchant",)


@admin.register(Address)
class AddressAdmin(ReadOnlyAdmin):
    list_display = ("id", "owner", "name", "city", "is_default")
    list_select_related = ("owner",)


class ReturnLineInline(admin.TabularInline):
    model = ReturnLine
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReturnStatusChangeInline(ReturnLineInline):
    model = ReturnStatusChange  # type: ignore[assignment]


@admin.register(ReturnRequest)
class ReturnRequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "order", "kind", "status", "created_at")
    list_filter = ("status", "kind")
    inlines = [ReturnLineInline, ReturnStatusChangeInline]
