"""In-app notifications and each member's choice of which kinds they want."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NotificationKind(models.TextChoices):
    FOLLOW = "follow", _("New followers")
    LIKE = "like", _("Likes on your notes")
    COMMENT = "comment", _("Comments on your notes")
    REPLY = "reply", _("Replies to your comments")
    MENTION = "mention", _("Mentions")
    ORDER_SHIPPED = "order_shipped", _("Orders shipped")
    COMMISSION_AVAILABLE = "commission_available", _("Commission available")
    MESSAGE = "message", _("New messages")
    MODERATION = "moderation", _("Moderation decisions")
    REPORT_OUTCOME = "report_outcome", _("Outcomes of your reports")


class Notification(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # What it is about, as a link and a short text rendered at creation (translatable parts in data).
    target_url = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # Collapses repeats (the same like twice, one settlement run) into one row.
    dedupe_key = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_inbox"),
            models.Index(fields=["recipient"], condition=models.Q(read_at__isnull=True), name="notification_unread"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="uniq_notification_dedupe",
            )
        ]


class NotificationPreference(models.Model):
    """A row only for kinds a member switched off (absence means on)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="uniq_notification_preference")]
