from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from grassroots.core.storage import get_private_storage


class ScreeningStage(models.Model):
    """Stages are data: operators add, reorder or retire them without a deploy."""

    code = models.SlugField(max_length=40, unique=True)
    name_en = models.CharField(max_length=80)
    name_zh = models.CharField(max_length=80, blank=True)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        if (get_language() or "en").lower().startswith("zh"):
            return self.name_zh or self.name_en
        return self.name_en


class Submission(models.Model):
    """One pass of a product (or a revision of it) through every active stage, in order."""

    class State(models.TextChoices):
        IN_REVIEW = "in_review", _("In review")
        CHANGES_REQUESTED = "changes_requested", _("Changes requested")
        REJECTED = "rejected", _("Rejected")
        APPROVED = "approved", _("Approved")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Reason(models.TextChoices):
        NEW = "new", _("New product")
        REVISION = "revision", _("Material edit")
        REPORT = "report", _("Reopened by a report")
        QUALITY = "quality", _("Reopened by quality signals")
        REINSTATE = "reinstate", _("Reinstatement after suspension")

    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="submissions")
    revision = models.ForeignKey("catalog.ProductRevision", null=True, blank=True, on_delete=models.SET_NULL)
    reason = models.CharField(max_length=12, choices=Reason.choices, default=Reason.NEW)
    state = models.CharField(max_length=20, choices=State.choices, default=State.IN_REVIEW, db_index=True)
    current_stage = models.ForeignKey(ScreeningStage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Stage codes in order, frozen when the submission opens, so reordering stages never skips one.
    stage_plan = models.JSONField(default=list)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "current_stage", "created_at"], name="submission_queue")]
        constraints = [
            models.UniqueConstraint(
                fields=["product"], condition=models.Q(state="in_review"), name="one_open_submission_per_product"
            )
        ]


class StageDecision(models.Model):
    class Decision(models.TextChoices):
        PASS = "pass", _("Pass")
        REQUEST_CHANGES = "request_changes", _("Request changes")
        REJECT = "reject", _("Reject")

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="decisions")
    stage = models.ForeignKey(ScreeningStage, on_delete=models.PROTECT, related_name="decisions")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["submission", "stage"], name="one_decision_per_stage")]


class Evidence(models.Model):
    """A file backing a stage decision or a report."""

    decision = models.ForeignKey(
        StageDecision, null=True, blank=True, on_delete=models.CASCADE, related_name="evidence"
    )
    report = models.ForeignKey(
        "ProductReport", null=True, blank=True, on_delete=models.CASCADE, related_name="evidence"
    )
    file = models.FileField(upload_to="evidence/%Y/%m/", storage=get_private_storage)
    file_kind = models.CharField(max_length=10)  # "pdf" or "image", from the content
    original_name = models.CharField(max_length=120, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(decision__isnull=False, report__isnull=True)
                | models.Q(decision__isnull=True, report__isnull=False),
                name="evidence_has_one_owner",
            )
        ]

    @property
    def display_name(self) -> str:
        return self.original_name or (self.file.name or "").rsplit("/", 1)[-1]


class ProductReport(models.Model):
    class Kind(models.TextChoices):
        COUNTERFEIT = "counterfeit", _("Counterfeit")
        QUALITY = "quality", _("Poor quality")
        OTHER = "other", _("Other")

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        DISMISSED = "dismissed", _("Dismissed")
        ACTIONED = "actioned", _("Actioned")

    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="reports")
    # The re-review the report opened or joined.
    submission = models.ForeignKey(Submission, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.OPEN, db_index=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["state", "created_at"], name="report_queue")]
