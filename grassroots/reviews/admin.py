"""Staff views, read-only: reviews change only through the services (curators hide them from the
product's review page), so the verified-purchase and one-per-line rules cannot be bypassed here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from grassroots.reviews.models import Review


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("id", "product", "buyer", "rating", "status", "created_at")
    list_filter = ("status", "rating")
    search_fields = ("text", "buyer__email", "product__title_en")
    list_select_related = ("product", "buyer")
    raw_id_fields = ("order_line", "product", "buyer", "hidden_by")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
