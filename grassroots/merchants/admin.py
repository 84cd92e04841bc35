"""Staff see merchants here; status changes go through the review pages so every one is audited.
Edits are cleaned by merchants.services as an application's are, the slug never changes (shared
brand links keep working), and saved edits reach the brand's feed cards at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from grassroots.core.forms import ServiceCleanedModelForm
from grassroots.merchants.models import Merchant, MerchantDocument, MerchantMember, MerchantStatusChange
from grassroots.merchants.services import merchant_details_changed, merchant_details_clean

DETAIL_FIELDS = ("name", "description", "brand_names", "contact_email")


class MerchantAdminForm(ServiceCleanedModelForm):
    def clean_with_service(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return merchant_details_clean(**{field: data.get(field) or "" for field in DETAIL_FIELDS})


class MerchantMemberInline(admin.TabularInline):
    model = MerchantMember
    extra = 0
    raw_id_fields = ["user"]


class MerchantDocumentInline(admin.TabularInline):
    model = MerchantDocument
    extra = 0
    fields = ("kind", "file_kind", "content_type", "original_name", "is_current", "uploaded_by", "created_at", "link")
    readonly_fields = fields
    can_delete = False

    @admin.display(description=_("file"))
    def link(self, obj: MerchantDocument) -> str:
        # The private file is served by the access-checked view, never by a storage URL.
        return format_html('<a href="{}">{}</a>', reverse("merchants:document", args=[obj.pk]), _("open"))

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class MerchantStatusChangeInline(admin.TabularInline):
    model = MerchantStatusChange
    extra = 0
    fields = ("created_at", "action", "from_status", "to_status", "actor", "reason")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "status", "contact_email", "created_at", "verified_at"]
    list_filter = ["status"]
    search_fields = ["name", "slug", "brand_names", "contact_email"]
    form = MerchantAdminForm
    readonly_fields = ["slug", "status", "status_reason", "verified_at", "created_at", "applicant", "review_link"]
    inlines = [MerchantMemberInline, MerchantDocumentInline, MerchantStatusChangeInline]

    # Merchants come from applications and leave by suspension: both keep the audit trail.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Merchant, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:
            merchant_details_changed(merchant=obj, fields=form.changed_data)

    @admin.display(description=_("review"))
    def review_link(self, obj: Merchant) -> str:
        if not obj.pk:
            return ""
        return format_html(
            '<a href="{}">{}</a>', reverse("merchants:review_detail", args=[obj.pk]), _("Open the review page")
        )


@admin.register(MerchantStatusChange)
class MerchantStatusChangeAdmin(admin.ModelAdmin):
    list_display = ["merchant", "action", "from_status", "to_status", "actor", "created_at"]
    list_filter = ["action", "to_status"]
    list_select_related = ["merchant", "actor"]
    readonly_fields = ["merchant", "action", "from_status", "to_status", "actor", "reason", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
