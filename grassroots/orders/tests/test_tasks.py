"""Tasks and cron commands call the same services; running them twice changes nothing more."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.tests.factories import SkuFactory
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.orders import services, tasks
from grassroots.orders.models import Checkout, Order, OrderStatusChange
from grassroots.orders.tests.factories import AddressFactory

pytestmark = pytest.mark.django_db


def _placed(quantity: int = 2, *, minutes_ago: int = 0):
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    sku = SkuFactory(stock=5)
    checkout = services.checkout_place(
        buyer=buyer,
        address_id=address.pk,
        items=[(sku.pk, quantity)],
        now=timezone.now() - timedelta(minutes=minutes_ago),
    )
    return checkout, sku


def test_expire_task_and_command_release_overdue_checkouts_once():
    overdue, sku = _placed(minutes_ago=31)
    fresh, fresh_sku = _placed(minutes_ago=5)

    result = tasks.expire_checkouts.enqueue()
    out = StringIO()
    call_command("expire_checkouts", stdout=out)

    assert result.return_value == 1
    assert "expired 0 checkouts" in out.getvalue()
    assert Checkout.objects.get(pk=overdue.pk).status == "expired"
    assert Checkout.objects.get(pk=fresh.pk).status == "pending_payment"
    sku.refresh_from_db()
    fresh_sku.refresh_from_db()
    assert (sku.stock, sku.reserved) == (5, 0)
    assert (fresh_sku.stock, fresh_sku.reserved) == (3, 2)
    assert OrderStatusChange.objects.filter(action="expire").count() == 1


def test_expire_one_checkout_task_waits_for_the_window():
    checkout, _sku = _placed(minutes_ago=10)

    assert tasks.expire_checkout.enqueue(checkout.pk).return_value is False
    later = (timezone.now() + timedelta(minutes=30)).isoformat()
    assert tasks.expire_checkouts.enqueue(now=later).return_value == 1
    assert tasks.expire_checkout.enqueue(checkout.pk).return_value is False
    assert Checkout.objects.get().status == "expired"


def _shipped_orders(count: int = 1) -> tuple[Any, list[Order]]:
    """(buyer, orders): `count` paid orders of one buyer, each shipped."""
    buyer = UserFactory()
    merchant = MerchantFactory()
    address = AddressFactory(owner=buyer)
    sku = SkuFactory(stock=5, product__merchant=merchant)
    for _ in range(count):
        checkout = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 1)])
        services.checkout_mark_paid(checkout_id=checkout.pk, intent_id=checkout.pk)
    orders = list(Order.objects.order_by("pk"))
    for order in orders:
        services.order_ship(actor=merchant.owner, order=order, carrier="SF", tracking_number="SF0001")
    return buyer, orders


def test_complete_task_and_command_complete_delivered_orders_after_the_window():
    buyer, (order,) = _shipped_orders()
    services.order_confirm_receipt(buyer=buyer, order=order)

    assert tasks.complete_orders.enqueue().return_value == 0
    Order.objects.filter(pk=order.pk).update(delivered_at=timezone.now() - timedelta(days=11))
    out = StringIO()
    call_command("complete_orders", stdout=out)
    assert tasks.complete_orders.enqueue().return_value == 0

    assert "completed 1 orders" in out.getvalue()
    assert Order.objects.get().status == "completed"
    assert OrderStatusChange.objects.filter(action="complete").count() == 1


def test_a_shipped_order_nobody_confirms_counts_as_received_after_the_configured_days(settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "ORDER_AUTO_RECEIVE_DAYS": 10}
    buyer, (silent, confirming) = _shipped_orders(2)
    confirmed_by_buyer: list[int] = []
    shipped_at = Order.objects.get(pk=silent.pk).shipped_at

    assert services.orders_auto_receive(now=shipped_at + timedelta(days=9, hours=23)) == 0
    services.order_confirm_receipt(buyer=buyer, order=confirming)
    confirmed_by_buyer.append(confirming.pk)
    later = shipped_at + timedelta(days=10, minutes=1)
    assert services.orders_auto_receive(now=later) == 1
    assert services.orders_auto_receive(now=later) == 0  # idempotent

    silent.refresh_from_db()
    assert (silent.status, silent.delivered_at) == ("delivered", later)
    automatic = OrderStatusChange.objects.get(order=silent, action="deliver")
    assert (automatic.actor_id, automatic.note) == (None, "auto")
    assert OrderStatusChange.objects.get(order_id=confirmed_by_buyer[0], action="deliver").actor_id == buyer.pk
    # The return window and completion count from then, as after a confirmation.
    services.orders_auto_complete(now=later + timedelta(days=9))
    assert Order.objects.get(pk=silent.pk).status == "delivered"
    services.orders_auto_complete(now=later + timedelta(days=10, minutes=1))
    assert Order.objects.get(pk=silent.pk).status == "completed"


def test_the_periodic_job_receives_then_completes():
    _buyer, (order,) = _shipped_orders()
    Order.objects.filter(pk=order.pk).update(shipped_at=timezone.now() - timedelta(days=30))

    out = StringIO()
    call_command("complete_orders", stdout=out)

    assert "received 1 orders" in out.getvalue()
    assert Order.objects.get().status == "delivered"
