"""Reads over payments, scoped to who may see them."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from grassroots.core.errors import NotFound
from grassroots.payments.models import PaymentAttempt, PaymentIntent, Refund


def payment_intent_for(*, kind: str, payable_id: int) -> PaymentIntent | None:
    """The live (not cancelled) intent of a payable; there is at most one."""
    return (
        PaymentIntent.objects.filter(payable_kind=kind, payable_id=payable_id)
        .exclude(status=PaymentIntent.Status.CANCELLED)
        .first()
    )


def payment_intent_get(*, user: Any, intent_id: int) -> PaymentIntent:
    """Someone else's intent is a 404, never a 403: ids are not an oracle."""
    intent = PaymentIntent.objects.filter(pk=intent_id, payer_id=getattr(user, "pk", None)).first()
    if intent is None:
        raise NotFound(_("Payment not found."))
    return intent


def payment_attempts(*, intent: PaymentIntent) -> QuerySet[PaymentAttempt]:
    return intent.attempts.order_by("-created_at", "-id")


def payment_refunds(*, intent: PaymentIntent) -> QuerySet[Refund]:
    return intent.refunds.order_by("created_at", "id")
