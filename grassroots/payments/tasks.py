"""Background work. Tasks take ids and are safe to run twice."""

from __future__ import annotations

from django.tasks import task

from grassroots.payments.gateways import SIGNATURE_HEADER, SimulatedGateway, sign_webhook
from grassroots.payments.models import PaymentIntent


@task
def simulated_webhook_deliver(
    *, provider: str, intent_id: int, provider_ref: str, event_type: str, error_code: str
) -> str:
    """The simulated provider calling us back: a real signed body through the same handler the
    HTTP endpoint uses. The event id is derived from the attempt, so a re-run is a replay."""
    from grassroots.payments.services import webhook_receive

    intent = PaymentIntent.objects.get(pk=intent_id)
    body = SimulatedGateway.event_body(
        event_id=f"evt_{provider_ref}",
        event_type=event_type,
        provider_ref=provider_ref,
        amount=intent.amount,
        currency=intent.currency,
        error_code=error_code,
    )
    event, _replayed = webhook_receive(provider=provider, headers={SIGNATURE_HEADER: sign_webhook(body)}, body=body)
    return event.result
