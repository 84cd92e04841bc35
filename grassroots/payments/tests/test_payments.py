"""Intents, the simulated provider's webhooks, capture and refunds, through the real services."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from grassroots.accounts.tests.factories import UserFactory
from grassroots.core.errors import Conflict, NotFound, ServiceError, ValidationFailed
from grassroots.core.state_machine import InvalidTransition
from grassroots.ledger.models import JournalEntry
from grassroots.ledger.selectors import account_balance, ledger_problems
from grassroots.payments import services
from grassroots.payments.gateways import (
    CARD_DECLINED,
    CARD_PROCESSING_ERROR,
    CARD_SUCCEEDS,
    SIGNATURE_HEADER,
    GatewayError,
    SimulatedGateway,
    luhn_valid,
    register_gateway,
    sign_webhook,
    verify_webhook_signature,
)
from grassroots.payments.models import PaymentAttempt, PaymentIntent, PaymentStatusChange, Refund, WebhookEvent
from grassroots.payments.tasks import simulated_webhook_deliver

from .conftest import KIND, FakePayables

WEBHOOK_URL = "/api/v1/payments/webhooks/simulated"


def _intent(user: Any, payable_id: int) -> PaymentIntent:
    intent, _created = services.payment_intent_create(payer=user, kind=KIND, payable_id=payable_id)
    return intent


def _pay(user: Any, intent: PaymentIntent, card: str, capture: Any) -> PaymentIntent:
    with capture(execute=True):
        services.payment_intent_confirm(payer=user, intent_id=intent.pk, card_number=card)
    intent.refresh_from_db()
    return intent


def _event_body(
    attempt: PaymentAttempt, *, event_id: str = "", event_type: str = "payment.succeeded", **kw: Any
) -> bytes:
    return SimulatedGateway.event_body(
        event_id=event_id or f"evt_{attempt.provider_ref}",
        event_type=event_type,
        provider_ref=attempt.provider_ref,
        amount=kw.get("amount", attempt.intent.amount),
        currency=kw.get("currency", attempt.intent.currency),
        error_code=kw.get("error_code", ""),
    )


def _post_webhook(body: bytes, signature: str | None) -> Any:
    headers = {} if signature is None else {SIGNATURE_HEADER: signature}
    return Client(enforce_csrf_checks=True).post(
        WEBHOOK_URL, data=body, content_type="application/json", headers=headers
    )


# Intents


@pytest.mark.django_db
def test_intent_amount_comes_from_the_payable_and_creation_is_audited(payables: FakePayables) -> None:
    buyer = UserFactory()
    payable_id = payables.add(buyer.pk, amount=12990)

    intent, created = services.payment_intent_create(payer=buyer, kind=KIND, payable_id=payable_id)

    assert created is True
    assert (intent.amount, intent.currency, intent.status, intent.provider) == (
        12990,
        "CNY",
        "requires_payment",
        "simulated",
    )
    assert intent.provider_ref == f"sim_pi_{intent.pk}"
    assert list(intent.status_changes.values_list("from_status", "to_status", "action")) == [
        ("", "requires_payment", "create")
    ]


@pytest.mark.django_db
def test_one_live_intent_per_payable_is_reused(payables: FakePayables) -> None:
    buyer = UserFactory()
    payable_id = payables.add(buyer.pk)

    first, _ = services.payment_intent_create(payer=buyer, kind=KIND, payable_id=payable_id)
    second, created = services.payment_intent_create(payer=buyer, kind=KIND, payable_id=payable_id)

    assert (second.pk, created) == (first.pk, False)
    assert PaymentIntent.objects.count() == 1


@pytest.mark.django_db
def test_a_stale_amount_cancels_the_old_intent_and_opens_a_new_one(payables: FakePayables) -> None:
    buyer = UserFactory()
    payable_id = payables.add(buyer.pk, amount=1000)
    old = _intent(buyer, payable_id)
    payables.items[payable_id].amount = 800

    new, created = services.payment_intent_create(payer=buyer, kind=KIND, payable_id=payable_id)

    old.refresh_from_db()
    assert (created, new.amount, old.status) == (True, 800, "cancelled")


@pytest.mark.django_db
def test_someone_elses_payable_is_not_found_and_nothing_is_written(payables: FakePayables) -> None:
    owner, stranger = UserFactory(), UserFactory()
    payable_id = payables.add(owner.pk)

    with pytest.raises(NotFound):
        services.payment_intent_create(payer=stranger, kind=KIND, payable_id=payable_id)

    assert PaymentIntent.objects.count() == 0
    assert PaymentStatusChange.objects.count() == 0


@pytest.mark.django_db
def test_unknown_kind_and_missing_payable_are_not_found(payables: FakePayables) -> None:
    buyer = UserFactory()

    with pytest.raises(NotFound) as unknown:
        services.payment_intent_create(payer=buyer, kind="nope", payable_id=1)
    with pytest.raises(NotFound):
        services.payment_intent_create(payer=buyer, kind=KIND, payable_id=999)

    assert unknown.value.code == "unknown_payable_kind"
    assert PaymentIntent.objects.count() == 0


@pytest.mark.django_db
def test_a_payable_that_cannot_be_paid_is_a_conflict(payables: FakePayables) -> None:
    buyer = UserFactory()
    payable_id = payables.add(buyer.pk, payable=False, reason="The order was cancelled.")

    with pytest.raises(Conflict) as exc:
        services.payment_intent_create(payer=buyer, kind=KIND, payable_id=payable_id)

    assert (exc.value.code, exc.value.message) == ("not_payable", "The order was cancelled.")
    assert PaymentIntent.objects.count() == 0


# Confirmation and the simulated provider's webhook


@pytest.mark.django_db
def test_success_card_captures_posts_a_balanced_entry_and_calls_the_payable_once(
    payables: FakePayables, django_capture_on_commit_callbacks: Any
) -> None:
    buyer = UserFactory()
    payable_id = payables.add(buyer.pk, amount=12990)
    intent = _intent(buyer, payable_id)

    intent = _pay(buyer, intent, "4242 4242 4242 4242", django_capture_on_commit_callbacks)

    assert intent.status == "succeeded"
    assert payables.captured == [(payable_id, intent.pk)]
    assert payables.failed == []
    entry = JournalEntry.objects.get(idempotency_key=f"capture:{intent.pk}")
    assert entry.kind == "capture"
    assert sorted(entry.postings.values_list("account__code", "amount")) == [
        ("buyer:clearing", -12990),
        ("gateway:cash", 12990),
    ]
    assert account_balance(code="gateway:cash", currency="CNY") == 12990
    assert ledger_problems() == []
    attempt = intent.attempts.get()
    assert (attempt.card_last4, attempt.outcome) == ("4242", "succeeded")
    assert list(intent.status_changes.values_list("from_status", "to_status", "action")) == [
        ("", "requires_payment", "create"),
        ("requires_payment", "processing", "confirm"),
        ("processing", "succeeded", "succeed"),
    ]
    event = WebhookEvent.objects.get()
    assert (event.provider, event.event_id, event.type, event.result) == (
        "simulated",
        f"evt_{attempt.provider_ref}",
        "payment.succeeded",
        "captured",
    )
    assert event.processed_at is not None


@pytest.mark.django_db
def test_a_webhook_delivered_twice_changes_nothing_the_second_time(
    payables: FakePayables, django_capture_on_commit_callbacks: Any
) -> None:
    buyer = UserFactory()
    intent = _pay(buyer, _intent(buyer, payables.add(buyer.pk)), CARD_SUCCEEDS, django_capture_on_commit_callbacks)
    attempt = intent.attempts.get()

    # The provider's task runs again, and the same body arrives over HTTP.
    result = simulated_webhook_deliver.call(
        provider="simulated",
        intent_id=intent.pk,
        provider_ref=attempt.provider_ref,
        event_type="payment.succeeded",
        error_code="",
    )
    body = _event_body(attempt)
    response = _post_webhook(body, sign_webhook(body))

    assert result == "captured"  # the stored result of the first delivery
    assert response.status_code == 200
    assert response.json() == {"event_id": f"evt_{attempt.provider_ref}", "replayed": True, "result": "captured"}
    assert len(payables.captured) == 1
    assert WebhookEvent.objects.count() == 1
    assert JournalEntry.objects.count() == 1
    assert ledger_problems() == []


@pytest.mark.django_db
def test_a_second_success_event_with_a_new_id_is_a_duplicate(
    payables: FakePayables, django_capture_on_commit_callbacks: Any
) -> None:
    buyer = UserFactory()
    intent = _pay(buyer, _intent(buyer, payables.add(buyer.pk)), CARD_SUCCEEDS, django_capture_on_commit_callbacks)
    body = _event_body(intent.attempts.get(), event_id="evt_another")

    response = _post_webhook(body, sign_webhook(body))

    assert response.json() == {"event_id": "evt_another", "replayed": False, "result": "duplicate"}
    assert len(payables.captured) == 1
    assert JournalEntry.objects.count() == 1


@pytest.mark.django_db
def test_declined_card_fails_without_a_ledger_entry(
    payables: FakePayables, django_capture_on_commit_callbacks: Any
) -> None:
    buyer = UserFactory()
    payable_id = payables.add(buyer.pk)

    intent = _pay(buyer, _intent(buyer, payable_id), CARD_DECLINED, django_capture_on_commit_callbacks)

    assert (intent.status, intent.last_error) == ("failed", "card_declined")
    assert payables.failed == [(payable_id, intent.pk)]
    assert payables.captured == []
    assert JournalEntry.objects.count() == 0
    assert intent.attempts.get().error_code == "card_declined"


@pytest.mark.django_db
def test_a_transient_failure_can_be_retried_with_a_good_card(
    payables: FakePayables, django_capture_on_commit_callbacks: Any
) -> None:
    buyer = UserFactory()
    payable_id = payables.add(buyer.pk, amount=500)
    intent = _intent(buyer, payable_id)

    intent = _pay(buyer, intent, CARD_PROCESSING_ERROR, django_capture_on_commit_callbacks)
    assert (intent.status, intent.last_error) == ("failed", "processing_error")

    intent = _pay(buyer, intent, CARD_SUCCEEDS, django_capture_on_commit_callbacks)

    assert (intent.status, intent.last_error) == ("succeeded", "")
    assert list(intent.attempts.order_by("id").values_list("outcome", "error_code")) == [
        ("failed", "processing_error"),
        ("succeeded", ""),
    ]
    assert payables.failed == [(payable_id, intent.pk)]
    assert payables.captured == [(payable_id, intent.pk)]
    assert account_balance(code="gateway:cash", currency="CNY") == 500
    assert [c.action for c in intent.status_changes.all()] == ["create", "confirm", "fail", "confirm", "succeed"]


@pytest.mark.django_db
@pytest.mark.parametrize("card", ["4242424242424241", "not a card", "4111111111111111", "42"])
def test_an_invalid_card_is_a_422_and_nothing_changes(payables: FakePayables, card: str) -> None:
    buyer = UserFactory()
    intent = _intent(buyer, payables.add(buyer.pk))

    with pytest.raises(ValidationFailed) as exc:
        services.payment_intent_confirm(payer=buyer, intent_id=intent.pk, card_number=card)

    assert exc.value.code == "invalid_card"
    intent.refresh_from_db()
    assert intent.status == "requires_payment"
    assert PaymentAttempt.objects.count() == 0
    assert intent.status_changes.count() == 1


@pytest.mark.django_db
def test_a_processing_or_paid_intent_cannot_be_confirmed_again(payables: FakePayables) -> None:
    buyer = UserFactory()
    intent = _intent(buyer, payables.add(buyer.pk))
    services.payment_intent_confirm(payer=buyer, intent_id=intent.pk, card_number=CARD_SUCCEEDS)

    with pytest.raises(InvalidTransition):
        services.payment_intent_confirm(payer=buyer, intent_id=intent.pk, card_number=CARD_SUCCEEDS)

    assert PaymentAttempt.objects.count() == 1


@pytest.mark.django_db
def test_confirm_refuses_when_the_payable_changed_since(payables: FakePayables) -> None:
    buyer = UserFactory()
    payable_id = payables.add(buyer.pk, amount=1000)
    intent = _intent(buyer, payable_id)
    payables.items[payable_id].amount = 1200

    with pytest.raises(Conflict) as changed:
        services.payment_intent_confirm(payer=buyer, intent_id=intent.pk, card_number=CARD_SUCCEEDS)
    payables.items[payable_id].payable = False
    with pytest.raises(Conflict) as gone:
        services.payment_intent_confirm(payer=buyer, intent_id=intent.pk, card_number=CARD_SUCCEEDS)

    assert (changed.value.code, gone.value.code) == ("amount_changed", "not_payable")
    assert PaymentAttempt.objects.count() == 0


@pytest.mark.django_db
def test_someone_else_cannot_confirm_an_intent(payables: FakePayables) -> None:
    buyer = UserFactory()
    intent = _intent(buyer, payables.add(buyer.pk))

    with pytest.raises(NotFound):
        services.payment_intent_confirm(payer=UserFactory(), intent_id=intent.pk, card_number=CARD_SUCCEEDS)

    assert PaymentAttempt.objects.count() == 0


# Webhook security


@pytest.fixture
def processing(payables: FakePayables) -> PaymentAttempt:
    """An intent waiting for its provider: confirmed, webhook not delivered yet."""
    buyer = UserFactory()
    intent = _intent(buyer, payables.add(buyer.pk))
    services.payment_intent_confirm(payer=buyer, intent_id=intent.pk, card_number=CARD_SUCCEEDS)
    return PaymentAttempt.objects.select_related("intent").get(intent=intent)


def _assert_nothing_applied(attempt: PaymentAttempt, payables: FakePayables) -> None:
    attempt.intent.refresh_from_db()
    assert attempt.intent.status == "processing"
    assert WebhookEvent.objects.count() == 0
    assert JournalEntry.objects.count() == 0
    assert payables.captured == []


@pytest.mark.django_db
def test_an_event_that_arrives_before_its_attempt_is_stored_is_applied_on_redelivery(
    processing: PaymentAttempt, payables: FakePayables
) -> None:
    body = _event_body(processing)
    provider_ref = processing.provider_ref
    PaymentAttempt.objects.filter(pk=processing.pk).update(provider_ref="sim_not_committed_yet")

    early = _post_webhook(body, sign_webhook(body))

    assert (early.status_code, early.json()["code"]) == (409, "unknown_attempt")
    _assert_nothing_applied(processing, payables)
    PaymentAttempt.objects.filter(pk=processing.pk).update(provider_ref=provider_ref)  # the attempt commits
    again = _post_webhook(body, sign_webhook(body))
    assert (again.status_code, again.json()["result"], again.json()["replayed"]) == (200, "captured", False)
    assert len(payables.captured) == 1


@pytest.mark.django_db
def test_webhook_over_http_applies_a_signed_event_without_csrf(
    processing: PaymentAttempt, payables: FakePayables
) -> None:
    body = _event_body(processing)

    response = _post_webhook(body, sign_webhook(body))

    assert response.status_code == 200
    assert response.json()["result"] == "captured"
    processing.intent.refresh_from_db()
    assert processing.intent.status == "succeeded"
    assert len(payables.captured) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "t=abc,v1=00",
        "t=\u00b2,v1=00",  # a digit to str.isdigit(), not to int()
        "v1=deadbeef",
        "forged",
    ],
)
def test_a_missing_or_malformed_signature_is_rejected(
    processing: PaymentAttempt, payables: FakePayables, signature: str | None
) -> None:
    response = _post_webhook(_event_body(processing), signature)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    _assert_nothing_applied(processing, payables)


@pytest.mark.django_db
def test_a_forged_signature_is_rejected(processing: PaymentAttempt, payables: FakePayables) -> None:
    body = _event_body(processing)
    forged = sign_webhook(body, secret=b"not-the-secret")
    tampered = sign_webhook(body).replace("v1=", "v1=0")[:-1]

    assert _post_webhook(body, forged).json()["code"] == "invalid_signature"
    assert _post_webhook(body, tampered).json()["code"] == "invalid_signature"
    # A valid signature over another body does not carry over.
    other = _event_body(processing, amount=1)
    assert _post_webhook(other, sign_webhook(body)).json()["code"] == "invalid_signature"
    _assert_nothing_applied(processing, payables)


@pytest.mark.django_db
def test_a_stale_signature_is_rejected(processing: PaymentAttempt, payables: FakePayables) -> None:
    import time

    body = _event_body(processing)

    response = _post_webhook(body, sign_webhook(body, timestamp=int(time.time()) - 301))

    assert response.status_code == 400
    assert response.json()["code"] == "stale_signature"
    _assert_nothing_applied(processing, payables)


def test_signature_tolerance_is_300_seconds_both_ways() -> None:
    body = b"{}"
    for skew in (-300, 300):
        verify_webhook_signature(sign_webhook(body, timestamp=1_000_000 + skew), body, now=1_000_000)
    for skew in (-301, 301):
        with pytest.raises(ServiceError) as exc:
            verify_webhook_signature(sign_webhook(body, timestamp=1_000_000 + skew), body, now=1_000_000)
        assert exc.value.code == "stale_signature"


@pytest.mark.django_db
def test_a_replayed_event_id_is_acknowledged_and_ignored(processing: PaymentAttempt, payables: FakePayables) -> None:
    body = _event_body(processing)
    first = _post_webhook(body, sign_webhook(body))

    again = _post_webhook(body, sign_webhook(body))

    assert (first.status_code, first.json()["replayed"]) == (200, False)
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    assert len(payables.captured) == 1
    assert WebhookEvent.objects.count() == 1
    assert JournalEntry.objects.count() == 1


@pytest.mark.django_db
def test_a_signed_but_malformed_body_is_a_400(processing: PaymentAttempt, payables: FakePayables) -> None:
    for body in (b"not json", b"[]", b'{"id": 5, "type": "payment.succeeded", "data": {}}'):
        response = _post_webhook(body, sign_webhook(body))
        assert (response.status_code, response.json()["code"]) == (400, "invalid_payload")
    _assert_nothing_applied(processing, payables)


@pytest.mark.django_db
def test_unknown_provider_is_404(processing: PaymentAttempt) -> None:
    body = _event_body(processing)
    response = Client().post(
        "/api/v1/payments/webhooks/nope",
        data=body,
        content_type="application/json",
        headers={SIGNATURE_HEADER: sign_webhook(body)},
    )
    assert (response.status_code, response.json()["code"]) == (404, "unknown_provider")


@pytest.mark.django_db
def test_a_success_for_the_wrong_amount_is_recorded_but_not_booked(
    processing: PaymentAttempt, payables: FakePayables
) -> None:
    body = _event_body(processing, amount=processing.intent.amount - 1)

    response = _post_webhook(body, sign_webhook(body))

    assert response.json()["result"] == "amount_mismatch"
    processing.intent.refresh_from_db()
    assert processing.intent.status == "processing"
    assert JournalEntry.objects.count() == 0
    assert payables.captured == []


@pytest.mark.django_db
def test_events_of_other_types_are_stored_and_ignored(processing: PaymentAttempt) -> None:
    body = _event_body(processing, event_type="payment.dispute_opened")

    assert _post_webhook(body, sign_webhook(body)).json()["result"] == "ignored"


def test_luhn() -> None:
    assert all(luhn_valid(card) for card in (CARD_SUCCEEDS, CARD_DECLINED, CARD_PROCESSING_ERROR))
    assert not luhn_valid("4242424242424241")
    assert not luhn_valid("")


# Refunds


@pytest.fixture
def captured(payables: FakePayables, django_capture_on_commit_callbacks: Any) -> PaymentIntent:
    buyer = UserFactory()
    intent = _pay(
        buyer, _intent(buyer, payables.add(buyer.pk, amount=1000)), CARD_SUCCEEDS, django_capture_on_commit_callbacks
    )
    assert intent.status == "succeeded"
    return intent


@pytest.mark.django_db
def test_partial_refunds_accumulate_and_the_ledger_balances(captured: PaymentIntent) -> None:
    first = services.payment_refund(intent_id=captured.pk, amount=300, idempotency_key="r1", reason="One broken")
    second = services.payment_refund(intent_id=captured.pk, amount=200, idempotency_key="r2", reason="Late")

    captured.refresh_from_db()
    assert (first.status, second.status) == ("succeeded", "succeeded")
    assert first.provider_ref.startswith("sim_re_")
    assert captured.amount_refunded == 500
    assert captured.refundable == 500
    assert account_balance(code="gateway:cash", currency="CNY") == 500
    assert account_balance(code="buyer:clearing", currency="CNY") == -500
    entry = JournalEntry.objects.get(idempotency_key=f"refund:{first.pk}")
    assert entry.kind == "refund"
    assert sorted(entry.postings.values_list("account__code", "amount")) == [
        ("buyer:clearing", 300),
        ("gateway:cash", -300),
    ]
    assert ledger_problems() == []


@pytest.mark.django_db
def test_the_same_refund_key_returns_the_same_refund(captured: PaymentIntent) -> None:
    first = services.payment_refund(intent_id=captured.pk, amount=300, idempotency_key="r1", reason="")

    again = services.payment_refund(intent_id=captured.pk, amount=300, idempotency_key="r1", reason="")
    with pytest.raises(ValidationFailed) as reused:
        services.payment_refund(intent_id=captured.pk, amount=400, idempotency_key="r1", reason="")

    captured.refresh_from_db()
    assert again.pk == first.pk
    assert reused.value.code == "idempotency_key_reused"
    assert captured.amount_refunded == 300
    assert Refund.objects.count() == 1
    assert JournalEntry.objects.filter(kind="refund").count() == 1


@pytest.mark.django_db
def test_a_refund_rolled_back_after_the_provider_accepted_it_is_retried_under_the_same_provider_key(
    captured: PaymentIntent, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    refund = SimulatedGateway.refund

    def recording(self: SimulatedGateway, intent: PaymentIntent, amount: int, *, idempotency_key: str) -> str:
        sent.append(idempotency_key)
        return refund(self, intent, amount, idempotency_key=idempotency_key)

    monkeypatch.setattr(SimulatedGateway, "refund", recording)

    class CommitFailed(Exception):
        pass

    def refund_then_lose_the_transaction() -> None:
        with transaction.atomic():
            services.payment_refund(intent_id=captured.pk, amount=300, idempotency_key="aftersale:7", reason="")
            raise CommitFailed  # the caller's transaction is lost after the provider call

    with pytest.raises(CommitFailed):
        refund_then_lose_the_transaction()
    retried = services.payment_refund(intent_id=captured.pk, amount=300, idempotency_key="aftersale:7", reason="")

    captured.refresh_from_db()
    assert len(sent) == 2
    assert sent[0] == sent[1]  # the provider sees one refund, asked twice
    assert retried.status == Refund.Status.SUCCEEDED
    assert captured.amount_refunded == 300
    assert ledger_problems() == []


@pytest.mark.django_db
@pytest.mark.parametrize(("already", "amount"), [(0, 1001), (600, 401)])
def test_refunding_more_than_captured_is_refused_and_nothing_is_written(
    captured: PaymentIntent, already: int, amount: int
) -> None:
    if already:
        services.payment_refund(intent_id=captured.pk, amount=already, idempotency_key="first", reason="")

    with pytest.raises(ValidationFailed) as exc:
        services.payment_refund(intent_id=captured.pk, amount=amount, idempotency_key="too-much", reason="")

    captured.refresh_from_db()
    assert (exc.value.status, exc.value.code) == (422, "refund_exceeds_capture")
    assert captured.amount_refunded == already
    assert not Refund.objects.filter(idempotency_key="too-much").exists()
    assert JournalEntry.objects.filter(kind="refund").count() == (1 if already else 0)
    assert ledger_problems() == []


@pytest.mark.django_db
def test_the_whole_amount_can_be_refunded_exactly(captured: PaymentIntent) -> None:
    services.payment_refund(intent_id=captured.pk, amount=1000, idempotency_key="all", reason="")

    captured.refresh_from_db()
    assert (captured.amount_refunded, captured.refundable) == (1000, 0)
    assert account_balance(code="gateway:cash", currency="CNY") == 0
    assert ledger_problems() == []


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [0, -5])
def test_a_refund_must_be_positive(captured: PaymentIntent, amount: int) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.payment_refund(intent_id=captured.pk, amount=amount, idempotency_key="x", reason="")
    assert exc.value.code == "invalid_amount"
    assert Refund.objects.count() == 0


@pytest.mark.django_db
def test_an_unpaid_intent_cannot_be_refunded(payables: FakePayables) -> None:
    buyer = UserFactory()
    intent = _intent(buyer, payables.add(buyer.pk))

    with pytest.raises(Conflict) as exc:
        services.payment_refund(intent_id=intent.pk, amount=100, idempotency_key="x", reason="")

    assert exc.value.code == "not_refundable"
    assert Refund.objects.count() == 0


class RefusingGateway(SimulatedGateway):
    """A provider that takes payments but refuses refunds (a true external failure)."""

    name = "refusing"

    def refund(self, intent: PaymentIntent, amount: int, *, idempotency_key: str) -> str:
        raise GatewayError("insufficient_balance")


@pytest.mark.django_db
def test_a_refused_refund_releases_the_amount_and_books_nothing(
    payables: FakePayables, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    register_gateway("refusing", RefusingGateway())
    settings.GRASSROOTS = {**settings.GRASSROOTS, "PAYMENT_GATEWAY": "refusing"}
    buyer = UserFactory()
    intent = _pay(buyer, _intent(buyer, payables.add(buyer.pk)), CARD_SUCCEEDS, django_capture_on_commit_callbacks)
    assert (intent.provider, intent.status) == ("refusing", "succeeded")

    with pytest.raises(ServiceError) as exc:
        services.payment_refund(intent_id=intent.pk, amount=100, idempotency_key="r", reason="")

    intent.refresh_from_db()
    assert (exc.value.status, exc.value.code) == (502, "refund_failed")
    assert intent.amount_refunded == 0
    assert Refund.objects.get().status == "failed"
    assert JournalEntry.objects.filter(kind="refund").count() == 0


@pytest.mark.django_db
def test_payment_intent_for_finds_the_live_intent(payables: FakePayables) -> None:
    buyer = UserFactory()
    payable_id = payables.add(buyer.pk)
    assert services.payment_intent_for(kind=KIND, payable_id=payable_id) is None

    intent = _intent(buyer, payable_id)

    assert services.payment_intent_for(kind=KIND, payable_id=payable_id) == intent
    services.payment_intent_cancel(intent_id=intent.pk)
    assert services.payment_intent_for(kind=KIND, payable_id=payable_id) is None


class ExplodingPayables(FakePayables):
    def on_captured(self, payable_id: int, intent_id: int) -> None:
        raise RuntimeError("the orders database is down")


@pytest.mark.django_db
def test_a_failing_on_captured_rolls_the_capture_back_so_the_provider_retry_applies_it(
    processing: PaymentAttempt, payables: FakePayables
) -> None:
    from grassroots.payments.registry import register_payable

    exploding = ExplodingPayables()
    exploding.items = payables.items
    register_payable(KIND, exploding)
    body = _event_body(processing)

    with pytest.raises(RuntimeError):
        services.webhook_receive(provider="simulated", headers={SIGNATURE_HEADER: sign_webhook(body)}, body=body)
    _assert_nothing_applied(processing, payables)
    assert processing.intent.attempts.get().outcome == "pending"

    register_payable(KIND, payables)
    event, replayed = services.webhook_receive(
        provider="simulated", headers={SIGNATURE_HEADER: sign_webhook(body)}, body=body
    )

    assert (event.result, replayed) == ("captured", False)
    assert len(payables.captured) == 1
    assert ledger_problems() == []


@pytest.mark.django_db
def test_admin_lists_payments_read_only(captured: PaymentIntent) -> None:
    from grassroots.accounts.tests.factories import UserFactory as Users

    staff = Users(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    services.payment_refund(intent_id=captured.pk, amount=100, idempotency_key="adm", reason="")

    for url in (
        "/admin/payments/paymentintent/",
        f"/admin/payments/paymentintent/{captured.pk}/change/",
        "/admin/payments/refund/",
        "/admin/payments/webhookevent/",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/payments/paymentintent/add/").status_code == 403
    assert client.post(f"/admin/payments/paymentintent/{captured.pk}/delete/", {"post": "yes"}).status_code == 403
    assert PaymentIntent.objects.filter(pk=captured.pk).exists()


def test_deploy_check_refuses_the_simulated_gateway_unless_allowed(settings: Any) -> None:
    from grassroots.payments.checks import simulated_gateway_in_production

    settings.GRASSROOTS = {**settings.GRASSROOTS, "PAYMENT_GATEWAY": "simulated"}
    assert [m.id for m in simulated_gateway_in_production(None)] == ["payments.E001"]
    settings.GRASSROOTS = {**settings.GRASSROOTS, "ALLOW_SIMULATED_PAYMENTS": True}
    assert simulated_gateway_in_production(None) == []
    settings.GRASSROOTS = {**settings.GRASSROOTS, "PAYMENT_GATEWAY": "stripe", "ALLOW_SIMULATED_PAYMENTS": False}
    assert simulated_gateway_in_production(None) == []
