"""Member reports about notes, comments, messages and people, and the curators' decisions on them.

A target is (kind, id) rather than four foreign keys: the queue groups open reports by target with
one indexed query, and the content itself stays owned (and changed) by its own app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

DETAILS_MAX_LENGTH = 1000
REASON_MAX_LENGTH = 1000


class TargetKind(models.TextChoices):
    NOTE = "note", _("Note")
    COMMENT = "comment", _("Comment")
    MESSAGE = "message", _("Message")
    USER = "user", _("Person")


class Report(models.Model):
    class Reason(models.TextChoices):
        SPAM = "spam", _("Spam")
        COUNTERFEIT = "counterfeit", _("Promotes counterfeit goods")
        HARASSMENT = "harassment", _("Harassment")
        UNDISCLOSED_AD = "undisclosed_ad", _("Undisclosed advertising")
        INAPPROPRIATE = "inappropriate", _("Inappropriate content")
        OTHER = "other", _("Something else")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACTIONED = "actioned", _("Actioned")
        DISMISSED = "dismissed", _("Dismissed")

    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    target_kind = models.CharField(max_length=10, choices=TargetKind.choices)
    target_id = models.PositiveBigIntegerField()
    # Whose content it is (the reported person for kind "user"), recorded when the report is made.
    target_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    details = models.TextField(max_length=DETAILS_MAX_LENGTH, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)

    class Meta:
        constraints = [
            # One open report per reporter and target; a repeat returns the open one.
            models.UniqueConstraint(
                fields=["reporter", "target_kind", "target_id"],
                condition=Q(status="open"),
                name="uniq_open_report",
            ),
            models.CheckConstraint(
                condition=Q(status="open", handled_at__isnull=True) | (~Q(status="open") & Q(handled_at__isnull=False)),
                name="report_handled_when_closed",
            ),
        ]
        indexes = [
            # The queue: open reports grouped by target, oldest waiting first.
            models.Index(
                fields=["target_kind", "target_id", "id"], condition=Q(status="open"), name="report_open_target"
            ),
            # A target's history, and "my reports".
            models.Index(fields=["target_kind", "target_id", "-created_at"], name="report_target_history"),
            models.Index(fields=["reporter", "-id"], name="report_by_reporter"),
        ]

    def __str__(self) -> str:
        return f"{self.target_kind}:{self.target_id} ({self.reason})"


class ModerationAction(models.Model):
    """One row per curator decision: the audit trail of what was done to a target and why."""

    class Action(models.TextChoices):
        HIDE = "hide", _("Hide")
        REMOVE = "remove", _("Remove")
        RESTORE = "restore", _("Restore")
        SUSPEND = "suspend", _("Suspend")
        DISMISS = "dismiss", _("Dismiss reports")

    moderator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    target_kind = models.CharField(max_length=10, choices=TargetKind.choices)
    target_id = models.PositiveBigIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    reason = models.TextField(max_length=REASON_MAX_LENGTH, blank=True)
    reports_closed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["target_kind", "target_id", "-created_at"], name="modaction_target_history")]

    def __str__(self) -> str:
        return f"{self.action} {self.target_kind}:{self.target_id}"
