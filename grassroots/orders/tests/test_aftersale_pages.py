"""After-sale pages without JavaScript: per-line forms on the order page, the return page with its
timeline, and the merchant's console of returns to decide."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from grassroots.accounts.tests.factories import UserFactory
from grassroots.ledger.selectors import ledger_problems
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.orders import services
from grassroots.orders.models import Order, ReturnRequest
from grassroots.orders.tests.test_aftersale import counters, delivered, line_of, owner_of, paid_order, snapshot

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_paid_order_page_offers_a_refund_per_line_and_refunds(django_capture_on_commit_callbacks: Any) -> None:
    order, [sku] = paid_order(django_capture_on_commit_callbacks)
    buyer = client_for(order.buyer)
    line = line_of(order)

    page = buyer.get(f"/orders/{order.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert f'action="/orders/{order.pk}/returns/new/"' in html
    assert 'name="kind" value="refund_only"' in html
    assert 'max="2"' in html
    assert ">Refund</button>" in html

    response = buyer.post(
        f"/orders/{order.pk}/returns/new/", {"line_id": line.pk, "quantity": 2, "kind": "refund_only", "reason": "Oops"}
    )

    request = ReturnRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/orders/returns/{request.pk}/"
    assert request.status == "refunded"
    assert Order.objects.get(pk=order.pk).status == "cancelled"
    assert counters(sku) == (10, 0, 0)
    assert ledger_problems() == []
    detail = buyer.get(response["Location"]).content.decode()
    assert "Approved automatically" in detail
    assert "¥68.00" in detail
    assert "including ¥8.00 shipping" in detail
    # nothing more to ask for on a cancelled order
    assert "returns/new" not in buyer.get(f"/orders/{order.pk}/").content.decode()


def test_a_delivered_order_offers_a_return_and_the_journey_runs_on_pages(
    django_capture_on_commit_callbacks: Any,
) -> None:
    order, [sku] = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order)
    buyer, merchant = client_for(order.buyer), client_for(owner_of(order))
    html = buyer.get(f"/orders/{order.pk}/").content.decode()
    assert "Request a return" in html
    assert "You can request a return until" in html

    buyer.post(f"/orders/{order.pk}/returns/new/", {"line_id": line_of(order).pk, "quantity": 1, "kind": "return"})
    request = ReturnRequest.objects.get()
    assert "a return is in progress" in buyer.get(f"/orders/{order.pk}/").content.decode()

    console = merchant.get("/orders/console/returns/").content.decode()
    assert f"/orders/console/returns/{request.pk}/approve/" in console
    assert merchant.post(f"/orders/console/returns/{request.pk}/approve/").status_code == 302

    detail = buyer.get(f"/orders/returns/{request.pk}/").content.decode()
    assert "Send the goods back" in detail
    buyer.post(f"/orders/returns/{request.pk}/ship-back/", {"carrier": "YTO", "tracking_number": "YT12345678"})

    console = merchant.get("/orders/console/returns/?status=shipped_back").content.decode()
    assert "YT12345678" in console
    assert f"/orders/console/returns/{request.pk}/receive/" in console
    assert merchant.post(f"/orders/console/returns/{request.pk}/receive/").status_code == 302

    request.refresh_from_db()
    assert (request.status, request.refund_amount) == ("refunded", 3000)
    assert counters(sku) == (9, 0, 1)
    assert ledger_problems() == []
    timeline = buyer.get(f"/orders/returns/{request.pk}/").content.decode()
    for step in ("Requested", "Approved", "Sent back", "Goods received by the merchant", "Refunded"):
        assert step in timeline
    assert f"/orders/returns/{request.pk}/" in buyer.get("/orders/returns/").content.decode()


def test_rejecting_on_the_console_needs_a_reason(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order)
    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order).pk, 1)]
    )
    merchant = client_for(owner_of(order))

    merchant.post(f"/orders/console/returns/{request.pk}/reject/", {"reason": ""})
    assert ReturnRequest.objects.get().status == "requested"
    merchant.post(f"/orders/console/returns/{request.pk}/reject/", {"reason": "Worn"})

    assert ReturnRequest.objects.get().status == "rejected"
    assert "Worn" in client_for(order.buyer).get(f"/orders/returns/{request.pk}/").content.decode()


def test_the_window_closed_means_no_form_and_a_forged_post_writes_nothing(
    django_capture_on_commit_callbacks: Any,
) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order, days_ago=8)
    buyer = client_for(order.buyer)
    before = snapshot()

    html = buyer.get(f"/orders/{order.pk}/").content.decode()
    response = buyer.post(
        f"/orders/{order.pk}/returns/new/", {"line_id": line_of(order).pk, "quantity": 1, "kind": "return"}, follow=True
    )

    assert "returns/new" not in html
    assert "The return window for this order has closed." in response.content.decode()
    assert snapshot() == before


def test_strangers_and_other_merchants_get_404(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order)
    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order).pk, 1)]
    )
    stranger = client_for(UserFactory())
    other_merchant = client_for(MerchantFactory().owner)
    before = snapshot()

    assert (
        stranger.post(
            f"/orders/{order.pk}/returns/new/", {"line_id": line_of(order).pk, "quantity": 1, "kind": "return"}
        ).status_code
        == 404
    )
    assert stranger.get(f"/orders/returns/{request.pk}/").status_code == 404
    assert stranger.post(f"/orders/returns/{request.pk}/cancel/").status_code == 404
    assert stranger.get("/orders/console/returns/").status_code == 404
    assert other_merchant.post(f"/orders/console/returns/{request.pk}/approve/").status_code == 404
    assert other_merchant.post(f"/orders/console/returns/{request.pk}/receive/").status_code == 404
    assert other_merchant.post(f"/orders/console/returns/{request.pk}/reject/", {"reason": "x"}).status_code == 404
    assert f"Return {request.pk}" not in other_merchant.get("/orders/console/returns/?status=").content.decode()
    assert snapshot() == before


def test_the_buyer_can_withdraw_a_request(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order)
    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order).pk, 1)]
    )
    buyer = client_for(order.buyer)

    response = buyer.post(f"/orders/returns/{request.pk}/cancel/")

    assert response.status_code == 302
    assert ReturnRequest.objects.get().status == "cancelled"
    assert "Request a return" in buyer.get(f"/orders/{order.pk}/").content.decode()


def test_a_double_submitted_refund_form_refunds_once(django_capture_on_commit_callbacks: Any) -> None:
    order, [sku] = paid_order(django_capture_on_commit_callbacks)
    buyer = client_for(order.buyer)
    html = buyer.get(f"/orders/{order.pk}/").content.decode()
    token = html.split('name="form_token" value="')[1].split('"')[0]
    form = {"line_id": line_of(order).pk, "quantity": 1, "kind": "refund_only", "form_token": token}

    first = buyer.post(f"/orders/{order.pk}/returns/new/", form)
    second = buyer.post(f"/orders/{order.pk}/returns/new/", form)

    request = ReturnRequest.objects.get()
    assert first["Location"] == second["Location"] == f"/orders/returns/{request.pk}/"
    assert (request.status, request.refund_amount) == ("refunded", 3000)
    assert counters(sku) == (9, 0, 1)
    assert ledger_problems() == []
