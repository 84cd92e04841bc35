"""Payment providers behind one interface, and the built-in simulated provider.

A provider adapter implements `PaymentGateway` and is registered by name:

    register_gateway("stripe", StripeGateway(api_key=..., webhook_secret=...))

- Stripe: `create_intent` calls PaymentIntents.create (amount, currency, metadata intent id) and
  returns its id; `confirm` is done client-side with Stripe.js/Elements, so the adapter only
  returns the attempt's reference; `refund` calls Refunds.create with the idempotency key;
  `verify_webhook` checks the `Stripe-Signature` header and maps `payment_intent.succeeded` /
  `payment_intent.payment_failed` onto "payment.succeeded" / "payment.failed".
- Alipay: `create_intent` builds alipay.trade.page.pay / trade.create; webhooks are the async
  `notify_url` calls, verified with Alipay's RSA2 public key; TRADE_SUCCESS -> payment.succeeded.
- WeChat Pay (API v3): `create_intent` is the JSAPI/Native unified order; webhooks carry
  `Wechatpay-Signature` (RSA over timestamp, nonce and body) and an AES-GCM encrypted resource;
  SUCCESS -> payment.succeeded.

Every provider's notification reaches `POST /api/v1/payments/webhooks/<name>` and is handled by
`services.webhook_receive`, which never trusts an unverified body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from grassroots.core.errors import NotFound, ServiceError, ValidationFailed
from grassroots.core.numbers import digits_int

if TYPE_CHECKING:
    from grassroots.payments.models import PaymentIntent

SIGNATURE_HEADER = "Grassroots-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300
EVENT_SUCCEEDED = "payment.succeeded"
EVENT_FAILED = "payment.failed"


@dataclass(frozen=True)
class ConfirmOutcome:
    provider_ref: str  # the attempt's reference at the provider; its webhook names it
    card_last4: str


@dataclass(frozen=True)
class GatewayEvent:
    """A verified provider notification, translated to our vocabulary."""

    event_id: str
    type: str  # EVENT_SUCCEEDED, EVENT_FAILED, or anything else (stored, ignored)
    provider_ref: str = ""
    amount: int = 0
    currency: str = ""
    error_code: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


class GatewayError(Exception):
    """The provider refused or could not be reached."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class PaymentGateway(Protocol):
    def create_intent(self, intent: PaymentIntent) -> str:
        """Open the payment at the provider; return its reference."""
        ...

    def confirm(self, intent: PaymentIntent, card_number: str) -> ConfirmOutcome:
        """Start collecting. The result arrives later as a signed webhook. Raise
        ValidationFailed for a card the provider rejects outright."""
        ...

    def refund(self, intent: PaymentIntent, amount: int, *, idempotency_key: str) -> str:
        """Return the refund's reference; raise GatewayError when refused. Must be idempotent
        on `idempotency_key` (a retry after a crash sends the same key)."""
        ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> GatewayEvent:
        """Raise ServiceError 400 (invalid_signature, stale_signature, invalid_payload)."""
        ...


_gateways: dict[str, PaymentGateway] = {}


def register_gateway(name: str, gateway: PaymentGateway) -> None:
    _gateways[name] = gateway


def get_gateway(name: str) -> PaymentGateway:
    try:
        return _gateways[name]
    except KeyError:
        raise NotFound(_("Unknown payment provider."), code="unknown_provider") from None


def default_gateway_name() -> str:
    return str(settings.GRASSROOTS.get("PAYMENT_GATEWAY", "simulated"))


# Signed webhooks: header `Grassroots-Signature: t=<unix>,v1=<hex hmac-sha256 of "<t>.<raw body>">`.


def webhook_secret() -> bytes:
    configured = settings.GRASSROOTS.get("WEBHOOK_SECRET")
    if configured:
        return str(configured).encode()
    # Derived, so the embedded mode works with no configuration and still differs per install.
    return hmac.new(settings.SECRET_KEY.encode(), b"grassroots.payments.webhook", hashlib.sha256).hexdigest().encode()


def sign_webhook(body: bytes, *, timestamp: int | None = None, secret: bytes | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret or webhook_secret(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


def verify_webhook_signature(header: str, body: bytes, *, secret: bytes | None = None, now: int | None = None) -> None:
    invalid = ServiceError(_("The webhook signature is not valid."), code="invalid_signature", status=400)
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _sep, value = part.strip().partition("=")
        if name == "t" and (parsed := digits_int(value, max_digits=12)) is not None:
            timestamp = parsed
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise invalid
    expected = hmac.new(secret or webhook_secret(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    # Several v1 values are allowed so a secret can be rotated without dropping events.
    if not any(hmac.compare_digest(expected.encode(), sig.encode()) for sig in signatures):
        raise invalid
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        raise ServiceError(_("The webhook signature has expired."), code="stale_signature", status=400)


# The simulated provider.

CARD_SUCCEEDS = "4242424242424242"
CARD_DECLINED = "4000000000000002"
CARD_PROCESSING_ERROR = "4000000000000119"
TEST_CARDS: dict[str, tuple[str, str]] = {
    CARD_SUCCEEDS: (EVENT_SUCCEEDED, ""),
    CARD_DECLINED: (EVENT_FAILED, "card_declined"),
    CARD_PROCESSING_ERROR: (EVENT_FAILED, "processing_error"),
}


def luhn_valid(number: str) -> bool:
    if not (number.isascii() and number.isdigit()) or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def normalise_card_number(raw: str) -> str:
    return "".join(ch for ch in raw if ch not in " -")


class SimulatedGateway:
    """A provider that lives in this process: test cards decide the outcome, and the result is
    delivered as a real signed webhook (HTTP body + signature header) through a task enqueued on
    commit, exactly as a remote provider would call back."""

    name = "simulated"

    def create_intent(self, intent: PaymentIntent) -> str:
        return f"sim_pi_{intent.pk}"

    def confirm(self, intent: PaymentIntent, card_number: str) -> ConfirmOutcome:
        number = normalise_card_number(card_number)
        if not luhn_valid(number):
            raise ValidationFailed(
                _("The card number is not valid."), code="invalid_card", fields={"card_number": "invalid"}
            )
        if number not in TEST_CARDS:
            raise ValidationFailed(
                _("The simulated gateway only accepts its test cards."),
                code="invalid_card",
                fields={"card_number": "not_a_test_card"},
            )
        event_type, error_code = TEST_CARDS[number]
        provider_ref = f"sim_ch_{secrets.token_hex(12)}"
        intent_id = intent.pk
        provider = self.name

        def deliver() -> None:
            from grassroots.payments.tasks import simulated_webhook_deliver

            simulated_webhook_deliver.enqueue(
                provider=provider,
                intent_id=intent_id,
                provider_ref=provider_ref,
                event_type=event_type,
                error_code=error_code,
            )

        transaction.on_commit(deliver)
        return ConfirmOutcome(provider_ref=provider_ref, card_last4=number[-4:])

    def refund(self, intent: PaymentIntent, amount: int, *, idempotency_key: str) -> str:
        return "sim_re_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> GatewayEvent:
        verify_webhook_signature(_header(headers, SIGNATURE_HEADER), body)
        return parse_event(body)

    @staticmethod
    def event_body(
        *, event_id: str, event_type: str, provider_ref: str, amount: int, currency: str, error_code: str
    ) -> bytes:
        event = {
            "id": event_id,
            "type": event_type,
            "created": int(time.time()),
            "data": {"provider_ref": provider_ref, "amount": amount, "currency": currency, "error_code": error_code},
        }
        return json.dumps(event, separators=(",", ":")).encode()


def parse_event(body: bytes) -> GatewayEvent:
    invalid = ServiceError(_("The webhook body is not a valid event."), code="invalid_payload", status=400)
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise invalid
    data = event["data"]
    event_id, event_type = event.get("id"), event.get("type")
    amount = data.get("amount", 0)
    if not (isinstance(event_id, str) and 0 < len(event_id) <= 100 and isinstance(event_type, str)):
        raise invalid
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise invalid
    return GatewayEvent(
        event_id=event_id,
        type=event_type[:60],
        provider_ref=str(data.get("provider_ref", ""))[:100],
        amount=amount,
        currency=str(data.get("currency", ""))[:3],
        error_code=str(data.get("error_code", ""))[:40],
        payload=event,
    )


register_gateway(SimulatedGateway.name, SimulatedGateway())
