"""Tasks and cron commands call the same services; running them twice changes nothing more."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

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


def test_complete_task_and_command_complete_delivered_orders_after_the_window():
    buyer = UserFactory()
    merchant = MerchantFactory()
    address = AddressFactory(owner=buyer)
    sku = SkuFactory(stock=5, product__merchant=merchant)
    checkout = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 1)])
    services.checkout_mark_paid(checkout_id=checkout.pk, intent_id=42)
    order = Order.objects.get()
    services.order_ship(actor=merchant.owner, order=order, carrier="SF", tracking_number="SF0001")
    services.order_confirm_receipt(buyer=buyer, order=order)

    assert tasks.complete_orders.enqueue().return_value == 0
    Order.objects.filter(pk=order.pk).update(delivered_at=timezone.now() - timedelta(days=11))
    out = StringIO()
    call_command("complete_orders", stdout=out)
    assert tasks.complete_orders.enqueue().return_value == 0

    assert "completed 1 orders" in out.getvalue()
    assert Order.objects.get().status == "completed"
    assert OrderStatusChange.objects.filter(action="complete").count() == 1
