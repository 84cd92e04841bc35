"""Staff views, read-only: reports and decisions change only through the services, so every decision
is carried out by the content's own app and recorded."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from grassroots.moderation.models import ModerationAction, Report


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ("id", "target_kind", "target_id", "reason", "status", "reporter", "created_at")
    list_filter = ("status", "target_kind", "reason")
    list_select_related = ("reporter",)
    raw_id_fields = ("reporter", "target_owner", "handled_by")


@admin.register(ModerationAction)
class ModerationActionAdmin(ReadOnlyAdmin):
    list_display = ("id", "target_kind", "target_id", "action", "moderator", "reports_closed", "created_at")
    list_filter = ("action", "target_kind")
    list_select_related = ("moderator",)
    raw_id_fields = ("moderator",)
