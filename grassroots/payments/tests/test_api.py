"""The HTTP API: /api/v1/payments/, with Idempotency-Key on every money-moving call."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from grassroots.accounts.tests.factories import UserFactory
from grassroots.core.models import IdempotencyRecord
from grassroots.ledger.models import JournalEntry
from grassroots.payments.gateways import CARD_SUCCEEDS
from grassroots.payments.models import PaymentAttempt, PaymentIntent, PaymentStatusChange

from .conftest import KIND, FakePayables

INTENTS = "/api/v1/payments/intents"


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _create(client: Client, payable_id: int, key: str | None = "k1", kind: str = KIND) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        INTENTS, data={"kind": kind, "payable_id": payable_id}, content_type="application/json", headers=headers
    )


@pytest.mark.django_db
def test_create_intent_returns_201_with_the_amount_from_the_payable(payables: FakePayables) -> None:
    buyer = UserFactory()
    payable_id = payables.add(buyer.pk, amount=4200)

    response = _create(_client(buyer), payable_id)

    assert response.status_code == 201
    body = response.json()
    intent = PaymentIntent.objects.get()
    assert body["id"] == intent.pk
    assert {k: body[k] for k in ("payable_kind", "payable_id", "amount", "currency", "status", "amount_refunded")} == {
        "payable_kind": KIND,
        "payable_id": payable_id,
        "amount": 4200,
        "currency": "CNY",
        "status": "requires_payment",
        "amount_refunded": 0,
    }


@pytest.mark.django_db
def test_the_client_cannot_set_the_amount(payables: FakePayables) -> None:
    buyer = UserFactory()
    payable_id = payables.add(buyer.pk, amount=4200)

    response = _client(buyer).post(
        INTENTS,
        data={"kind": KIND, "payable_id": payable_id, "amount": 1},
        content_type="application/json",
        headers={"Idempotency-Key": "k"},
    )

    assert response.json()["amount"] == 4200


@pytest.mark.django_db
def test_same_key_same_body_replays_the_identical_response_and_makes_one_intent(payables: FakePayables) -> None:
    buyer = UserFactory()
    client = _client(buyer)
    payable_id = payables.add(buyer.pk)

    first = _create(client, payable_id)
    second = _create(client, payable_id)

    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert PaymentIntent.objects.count() == 1
    assert PaymentStatusChange.objects.count() == 1


@pytest.mark.django_db
def test_a_new_key_for_the_same_payable_returns_its_live_intent_with_200(payables: FakePayables) -> None:
    buyer = UserFactory()
    client = _client(buyer)
    payable_id = payables.add(buyer.pk)

    first = _create(client, payable_id, key="a")
    second = _create(client, payable_id, key="b")

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert PaymentIntent.objects.count() == 1


@pytest.mark.django_db
def test_same_key_different_body_is_422_idempotency_key_reused(payables: FakePayables) -> None:
    buyer = UserFactory()
    client = _client(buyer)
    first_id, second_id = payables.add(buyer.pk), payables.add(buyer.pk)
    _create(client, first_id)

    response = _create(client, second_id)

    assert (response.status_code, response.json()["code"]) == (422, "idempotency_key_reused")
    assert list(PaymentIntent.objects.values_list("payable_id", flat=True)) == [first_id]


@pytest.mark.django_db
@pytest.mark.parametrize("key", [None, "x" * 201])
def test_a_missing_or_too_long_key_is_400(payables: FakePayables, key: str | None) -> None:
    buyer = UserFactory()

    response = _create(_client(buyer), payables.add(buyer.pk), key=key)

    assert (response.status_code, response.json()["code"]) == (400, "idempotency_key_required")
    assert PaymentIntent.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.django_db
def test_an_intent_for_someone_elses_payable_is_404_and_writes_no_payment(payables: FakePayables) -> None:
    owner, stranger = UserFactory(), UserFactory()

    response = _create(_client(stranger), payables.add(owner.pk))

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert PaymentIntent.objects.count() == 0
    assert PaymentStatusChange.objects.count() == 0


@pytest.mark.django_db
def test_not_payable_is_409(payables: FakePayables) -> None:
    buyer = UserFactory()

    response = _create(_client(buyer), payables.add(buyer.pk, payable=False, reason="Cancelled."))

    assert response.status_code == 409
    assert response.json() == {"code": "not_payable", "message": "Cancelled.", "fields": {}}
    assert PaymentIntent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"kind": KIND},
        {"kind": "", "payable_id": 1},
        {"kind": KIND, "payable_id": 0},
        {"kind": KIND, "payable_id": "x"},
    ],
)
def test_bad_input_is_422(payables: FakePayables, body: dict[str, Any]) -> None:
    response = _client(UserFactory()).post(
        INTENTS, data=body, content_type="application/json", headers={"Idempotency-Key": "k"}
    )
    assert (response.status_code, response.json()["code"]) == (422, "invalid")
    assert PaymentIntent.objects.count() == 0


@pytest.mark.django_db
def test_anonymous_callers_are_401(payables: FakePayables) -> None:
    response = _create(Client(), 1)
    assert response.status_code == 401


@pytest.mark.django_db
def test_get_intent_is_owner_only(payables: FakePayables) -> None:
    buyer = UserFactory()
    intent_id = _create(_client(buyer), payables.add(buyer.pk)).json()["id"]

    mine = _client(buyer).get(f"{INTENTS}/{intent_id}")
    theirs = _client(UserFactory()).get(f"{INTENTS}/{intent_id}")
    missing = _client(buyer).get(f"{INTENTS}/999999")

    assert (mine.status_code, mine.json()["id"]) == (200, intent_id)
    assert (theirs.status_code, theirs.json()["code"]) == (404, "not_found")
    assert missing.status_code == 404


@pytest.mark.django_db
def test_confirm_returns_processing_then_the_webhook_settles_it(
    payables: FakePayables, django_capture_on_commit_callbacks: Any
) -> None:
    buyer = UserFactory()
    client = _client(buyer)
    payable_id = payables.add(buyer.pk)
    intent_id = _create(client, payable_id).json()["id"]

    with django_capture_on_commit_callbacks(execute=True):
        confirm = client.post(
            f"{INTENTS}/{intent_id}/confirm",
            data={"card_number": CARD_SUCCEEDS},
            content_type="application/json",
            headers={"Idempotency-Key": "pay-1"},
        )
    replay = client.post(
        f"{INTENTS}/{intent_id}/confirm",
        data={"card_number": CARD_SUCCEEDS},
        content_type="application/json",
        headers={"Idempotency-Key": "pay-1"},
    )
    settled = client.get(f"{INTENTS}/{intent_id}")

    assert (confirm.status_code, confirm.json()["status"]) == (200, "processing")
    assert replay.content == confirm.content
    assert settled.json()["status"] == "succeeded"
    assert PaymentAttempt.objects.count() == 1
    assert payables.captured == [(payable_id, intent_id)]
    assert JournalEntry.objects.count() == 1


@pytest.mark.django_db
def test_confirm_with_an_invalid_card_is_422_and_a_retry_sees_the_same_error(payables: FakePayables) -> None:
    buyer = UserFactory()
    client = _client(buyer)
    intent_id = _create(client, payables.add(buyer.pk)).json()["id"]

    def confirm() -> Any:
        return client.post(
            f"{INTENTS}/{intent_id}/confirm",
            data={"card_number": "1234"},
            content_type="application/json",
            headers={"Idempotency-Key": "bad"},
        )

    first, second = confirm(), confirm()

    assert (first.status_code, first.json()["code"]) == (422, "invalid_card")
    assert (second.status_code, second.content) == (422, first.content)
    assert PaymentIntent.objects.get().status == "requires_payment"
    assert PaymentAttempt.objects.count() == 0


@pytest.mark.django_db
def test_confirm_needs_a_key_and_the_owner(payables: FakePayables) -> None:
    buyer = UserFactory()
    intent_id = _create(_client(buyer), payables.add(buyer.pk)).json()["id"]
    url = f"{INTENTS}/{intent_id}/confirm"
    data = {"card_number": CARD_SUCCEEDS}

    no_key = _client(buyer).post(url, data=data, content_type="application/json")
    stranger = _client(UserFactory()).post(
        url, data=data, content_type="application/json", headers={"Idempotency-Key": "k"}
    )

    assert (no_key.status_code, no_key.json()["code"]) == (400, "idempotency_key_required")
    assert (stranger.status_code, stranger.json()["code"]) == (404, "not_found")
    assert PaymentIntent.objects.get().status == "requires_payment"


@pytest.mark.django_db
def test_the_openapi_schema_lists_the_payment_paths() -> None:
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    assert {
        "/api/v1/payments/intents",
        "/api/v1/payments/intents/{intent_id}",
        "/api/v1/payments/intents/{intent_id}/confirm",
        "/api/v1/payments/webhooks/{provider}",
    } <= set(paths)


# Concurrency: real threads, real connections.


# PostgreSQL allows 100 connections by default; leave room for other sessions on the server.
MAX_OPEN_CONNECTIONS = 40


def _hammer(n: int, target: Any) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = []
    lock = threading.Lock()
    gate = threading.BoundedSemaphore(MAX_OPEN_CONNECTIONS if connection.vendor == "postgresql" else n)

    def worker(index: int) -> None:
        barrier.wait()
        with gate:
            try:
                outcome = target(index)
            finally:
                connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_100_concurrent_requests_with_one_key_create_exactly_one_intent(payables: FakePayables) -> None:
    buyer = UserFactory()
    payable_id = payables.add(buyer.pk)
    cookie = _client(buyer).cookies

    def request(_index: int) -> tuple[int, Any]:
        client = Client()
        client.cookies = cookie
        response = _create(client, payable_id, key="same-key")
        return response.status_code, response.json()

    results = _hammer(100, request)

    assert PaymentIntent.objects.count() == 1
    intent = PaymentIntent.objects.get()
    assert len(results) == 100
    statuses = {status for status, _ in results}
    assert statuses <= {201, 409}
    assert all(body["id"] == intent.pk for status, body in results if status == 201)
    assert all(body["code"] == "idempotency_in_progress" for status, body in results if status == 409)
    assert PaymentStatusChange.objects.count() == 1
    assert IdempotencyRecord.objects.get().state == "done"


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_different_keys_share_one_live_intent(payables: FakePayables) -> None:
    buyer = UserFactory()
    payable_id = payables.add(buyer.pk)
    cookie = _client(buyer).cookies

    def request(index: int) -> tuple[int, Any]:
        client = Client()
        client.cookies = cookie
        response = _create(client, payable_id, key=f"key-{index}")
        return response.status_code, response.json()

    results = _hammer(20, request)

    intent = PaymentIntent.objects.get()
    assert sorted(status for status, _ in results) == [200] * 19 + [201]
    assert {body["id"] for _, body in results} == {intent.pk}
