"""Writes: intents, confirmation, provider webhooks, refunds.

Money moves in the ledger only when the provider says so (a verified webhook), in the same
transaction as the state change and the payable's callback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.core.errors import Conflict, NotFound, ServiceError, ValidationFailed
from grassroots.core.money import CURRENCY_EXPONENT
from grassroots.core.state_machine import build_machine
from grassroots.ledger.services import PostingSpec, journal_entry_post
from grassroots.payments.gateways import (
    EVENT_FAILED,
    EVENT_SUCCEEDED,
    GatewayError,
    default_gateway_name,
    get_gateway,
)
from grassroots.payments.models import PaymentAttempt, PaymentIntent, PaymentStatusChange, Refund, WebhookEvent
from grassroots.payments.registry import PayableInfo, get_payable
from grassroots.payments.selectors import payment_intent_for, payment_intent_get

__all__ = [
    "INTENT_MACHINE",
    "payment_intent_cancel",
    "payment_intent_confirm",
    "payment_intent_create",
    "payment_intent_for",
    "payment_intents_close_unpaid",
    "payment_refund",
    "webhook_receive",
]

logger = logging.getLogger(__name__)

S = PaymentIntent.Status
LIVE_UNPAID = (S.REQUIRES_PAYMENT, S.FAILED)

INTENT_MACHINE = build_machine(
    "payment",
    initial=S.REQUIRES_PAYMENT,
    edges=[
        (S.REQUIRES_PAYMENT, "confirm", S.PROCESSING),
        (S.PROCESSING, "succeed", S.SUCCEEDED),
        (S.PROCESSING, "fail", S.FAILED),
        # A failed attempt (declined, processing error) may be retried with another card.
        (S.FAILED, "confirm", S.PROCESSING),
        (S.REQUIRES_PAYMENT, "cancel", S.CANCELLED),
        (S.FAILED, "cancel", S.CANCELLED),
    ],
    terminal=[S.SUCCEEDED, S.CANCELLED],
)

CAPTURE_ACCOUNT_DEBIT = "gateway:cash"
CAPTURE_ACCOUNT_CREDIT = "buyer:clearing"


def _transition(
    *, intent: PaymentIntent, action: str, actor_id: int | None = None, note: str = "", **fields: Any
) -> PaymentIntent:
    """Conditional UPDATE from the state we read, then the audit row. Call inside a transaction."""
    current = intent.status
    target = INTENT_MACHINE.next_state(current, action)
    changed = PaymentIntent.objects.filter(pk=intent.pk, status=current).update(
        status=target, updated_at=timezone.now(), **fields
    )
    if changed != 1:
        # Someone moved it first: judge the action against the state they left.
        INTENT_MACHINE.next_state(PaymentIntent.objects.get(pk=intent.pk).status, action)
        raise Conflict(_("The payment changed while you were acting on it. Try again."), code="concurrent_update")
    PaymentStatusChange.objects.create(
        intent=intent, from_status=current, to_status=target, action=action, actor_id=actor_id, note=note[:255]
    )
    intent.status = target
    for name, value in fields.items():
        setattr(intent, name, value)
    return intent


def _check_payable(info: PayableInfo) -> None:
    if not info.payable:
        raise Conflict(info.reason or _("This cannot be paid now."), code="not_payable")
    if info.amount <= 0 or info.currency not in CURRENCY_EXPONENT:
        raise Conflict(_("There is nothing to pay."), code="not_payable")


def payment_intent_create(*, payer: Any, kind: str, payable_id: int) -> tuple[PaymentIntent, bool]:
    """The live intent for a payable, created if there is none. Returns (intent, created).

    Only the payable's owner may pay it; for anyone else the payable does not exist. The amount
    comes from the payable's handler; an intent whose amount went stale is cancelled and replaced.
    """
    handler = get_payable(kind)
    info = handler.describe(payable_id)
    if info.owner_id != payer.pk:
        raise NotFound(_("Nothing to pay was found."))
    existing = payment_intent_for(kind=kind, payable_id=payable_id)
    if existing is not None and existing.status in (S.PROCESSING, S.SUCCEEDED):
        return existing, False
    _check_payable(info)
    if existing is not None:
        if (existing.amount, existing.currency, existing.payer_id) == (info.amount, info.currency, payer.pk):
            return existing, False
        with transaction.atomic():
            _transition(intent=existing, action="cancel", actor_id=payer.pk, note="amount changed")
    provider = default_gateway_name()
    gateway = get_gateway(provider)
    try:
        with transaction.atomic():
            intent = PaymentIntent.objects.create(
                payable_kind=kind,
                payable_id=payable_id,
                payer=payer,
                amount=info.amount,
                currency=info.currency,
                provider=provider,
            )
            intent.provider_ref = gateway.create_intent(intent)[:100]
            intent.save(update_fields=["provider_ref"])
            PaymentStatusChange.objects.create(
                intent=intent, from_status="", to_status=intent.status, action="create", actor_id=payer.pk
            )
    except IntegrityError:
        # Another request created the live intent between our read and our insert.
        raced = payment_intent_for(kind=kind, payable_id=payable_id)
        if raced is None or raced.payer_id != payer.pk:
            raise
        return raced, False
    return intent, True


def payment_intent_confirm(*, payer: Any, intent_id: int, card_number: str) -> PaymentIntent:
    """Hand the card to the provider; the intent is `processing` until its webhook arrives."""
    intent = payment_intent_get(user=payer, intent_id=intent_id)
    INTENT_MACHINE.next_state(intent.status, "confirm")
    info = get_payable(intent.payable_kind).describe(intent.payable_id)
    _check_payable(info)
    if (info.amount, info.currency) != (intent.amount, intent.currency):
        raise Conflict(_("The amount to pay has changed. Start the payment again."), code="amount_changed")
    gateway = get_gateway(intent.provider)
    with transaction.atomic():
        _transition(intent=intent, action="confirm", actor_id=payer.pk, last_error="")
        outcome = gateway.confirm(intent, card_number)
        PaymentAttempt.objects.create(intent=intent, provider_ref=outcome.provider_ref, card_last4=outcome.card_last4)
    intent.refresh_from_db()
    return intent


def payment_intent_cancel(*, intent_id: int, actor_id: int | None = None, note: str = "") -> PaymentIntent:
    """For payables that go away before they are paid (e.g. a cancelled order)."""
    intent = PaymentIntent.objects.filter(pk=intent_id).first()
    if intent is None:
        raise NotFound(_("Payment not found."))
    with transaction.atomic():
        return _transition(intent=intent, action="cancel", actor_id=actor_id, note=note)


def payment_intents_close_unpaid(*, kind: str, payable_id: int, actor_id: int | None = None, note: str = "") -> int:
    """The payable went away unpaid (a cancelled or expired checkout): cancel its intents that are
    waiting for a card or whose last card was declined (requires_payment | failed -> cancelled).
    Returns how many. Call inside the transaction that closes the payable.

    An intent already `processing` is left as it is: its provider's answer is still to come, and a
    capture for a payable that is gone is the payable's to refund (`on_captured`). One that moved
    meanwhile (a card handed over concurrently) is skipped the same way."""
    closed = 0
    for intent in PaymentIntent.objects.filter(payable_kind=kind, payable_id=payable_id, status__in=LIVE_UNPAID):
        try:
            _transition(intent=intent, action="cancel", actor_id=actor_id, note=note)
        except ServiceError:  # it moved first (Conflict / InvalidTransition): nothing was written
            continue
        closed += 1
    return closed


def webhook_receive(*, provider: str, headers: Mapping[str, str], body: bytes) -> tuple[WebhookEvent, bool]:
    """Verify, record once, apply. Returns (event, replayed). Everything happens in one
    transaction: if applying fails (409 `unknown_attempt` for an attempt not stored yet), the event
    is not recorded and the provider's retry applies it."""
    gateway = get_gateway(provider)
    event = gateway.verify_webhook(headers, body)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = WebhookEvent.objects.create(
                    provider=provider, event_id=event.event_id, type=event.type, payload=event.payload
                )
        except IntegrityError:
            return WebhookEvent.objects.get(provider=provider, event_id=event.event_id), True
        record.result = _apply_event(provider=provider, event_type=event.type, event=event)
        record.processed_at = timezone.now()
        record.save(update_fields=["result", "processed_at"])
    return record, False


def _apply_event(*, provider: str, event_type: str, event: Any) -> str:
    if event_type not in (EVENT_SUCCEEDED, EVENT_FAILED):
        return "ignored"
    attempt = (
        PaymentAttempt.objects.select_related("intent")
        .filter(provider_ref=event.provider_ref, intent__provider=provider)
        .first()
    )
    if attempt is None:
        # Possibly early: a provider may deliver before the transaction that stored the attempt has
        # committed. The event is not recorded (this rolls back) and the 409 makes the provider
        # deliver it again later, when it applies.
        logger.warning("payments: %s event %s names unknown attempt %r", provider, event.event_id, event.provider_ref)
        raise Conflict(
            _("This event names a payment attempt not known yet; deliver it again later."), code="unknown_attempt"
        )
    intent = attempt.intent
    handler = get_payable(intent.payable_kind)
    if event_type == EVENT_SUCCEEDED:
        if (event.amount, event.currency) != (intent.amount, intent.currency):
            # Money moved that we did not ask for: leave it to people, never book it blindly.
            logger.error(
                "payments: intent %s captured %s %s, expected %s",
                intent.pk,
                event.amount,
                event.currency,
                intent.amount,
            )
            return "amount_mismatch"
        # The attempt's outcome is claimed once; a second event for it changes nothing.
        if not PaymentAttempt.objects.filter(pk=attempt.pk, outcome=PaymentAttempt.Outcome.PENDING).update(
            outcome=PaymentAttempt.Outcome.SUCCEEDED, updated_at=timezone.now()
        ):
            return "duplicate"
        _transition(intent=intent, action="succeed", note=event.event_id)
        journal_entry_post(
            idempotency_key=f"capture:{intent.pk}",
            kind="capture",
            postings=[
                PostingSpec(account=CAPTURE_ACCOUNT_DEBIT, amount=intent.amount, currency=intent.currency),
                PostingSpec(account=CAPTURE_ACCOUNT_CREDIT, amount=-intent.amount, currency=intent.currency),
            ],
            memo=f"Payment {intent.pk} captured by {provider}",
            reference=f"payment_intent:{intent.pk}",
        )
        handler.on_captured(intent.payable_id, intent.pk)
        return "captured"
    error_code = event.error_code or "failed"
    if not PaymentAttempt.objects.filter(pk=attempt.pk, outcome=PaymentAttempt.Outcome.PENDING).update(
        outcome=PaymentAttempt.Outcome.FAILED, error_code=error_code, updated_at=timezone.now()
    ):
        return "duplicate"
    _transition(intent=intent, action="fail", note=event.event_id, last_error=error_code)
    handler.on_failed(intent.payable_id, intent.pk)
    return "failed"


def payment_refund(*, intent_id: int, amount: int, idempotency_key: str, reason: str) -> Refund:
    """Give back `amount` of a captured payment. The same key returns the same refund.

    The amount is reserved on the intent by a conditional UPDATE first, so concurrent refunds
    can never add up to more than was captured; a refused refund releases it.
    """
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValidationFailed(_("A refund is a positive amount."), code="invalid_amount", fields={"amount": "invalid"})
    if not idempotency_key or len(idempotency_key) > 200:
        raise ValidationFailed(
            _("A refund needs an idempotency key."),
            code="idempotency_key_required",
            fields={"idempotency_key": "invalid"},
        )
    existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
    if existing is None:
        try:
            with transaction.atomic():
                _refund_reserve(intent_id=intent_id, amount=amount)
                existing = Refund.objects.create(
                    intent_id=intent_id, amount=amount, idempotency_key=idempotency_key, reason=reason[:255]
                )
        except IntegrityError:
            existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
            if existing is None:
                raise
    if (existing.intent_id, existing.amount) != (intent_id, amount):
        raise ValidationFailed(
            _("This idempotency key was used for a different refund."), code="idempotency_key_reused"
        )
    if existing.status == Refund.Status.PENDING:
        return _refund_complete(refund=existing)
    return existing


def _refund_reserve(*, intent_id: int, amount: int) -> None:
    reserved = PaymentIntent.objects.filter(
        pk=intent_id, status=S.SUCCEEDED, amount_refunded__lte=F("amount") - amount
    ).update(amount_refunded=F("amount_refunded") + amount, updated_at=timezone.now())
    if reserved == 1:
        return
    intent = PaymentIntent.objects.filter(pk=intent_id).first()
    if intent is None:
        raise NotFound(_("Payment not found."))
    if intent.status != S.SUCCEEDED:
        raise Conflict(_("Only a captured payment can be refunded."), code="not_refundable")
    raise ValidationFailed(
        _("The refund is more than what is left of the payment (%(left)s).") % {"left": intent.refundable},
        code="refund_exceeds_capture",
        fields={"amount": "exceeds_capture"},
    )


def _refund_complete(*, refund: Refund) -> Refund:
    intent = refund.intent
    gateway = get_gateway(intent.provider)
    try:
        # The caller's key, not the row id: if the caller's transaction rolls back after the provider
        # accepted the refund, the retry gets a new row (PostgreSQL does not reuse ids) but must send
        # the provider the same key, or the buyer is refunded twice.
        provider_ref = gateway.refund(intent, refund.amount, idempotency_key=f"refund:{refund.idempotency_key}")
    except GatewayError as exc:
        with transaction.atomic():
            if Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
                status=Refund.Status.FAILED, error_code=exc.code[:40], updated_at=timezone.now()
            ):
                PaymentIntent.objects.filter(pk=intent.pk).update(amount_refunded=F("amount_refunded") - refund.amount)
        raise ServiceError(
            _("The payment provider refused the refund."),
            code="refund_failed",
            status=502,
            fields={"provider": exc.code},
        ) from exc
    with transaction.atomic():
        if Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
            status=Refund.Status.SUCCEEDED, provider_ref=provider_ref[:100], updated_at=timezone.now()
        ):
            journal_entry_post(
                idempotency_key=f"refund:{refund.pk}",
                kind="refund",
                postings=[
                    PostingSpec(account=CAPTURE_ACCOUNT_CREDIT, amount=refund.amount, currency=intent.currency),
                    PostingSpec(account=CAPTURE_ACCOUNT_DEBIT, amount=-refund.amount, currency=intent.currency),
                ],
                memo=(refund.reason or f"Refund {refund.pk}")[:255],
                reference=f"payment_intent:{intent.pk}",
            )
    refund.refresh_from_db()
    return refund
