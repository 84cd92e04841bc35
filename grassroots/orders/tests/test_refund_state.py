"""What an order's status does not say: the refunds made on it (shown as "Refunded" / "Partly
refunded" and as `refund_state` in the API) and a refund asked for before shipping (which holds
the shipment until the merchant decides it)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from grassroots.orders import selectors, services
from grassroots.orders.models import Order, ReturnRequest
from grassroots.orders.tests.test_aftersale import delivered, line_of, owner_of, paid_order, snapshot

pytestmark = pytest.mark.django_db

API = "/api/v1/orders"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, path: str, data: Any = None, *, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(path, data=data or {}, content_type="application/json", headers=headers)


def badges(html: str, order_id: int) -> list[str]:
    """The badges after "Order <id>" in the first heading naming that order."""
    match = re.search(rf"Order {order_id}</a>?(.*?)</h[12]>|Order {order_id} (.*?)</h[12]>", html, re.S)
    assert match, html
    return re.findall(r'<span class="badge[^"]*">([^<]*)</span>', match.group(1) or match.group(2))


def returned(order: Order, quantity: int) -> ReturnRequest:
    """A return of `quantity` units of the order's first line, received and refunded."""
    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order).pk, quantity)]
    )
    services.return_approve(actor=owner_of(order), return_id=request.pk)
    return services.return_receive(actor=owner_of(order), return_id=request.pk)


def order_json(client: Client, order_id: int) -> dict[str, Any]:
    response = client.get(f"{API}/orders/{order_id}")
    assert response.status_code == 200
    return dict(response.json())


# --- refunded orders say so ------------------------------------------------------------------------


def test_a_delivered_order_returned_in_full_reads_refunded_everywhere(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks, lines=((3000, 2),))
    order = delivered(order)
    buyer, merchant = client_for(order.buyer), client_for(owner_of(order))
    assert order_json(buyer, order.pk)["refund_state"] == "none"
    assert badges(buyer.get(f"/orders/{order.pk}/").content.decode(), order.pk) == ["Delivered"]

    # One of two units back: still delivered, and partly refunded.
    returned(order, 1)
    data = order_json(buyer, order.pk)
    assert (data["status"], data["refund_state"]) == ("delivered", "partial")
    assert badges(buyer.get(f"/orders/{order.pk}/").content.decode(), order.pk) == ["Delivered", "Partly refunded"]

    # The other one too: the order machine leaves it delivered, the pages and the API say refunded.
    returned(order, 1)
    data = order_json(buyer, order.pk)
    assert (data["status"], data["refund_state"]) == ("delivered", "full")
    assert Order.objects.get(pk=order.pk).status == Order.Status.DELIVERED
    assert badges(buyer.get(f"/orders/{order.pk}/").content.decode(), order.pk) == ["Refunded"]
    assert badges(buyer.get("/orders/").content.decode(), order.pk) == ["Refunded"]
    assert badges(merchant.get("/orders/console/?status=").content.decode(), order.pk) == ["Refunded"]
    listed = buyer.get(f"{API}/orders").json()["items"]
    assert [(item["id"], item["refund_state"]) for item in listed] == [(order.pk, "full")]
    queue = merchant.get(f"{API}/merchant/orders?status=delivered").json()["items"]
    assert [(item["id"], item["refund_state"]) for item in queue] == [(order.pk, "full")]


def test_a_completed_order_returned_in_full_reads_refunded(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks, lines=((3000, 1), (1000, 2)))
    order = delivered(order)
    request = services.return_request_create(
        buyer=order.buyer,
        order_id=order.pk,
        kind="return",
        lines=[(line_of(order, 0).pk, 1), (line_of(order, 1).pk, 2)],
    )
    services.return_approve(actor=owner_of(order), return_id=request.pk)
    services.return_receive(actor=owner_of(order), return_id=request.pk)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.COMPLETED)

    buyer = client_for(order.buyer)
    data = order_json(buyer, order.pk)
    assert (data["status"], data["refund_state"]) == ("completed", "full")
    assert badges(buyer.get(f"/orders/{order.pk}/").content.decode(), order.pk) == ["Refunded"]


def test_refund_state_follows_the_lines_counters(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks, lines=((3000, 2), (1000, 1)))
    order = selectors.order_for_buyer(buyer=order.buyer, order_id=order.pk)
    assert selectors.order_refund_state(order) == "none"
    first, second = list(order.lines.all())
    first.refunded_quantity = 2
    assert selectors.order_refund_state(order) == "partial"
    second.refunded_quantity = 1
    assert selectors.order_refund_state(order) == "full"


def test_a_partial_refund_before_shipping_shows_on_the_paid_order(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks, lines=((3000, 2),))
    services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line_of(order).pk, 1)]
    )
    buyer, merchant = client_for(order.buyer), client_for(owner_of(order))

    assert order_json(buyer, order.pk)["refund_state"] == "partial"
    assert badges(buyer.get(f"/orders/{order.pk}/").content.decode(), order.pk) == ["Paid", "Partly refunded"]
    console = merchant.get("/orders/console/").content.decode()
    assert badges(console, order.pk) == ["Paid", "Partly refunded"]
    # What is left is shipped as usual: the refund was decided (approved automatically).
    assert f'action="/orders/console/{order.pk}/ship/"' in console


# --- a refund asked for before shipping holds the shipment -------------------------------------------


def test_shipping_through_the_api_waits_for_the_refund_decision(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.GRASSROOTS = {**settings.GRASSROOTS, "REFUND_ONLY_AUTO_APPROVE": False}
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    buyer, merchant = client_for(order.buyer), client_for(owner_of(order))
    asked = post(
        buyer,
        f"{API}/orders/{order.pk}/returns",
        {"lines": [{"line_id": line_of(order).pk, "quantity": 1}], "kind": "refund_only"},
        key="ask",
    )
    assert asked.status_code == 201, asked.json()
    assert asked.json()["status"] == "requested"
    queue = merchant.get(f"{API}/merchant/orders?status=paid").json()["items"]
    assert [(item["id"], item["refund_requested"], item["refund_state"]) for item in queue] == [
        (order.pk, True, "none")
    ]
    before = snapshot()

    refused = post(merchant, f"{API}/merchant/orders/{order.pk}/ship", {"carrier": "SF", "tracking_number": "SF12345"})

    assert refused.status_code == 409
    assert refused.json()["code"] == "refund_requested"
    assert snapshot() == before

    # Approved (and refunded at once), the rest of the order ships.
    approved = post(merchant, f"{API}/merchant/returns/{asked.json()['id']}/approve", key="approve")
    assert approved.json()["status"] == "refunded"
    shipped = post(merchant, f"{API}/merchant/orders/{order.pk}/ship", {"carrier": "SF", "tracking_number": "SF12345"})
    assert shipped.status_code == 200, shipped.json()
    assert (shipped.json()["status"], shipped.json()["refund_requested"], shipped.json()["refund_state"]) == (
        "shipped",
        False,
        "partial",
    )


def test_the_console_shows_the_refund_to_decide_instead_of_the_ship_form(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.GRASSROOTS = {**settings.GRASSROOTS, "REFUND_ONLY_AUTO_APPROVE": False}
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    other, _ = paid_order(django_capture_on_commit_callbacks)
    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line_of(order).pk, 1)]
    )
    merchant = client_for(owner_of(order))

    html = merchant.get("/orders/console/").content.decode()
    assert "Refund requested" in html
    assert "The buyer asked for a refund: approve or reject it before shipping." in html
    assert f"/orders/console/{order.pk}/ship/" not in html and "Mark as shipped" not in html
    assert client_for(owner_of(other)).get("/orders/console/").content.decode().count("Mark as shipped") == 1

    # Posting the ship form anyway (an old tab) is refused with the reason, and nothing moves.
    response = merchant.post(
        f"/orders/console/{order.pk}/ship/", {"carrier": "SF", "tracking_number": "SF12345"}, follow=True
    )
    assert "The buyer asked for a refund: approve or reject it before shipping." in response.content.decode()
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID

    # Once rejected, the ship form is back.
    services.return_reject(actor=owner_of(order), return_id=request.pk, reason="Already packed")
    html = merchant.get("/orders/console/").content.decode()
    assert "Refund requested" not in html
    assert "Mark as shipped" in html
