"""/api/v1/orders/ after-sale endpoints: the journeys, idempotency, scoping and bad input."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from grassroots.accounts.tests.factories import UserFactory
from grassroots.ledger.models import JournalEntry
from grassroots.ledger.selectors import ledger_problems
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.orders import services
from grassroots.orders.models import ReturnRequest
from grassroots.orders.tests.test_aftersale import (
    cash,
    counters,
    delivered,
    line_of,
    owner_of,
    paid_order,
    payable,
    revenue,
    snapshot,
)
from grassroots.payments.models import PaymentIntent, Refund

pytestmark = pytest.mark.django_db

API = "/api/v1/orders"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, path: str, data: Any = None, *, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(path, data=data or {}, content_type="application/json", headers=headers)


def test_refund_only_through_the_api_is_idempotent(django_capture_on_commit_callbacks: Any) -> None:
    order, [sku] = paid_order(django_capture_on_commit_callbacks)
    buyer = client_for(order.buyer)
    body = {"lines": [{"line_id": line_of(order).pk, "quantity": 2}], "reason": "Ordered twice", "kind": "refund_only"}

    first = post(buyer, f"{API}/orders/{order.pk}/returns", body, key="refund-1")
    again = post(buyer, f"{API}/orders/{order.pk}/returns", body, key="refund-1")

    assert first.status_code == 201, first.json()
    assert again.status_code == 201
    assert again.json() == first.json()
    data = first.json()
    assert (data["status"], data["kind"], data["refund_amount"], data["shipping_refund"]) == (
        "refunded",
        "refund_only",
        6800,
        800,
    )
    assert [(line["quantity"], line["refund_amount"]) for line in data["lines"]] == [(2, 6000)]
    assert [h["action"] for h in data["history"]] == ["request", "approve", "refund"]
    # refunded once
    assert ReturnRequest.objects.count() == 1
    assert Refund.objects.count() == 1
    assert PaymentIntent.objects.get().amount_refunded == 6800
    assert JournalEntry.objects.filter(kind="refund_reversal").count() == 1
    assert counters(sku) == (10, 0, 0)
    assert buyer.get(f"{API}/orders/{order.pk}").json()["status"] == "cancelled"
    assert (payable(order), revenue(), cash()) == (0, 0, 0)
    assert ledger_problems() == []

    # the same key with another body is refused, a new key asks again (and nothing is left)
    other = {**body, "reason": "Something else"}
    assert post(buyer, f"{API}/orders/{order.pk}/returns", other, key="refund-1").json()["code"] == (
        "idempotency_key_reused"
    )
    assert post(buyer, f"{API}/orders/{order.pk}/returns", body, key="refund-2").json()["code"] == "not_returnable"
    assert Refund.objects.count() == 1


def test_a_return_through_the_api_from_request_to_refund(django_capture_on_commit_callbacks: Any) -> None:
    order, [sku] = paid_order(django_capture_on_commit_callbacks, lines=((3000, 2),))
    order = delivered(order, days_ago=2)
    buyer, merchant = client_for(order.buyer), client_for(owner_of(order))
    line = line_of(order)

    created = post(
        buyer,
        f"{API}/orders/{order.pk}/returns",
        {"lines": [{"line_id": line.pk, "quantity": 1}], "reason": "Wrong colour", "kind": "return"},
        key="r1",
    )
    assert created.status_code == 201, created.json()
    return_id = created.json()["id"]
    assert created.json()["status"] == "requested"
    assert ledger_problems() == []

    queue = merchant.get(f"{API}/merchant/returns?status=requested").json()
    assert [r["id"] for r in queue["items"]] == [return_id]

    approved = post(merchant, f"{API}/merchant/returns/{return_id}/approve", key="a1")
    assert (approved.status_code, approved.json()["status"]) == (200, "approved")
    assert ledger_problems() == []

    sent = post(buyer, f"{API}/returns/{return_id}/ship-back", {"carrier": "YTO", "tracking_number": "YT12345678"})
    assert (sent.status_code, sent.json()["status"], sent.json()["tracking_number"]) == (
        200,
        "shipped_back",
        "YT12345678",
    )

    received = post(merchant, f"{API}/merchant/returns/{return_id}/receive", key="rcv1")
    repeated = post(merchant, f"{API}/merchant/returns/{return_id}/receive", key="rcv1")

    assert received.status_code == 200, received.json()
    assert repeated.json() == received.json()
    data = received.json()
    assert (data["status"], data["refund_amount"], data["shipping_refund"]) == ("refunded", 3000, 0)
    assert [h["to_status"] for h in data["history"]] == [
        "requested",
        "approved",
        "shipped_back",
        "returned",
        "refunded",
    ]
    assert Refund.objects.count() == 1
    assert counters(sku) == (9, 0, 1)
    # the merchant gives back 3000 - 150 fee; it keeps the other unit and the shipping
    assert (payable(order), revenue(), cash()) == (6500 - 2850, 300 - 150, 6800 - 3000)
    assert ledger_problems() == []
    lines = buyer.get(f"{API}/orders/{order.pk}").json()["lines"]
    assert [(x["refunded_quantity"], x["refunded_amount"]) for x in lines] == [(1, 3000)]
    assert buyer.get(f"{API}/returns/{return_id}").json() == received.json()
    assert [r["id"] for r in buyer.get(f"{API}/returns").json()["items"]] == [return_id]
    assert buyer.get(f"{API}/returns?status=open").json()["items"] == []


def test_money_moving_calls_need_an_idempotency_key(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    buyer = client_for(order.buyer)
    before = snapshot()

    response = post(
        buyer,
        f"{API}/orders/{order.pk}/returns",
        {"lines": [{"line_id": line_of(order).pk, "quantity": 1}], "kind": "refund_only"},
    )

    assert (response.status_code, response.json()["code"]) == (400, "idempotency_key_required")
    assert snapshot() == before


def test_a_return_after_the_window_is_422_and_writes_nothing(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order, days_ago=8)
    before = snapshot()

    response = post(
        client_for(order.buyer),
        f"{API}/orders/{order.pk}/returns",
        {"lines": [{"line_id": line_of(order).pk, "quantity": 1}], "kind": "return"},
        key="late",
    )

    assert response.status_code == 422
    assert response.json()["code"] == "return_window_closed"
    assert snapshot() == before


def test_refunding_more_than_was_paid_is_422_and_writes_nothing(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    buyer = client_for(order.buyer)
    line = line_of(order)
    url = f"{API}/orders/{order.pk}/returns"
    assert (
        post(buyer, url, {"lines": [{"line_id": line.pk, "quantity": 1}], "kind": "refund_only"}, key="p1").status_code
        == 201
    )
    before = snapshot()

    response = post(buyer, url, {"lines": [{"line_id": line.pk, "quantity": 2}], "kind": "refund_only"}, key="p2")

    assert (response.status_code, response.json()["code"]) == (422, "refund_exceeds_paid")
    assert response.json()["fields"] == {str(line.pk): 1}
    assert snapshot() == before
    assert ledger_problems() == []


@pytest.mark.parametrize(
    "body",
    [
        {"lines": [{"line_id": 1, "quantity": "2"}], "kind": "return"},
        {"lines": [{"line_id": 1, "quantity": 1}], "kind": "swap"},
        {"lines": "all", "kind": "return"},
        {"kind": "return"},
        {"lines": [{"line_id": 1, "quantity": 1}] * 51, "kind": "return"},
    ],
)
def test_bad_bodies_are_422(django_capture_on_commit_callbacks: Any, body: dict[str, Any]) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    before = snapshot()

    response = post(client_for(order.buyer), f"{API}/orders/{order.pk}/returns", body, key="bad")

    assert response.status_code == 422
    assert snapshot() == before


def test_someone_elses_order_and_return_are_404(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order)
    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order).pk, 1)]
    )
    stranger = client_for(UserFactory())
    before = snapshot()

    assert (
        post(
            stranger,
            f"{API}/orders/{order.pk}/returns",
            {"lines": [{"line_id": line_of(order).pk, "quantity": 1}], "kind": "return"},
            key="x",
        ).status_code
        == 404
    )
    assert stranger.get(f"{API}/returns/{request.pk}").status_code == 404
    assert (
        post(
            stranger, f"{API}/returns/{request.pk}/ship-back", {"carrier": "SF", "tracking_number": "SF1234567"}
        ).status_code
        == 404
    )
    assert post(stranger, f"{API}/returns/{request.pk}/cancel").status_code == 404
    assert stranger.get(f"{API}/returns").json()["items"] == []
    assert snapshot() == before


def test_a_merchant_of_another_shop_gets_404(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order)
    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order).pk, 1)]
    )
    other = client_for(MerchantFactory().owner)
    before = snapshot()

    assert post(other, f"{API}/merchant/returns/{request.pk}/approve", key="o1").status_code == 404
    assert post(other, f"{API}/merchant/returns/{request.pk}/reject", {"reason": "no"}).status_code == 404
    assert post(other, f"{API}/merchant/returns/{request.pk}/receive", key="o2").status_code == 404
    assert other.get(f"{API}/merchant/returns/{request.pk}").status_code == 404
    assert other.get(f"{API}/merchant/returns").json()["items"] == []
    # the buyer is no merchant at all
    assert client_for(order.buyer).get(f"{API}/merchant/returns").status_code == 403
    assert snapshot() == before


def test_rejecting_needs_a_reason(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order)
    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order).pk, 1)]
    )
    merchant = client_for(owner_of(order))

    empty = post(merchant, f"{API}/merchant/returns/{request.pk}/reject", {"reason": " "})
    rejected = post(merchant, f"{API}/merchant/returns/{request.pk}/reject", {"reason": "Used"})
    again = post(merchant, f"{API}/merchant/returns/{request.pk}/approve", key="late-approve")

    assert (empty.status_code, empty.json()["code"]) == (422, "reason_required")
    assert (rejected.status_code, rejected.json()["status"], rejected.json()["reject_reason"]) == (
        200,
        "rejected",
        "Used",
    )
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")


def test_lists_reject_an_unknown_status(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)

    assert client_for(order.buyer).get(f"{API}/returns?status=bogus").status_code == 422
    assert client_for(owner_of(order)).get(f"{API}/merchant/returns?status=bogus").status_code == 422


def test_the_merchant_queue_costs_the_same_for_many_returns(
    django_capture_on_commit_callbacks: Any, django_assert_max_num_queries: Any
) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks, lines=((1000, 1), (2000, 1), (3000, 1)))
    order = delivered(order)
    for index in range(3):
        services.return_request_create(
            buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order, index).pk, 1)]
        )
    merchant = client_for(owner_of(order))

    with django_assert_max_num_queries(10):
        response = merchant.get(f"{API}/merchant/returns?status=requested")

    assert len(response.json()["items"]) == 3


def test_anonymous_callers_are_401() -> None:
    assert Client().get(f"{API}/returns").status_code == 401
    assert Client().get(f"{API}/merchant/returns").status_code == 401


def test_the_openapi_schema_lists_the_after_sale_paths() -> None:
    paths = set(Client().get("/api/v1/openapi.json").json()["paths"])
    assert {
        f"{API}/orders/{{order_id}}/returns",
        f"{API}/returns",
        f"{API}/returns/{{return_id}}",
        f"{API}/returns/{{return_id}}/ship-back",
        f"{API}/returns/{{return_id}}/cancel",
        f"{API}/merchant/returns",
        f"{API}/merchant/returns/{{return_id}}",
        f"{API}/merchant/returns/{{return_id}}/approve",
        f"{API}/merchant/returns/{{return_id}}/reject",
        f"{API}/merchant/returns/{{return_id}}/receive",
    } <= paths
