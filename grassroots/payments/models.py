from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class PaymentIntent(models.Model):
    """One attempt to collect `amount` for a payable (an order checkout, a group-buy seat, ...).

    The amount always comes from the payable's handler, never from the client.
    """

    class Status(models.TextChoices):
        REQUIRES_PAYMENT = "requires_payment", _("Awaiting payment")
        PROCESSING = "processing", _("Processing")
        SUCCEEDED = "succeeded", _("Paid")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    payable_kind = models.CharField(max_length=30)
    payable_id = models.PositiveBigIntegerField()
    payer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payment_intents")
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REQUIRES_PAYMENT)
    provider = models.CharField(max_length=30)
    provider_ref = models.CharField(max_length=100, blank=True)
    amount_refunded = models.PositiveBigIntegerField(default=0)
    last_error = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One live intent per payable: two tabs or two retries cannot charge an order twice.
            models.UniqueConstraint(
                fields=["payable_kind", "payable_id"],
                condition=~Q(status="cancelled"),
                name="one_live_intent_per_payable",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="intent_amount_positive"),
            models.CheckConstraint(condition=Q(amount_refunded__lte=F("amount")), name="intent_refund_within_amount"),
        ]
        indexes = [models.Index(fields=["payer", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.payable_kind}:{self.payable_id} {self.amount} {self.currency} ({self.status})"

    @property
    def refundable(self) -> int:
        return self.amount - self.amount_refunded if self.status == self.Status.SUCCEEDED else 0


class PaymentAttempt(models.Model):
    """One card presented for an intent. The card number itself is never stored."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    intent = models.ForeignKey(PaymentIntent, on_delete=models.PROTECT, related_name="attempts")
    provider_ref = models.CharField(max_length=100, unique=True)
    card_last4 = models.CharField(max_length=4)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    error_code = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.provider_ref} ****{self.card_last4} {self.outcome}"


class Refund(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    intent = models.ForeignKey(PaymentIntent, on_delete=models.PROTECT, related_name="refunds")
    amount = models.PositiveBigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    provider_ref = models.CharField(max_length=100, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    reason = models.CharField(max_length=255, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self) -> str:
        return f"refund {self.amount} of intent {self.intent_id} ({self.status})"


class WebhookEvent(models.Model):
    """Every verified provider event, once: the UNIQUE event id makes replays harmless."""

    provider = models.CharField(max_length=30)
    event_id = models.CharField(max_length=100)
    type = models.CharField(max_length=60)
    payload = models.JSONField()
    result = models.CharField(max_length=30, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="uniq_webhook_event")]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id} {self.type}"


class PaymentStatusChange(models.Model):
    intent = models.ForeignKey(PaymentIntent, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    action = models.CharField(max_length=30)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -{self.action}-> {self.to_status}"
