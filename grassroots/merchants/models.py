from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from grassroots.core.storage import get_private_storage


class Merchant(models.Model):
    """A brand or supplier. Sells only once a curator has verified its documents."""

    class Status(models.TextChoices):
        APPLIED = "applied", _("Applied")
        VERIFIED = "verified", _("Verified")
        REJECTED = "rejected", _("Rejected")
        SUSPENDED = "suspended", _("Suspended")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(_("description"), blank=True)
    brand_names = models.CharField(_("brands"), max_length=255, blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.APPLIED, db_index=True)
    status_reason = models.TextField(blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="MerchantMember", related_name="merchants")
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One pending application per applicant, held by the database so two racing requests cannot both pass.
            models.UniqueConstraint(
                fields=["applicant"], condition=Q(status="applied"), name="merchant_one_pending_per_applicant"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MerchantMember(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        STAFF = "staff", _("Staff")

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="merchant_memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STAFF)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "user"], name="uniq_merchant_member")]


class MerchantDocument(models.Model):
    class Kind(models.TextChoices):
        BUSINESS_LICENCE = "business_licence", _("Business licence")
        BRAND_AUTHORISATION = "brand_authorisation", _("Brand authorisation")

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    file = models.FileField(upload_to="merchant-docs/%Y/%m/", storage=get_private_storage)
    file_kind = models.CharField(max_length=10)  # "pdf" or "image", from the content
    content_type = models.CharField(max_length=40, default="application/octet-stream")
    original_name = models.CharField(max_length=120, blank=True)
    # A resubmission supersedes the earlier documents; they stay for the audit trail.
    is_current = models.BooleanField(default=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_current", "kind", "-id"]


class MerchantStatusChange(models.Model):
    """Audit row written by every verification transition."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    action = models.CharField(max_length=20)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    ACTION_LABELS = {
        "apply": _("Applied"),
        "verify": _("Verified"),
        "reject": _("Rejected"),
        "resubmit": _("Resubmitted"),
        "suspend": _("Suspended"),
        "reinstate": _("Reinstated"),
    }

    class Meta:
        ordering = ["created_at", "id"]

    @property
    def action_label(self) -> str:
        return str(self.ACTION_LABELS.get(self.action, self.action))

    @property
    def from_status_label(self) -> str:
        return _status_label(self.from_status)

    @property
    def to_status_label(self) -> str:
        return _status_label(self.to_status)


def _status_label(value: str) -> str:
    return str(Merchant.Status(value).label) if value in Merchant.Status.values else value
