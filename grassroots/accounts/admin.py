from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from grassroots.accounts.models import ApiToken, AuditLog, User
from grassroots.accounts.services import api_token_revoke


class _LowercaseEmail:
    cleaned_data: dict[str, Any]

    def clean_email(self) -> str:
        # Sign-in is by lower-cased email; a mixed-case row could never sign in and would dodge uniqueness.
        return User.objects.normalize_email(self.cleaned_data["email"]).lower()


class UserCreationAdminForm(_LowercaseEmail, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "display_name")


class UserChangeAdminForm(_LowercaseEmail, UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profile"), {"fields": ("display_name", "bio", "avatar", "preferred_language")}),
        (_("Invites"), {"fields": ("invite_code", "invite_code_used", "invited_by")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "display_name", "usable_password", "password1", "password2"),
            },
        ),
    )
    list_display = ("email", "display_name", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email", "display_name", "invite_code")
    ordering = ("-date_joined",)
    readonly_fields = ("invite_code", "last_login", "date_joined")
    raw_id_fields = ("invited_by",)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if not obj.invite_code:
            obj.invite_code = User.objects.unused_invite_code()
        super().save_model(request, obj, form, change)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("prefix", "name", "user__email")
    list_select_related = ("user",)
    readonly_fields = ("user", "name", "prefix", "token_hash", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False

    @admin.action(description=_("Revoke the selected tokens"), permissions=["view"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        active = list(queryset.filter(revoked_at__isnull=True).select_related("user"))
        for token in active:
            api_token_revoke(user=token.user, token_id=token.pk)
        self.message_user(request, _("%(count)d tokens revoked.") % {"count": len(active)}, messages.SUCCESS)


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "user", "ip_address")
    list_filter = ("action",)
    search_fields = ("user__email", "ip_address")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    readonly_fields = ("created_at", "action", "user", "ip_address", "detail")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False
