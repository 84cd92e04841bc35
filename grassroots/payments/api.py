"""Payments API: intents (paid by their owner), confirmation, provider webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from grassroots.core.api_schemas import ErrorOut, error_responses
from grassroots.core.idempotency import PROVIDER_WAIT_SECONDS, idempotent
from grassroots.payments import selectors, services
from grassroots.payments.models import PaymentIntent

router = Router(tags=["payments"])


class IntentIn(Schema):
    kind: str = Field(min_length=1, max_length=30)
    payable_id: int = Field(ge=1, le=2**62)


class ConfirmIn(Schema):
    card_number: str = Field(min_length=1, max_length=40)


class IntentOut(Schema):
    id: int
    payable_kind: str
    payable_id: int
    amount: int
    currency: str
    status: str
    provider: str
    amount_refunded: int
    last_error: str
    created_at: datetime
    updated_at: datetime


class WebhookOut(Schema):
    event_id: str
    replayed: bool
    result: str


ERRORS = error_responses(400, 404, 409, 422)


def _out(intent: PaymentIntent) -> IntentOut:
    return IntentOut.model_validate(intent, from_attributes=True)


@router.post("/intents", response={201: IntentOut, 200: IntentOut, **ERRORS})
def create_intent(request: HttpRequest, payload: IntentIn) -> tuple[int, Any]:
    """Open (or reuse) the payment for a payable you own. Requires an `Idempotency-Key` header.
    201 when a new intent was created, 200 when the payable's live intent was returned."""

    def run() -> tuple[int, Any]:
        intent, created = services.payment_intent_create(
            payer=request.user, kind=payload.kind, payable_id=payload.payable_id
        )
        return (201 if created else 200), _out(intent)

    status, data = idempotent(
        request, scope="payment_intent_create", body=payload.model_dump(), run=run, wait_seconds=PROVIDER_WAIT_SECONDS
    )
    return status, data


@router.get("/intents/{intent_id}", response={200: IntentOut, 404: ErrorOut})
def get_intent(request: HttpRequest, intent_id: int) -> IntentOut:
    return _out(selectors.payment_intent_get(user=request.user, intent_id=intent_id))


@router.post("/intents/{intent_id}/confirm", response={200: IntentOut, **ERRORS})
def confirm_intent(request: HttpRequest, intent_id: int, payload: ConfirmIn) -> tuple[int, Any]:
    """Pay with a card. The result arrives asynchronously (status `processing`, then `succeeded`
    or `failed`): poll GET /intents/{id}. Requires an `Idempotency-Key` header; a retry while the
    first request is still with the provider gets 409 `idempotency_in_progress` and `Retry-After`."""

    def run() -> tuple[int, Any]:
        intent = services.payment_intent_confirm(
            payer=request.user, intent_id=intent_id, card_number=payload.card_number
        )
        return 200, _out(intent)

    body = {"intent_id": intent_id, **payload.model_dump()}
    status, data = idempotent(
        request, scope="payment_intent_confirm", body=body, run=run, wait_seconds=PROVIDER_WAIT_SECONDS
    )
    return status, data


@router.post("/webhooks/{provider}", auth=None, response={200: WebhookOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut})
def webhook(request: HttpRequest, provider: str) -> WebhookOut:
    """Provider notifications, signed: `Grassroots-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
    "<t>.<raw body>">`. A replayed event id is acknowledged and ignored. An event about a payment
    attempt not known yet is a 409 `unknown_attempt` and is not recorded: deliver it again later."""
    event, replayed = services.webhook_receive(provider=provider[:30], headers=request.headers, body=request.body)
    return WebhookOut(event_id=event.event_id, replayed=replayed, result=event.result)
