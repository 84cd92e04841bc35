"""Direct messages: one conversation per pair, between two members or between a member and a brand.

A conversation has two sides. Side A is always a single member. Side B is either another member
(a user pair, stored with the lower id on side A so the pair is unique whichever side starts) or a
merchant, whose members all see the conversation and answer as the brand. Each side keeps its own
read marker and unread counter, so inbox badges are read from one row, never counted.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MESSAGE_MAX_LENGTH = 1000


class Side(models.TextChoices):
    A = "a", "A"
    B = "b", "B"


class Conversation(models.Model):
    user_a = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    user_b = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    merchant = models.ForeignKey(
        "merchants.Merchant", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The product the conversation was started about (shown as a card at the top of the thread).
    product = models.ForeignKey("catalog.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_message = models.ForeignKey(
        "messaging.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_message_at = models.DateTimeField(null=True, blank=True)
    a_last_read_at = models.DateTimeField(null=True, blank=True)
    b_last_read_at = models.DateTimeField(null=True, blank=True)
    # Messages from the other side since this side last read the thread.
    a_unread = models.PositiveIntegerField(default=0)
    b_unread = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(user_b__isnull=False, merchant__isnull=True, user_a__lt=F("user_b")))
                | Q(user_b__isnull=True, merchant__isnull=False),
                name="conversation_one_kind_ordered",
            ),
            models.UniqueConstraint(
                fields=["user_a", "user_b"], condition=Q(merchant__isnull=True), name="uniq_conversation_users"
            ),
            models.UniqueConstraint(
                fields=["user_a", "merchant"], condition=Q(merchant__isnull=False), name="uniq_conversation_merchant"
            ),
        ]
        indexes = [
            models.Index(fields=["user_a", "-last_message_at"], name="conversation_a_recent"),
            models.Index(fields=["user_b", "-last_message_at"], name="conversation_b_recent"),
            models.Index(fields=["merchant", "-last_message_at"], name="conversation_m_recent"),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.pk}"

    @property
    def is_brand(self) -> bool:
        return self.merchant_id is not None


class Message(models.Model):
    class Status(models.TextChoices):
        VISIBLE = "visible", _("Visible")
        HIDDEN = "hidden", _("Hidden")
        REMOVED = "removed", _("Removed")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sender_side = models.CharField(max_length=1, choices=Side.choices)
    body = models.TextField(max_length=MESSAGE_MAX_LENGTH)  # plain text; escaped when shown
    product = models.ForeignKey("catalog.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.VISIBLE)
    moderation_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["conversation", "-created_at", "-id"], name="message_thread")]

    def __str__(self) -> str:
        return f"Message {self.pk}"
