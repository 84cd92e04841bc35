from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from grassroots.commissions.models import CommissionLine, CommissionSettlement, Withdrawal, WithdrawalStatusChange


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money rows change only through services (with their ledger entries), never by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CommissionLine)
class CommissionLineAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "order",
        "shopkeeper",
        "override_beneficiary",
        "rule",
        "rate_bps",
        "paid_amount",
        "commission_amount",
        "override_amount",
        "status",
        "created_at",
    )
    list_filter = ("status", "rule")
    search_fields = ("=id", "=order__id", "shopkeeper__email")
    raw_id_fields = ("order_line", "order", "shop", "shopkeeper", "override_beneficiary", "click", "settlement")


@admin.register(CommissionSettlement)
class CommissionSettlementAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "line_count", "amount_total")


class WithdrawalStatusChangeInline(admin.TabularInline):
    model = WithdrawalStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ("from_status", "to_status", "action", "actor", "note", "created_at")


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdmin):
    list_display = ("id", "shopkeeper", "amount", "currency", "status", "created_at", "paid_at")
    list_filter = ("status",)
    search_fields = ("=id", "shopkeeper__email", "payout_ref")
    raw_id_fields = ("shopkeeper", "decided_by")
    inlines = (WithdrawalStatusChangeInline,)
