"""Read-only: payments change only through the provider and the services, never by hand."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from grassroots.payments.models import PaymentAttempt, PaymentIntent, PaymentStatusChange, Refund, WebhookEvent


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


class AttemptInline(ReadOnlyInline):
    model = PaymentAttempt
    fields = readonly_fields = ("provider_ref", "card_last4", "outcome", "error_code", "created_at")


class StatusChangeInline(ReadOnlyInline):
    model = PaymentStatusChange
    fields = readonly_fields = ("from_status", "to_status", "action", "actor", "note", "created_at")


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = readonly_fields = ("amount", "status", "provider_ref", "reason", "created_at")


@admin.register(PaymentIntent)
class PaymentIntentAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "payable_kind",
        "payable_id",
        "payer",
        "amount",
        "currency",
        "status",
        "amount_refunded",
        "created_at",
    ]
    list_filter = ["status", "provider", "payable_kind", "currency"]
    search_fields = ["=id", "=payable_id", "provider_ref", "payer__email"]
    list_select_related = ["payer"]
    inlines = [AttemptInline, RefundInline, StatusChangeInline]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["id", "intent", "amount", "status", "provider_ref", "created_at"]
    list_filter = ["status"]
    search_fields = ["=intent__id", "idempotency_key", "provider_ref"]
    list_select_related = ["intent"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "provider", "type", "result", "received_at", "processed_at"]
    list_filter = ["provider", "type", "result"]
    search_fields = ["event_id"]
