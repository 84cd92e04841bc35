from __future__ import annotations

from contextlib import nullcontext
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.models import Product, Sku
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.core.state_machine import InvalidTransition
from grassroots.ledger.models import JournalEntry
from grassroots.merchants.models import Merchant
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.orders import services
from grassroots.orders.machine import ORDER_MACHINE
from grassroots.orders.models import Cart, CartItem, Checkout, Order, OrderLine, OrderStatusChange, UnappliedPayment
from grassroots.orders.tests.factories import AddressFactory, ShippingRuleFactory

pytestmark = pytest.mark.django_db


def sku_of(merchant=None, **kwargs) -> Sku:
    product = ProductFactory(merchant=merchant) if merchant else ProductFactory()
    return SkuFactory(product=product, **kwargs)


def counters(sku: Sku) -> tuple[int, int, int]:
    sku.refresh_from_db()
    return sku.stock, sku.reserved, sku.sold


def nothing_written() -> bool:
    return not (Checkout.objects.exists() or Order.objects.exists() or OrderLine.objects.exists())


def test_checkout_splits_per_merchant_with_shipping_and_reserves_stock():
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    tea, skin = MerchantFactory(), MerchantFactory()
    ShippingRuleFactory(merchant=tea, flat_fee=800, free_over=None)
    ShippingRuleFactory(merchant=skin, flat_fee=1200, free_over=10000)
    green = sku_of(tea, price_amount=3000, stock=10)
    black = sku_of(tea, price_amount=2500, stock=10)
    cream = sku_of(skin, price_amount=12000, stock=5)

    checkout = services.checkout_place(
        buyer=buyer, address_id=address.pk, items=[(green.pk, 2), (black.pk, 1), (cream.pk, 1), (green.pk, 1)]
    )

    orders = {o.merchant_id: o for o in checkout.orders.all()}
    assert set(orders) == {tea.pk, skin.pk}
    assert (orders[tea.pk].goods_total, orders[tea.pk].shipping_total, orders[tea.pk].total) == (11500, 800, 12300)
    assert (orders[skin.pk].goods_total, orders[skin.pk].shipping_total, orders[skin.pk].total) == (12000, 0, 12000)
    assert (checkout.goods_total, checkout.shipping_total, checkout.total) == (23500, 800, 24300)
    assert checkout.status == Checkout.Status.PENDING_PAYMENT
    assert {(line.sku_id, line.quantity, line.paid_amount) for line in OrderLine.objects.all()} == {
        (green.pk, 3, 9000),
        (black.pk, 1, 2500),
        (cream.pk, 1, 12000),
    }
    assert orders[tea.pk].address["city"] == "Hangzhou"
    assert counters(green) == (7, 3, 0)
    assert counters(cream) == (4, 1, 0)
    assert list(OrderStatusChange.objects.values_list("action", "to_status")) == [("place", "pending_payment")] * 2


@pytest.mark.parametrize("quantity", [0, -1, 100, 100000, "abc", 1.5, True, None])
def test_checkout_rejects_bad_quantities(quantity):
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=10)

    with pytest.raises(ValidationFailed) as error:
        services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, quantity)])

    assert error.value.code == "invalid_quantity"
    assert nothing_written()
    assert counters(sku) == (10, 0, 0)


def test_checkout_rejects_a_merged_quantity_over_99():
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=500)

    with pytest.raises(ValidationFailed) as error:
        services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 60), (sku.pk, 60)])

    assert error.value.code == "invalid_quantity"
    assert nothing_written()


@pytest.mark.parametrize(
    "spoil",
    [
        lambda sku: Product.objects.filter(pk=sku.product_id).update(is_listed=False, status="suspended"),
        lambda sku: Product.objects.filter(pk=sku.product_id).update(is_listed=False, status="in_review"),
        lambda sku: Sku.objects.filter(pk=sku.pk).update(is_active=False),
        lambda sku: Merchant.objects.filter(pk=sku.product.merchant_id).update(status="suspended"),
        lambda sku: Sku.objects.filter(pk=sku.pk).delete(),
    ],
    ids=["suspended", "unlisted", "inactive_sku", "suspended_merchant", "missing"],
)
def test_checkout_refuses_unavailable_items(spoil):
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    good = sku_of(stock=10)
    bad = sku_of(stock=10)
    bad_id = bad.pk
    spoil(bad)

    with pytest.raises(ValidationFailed) as error:
        services.checkout_place(buyer=buyer, address_id=address.pk, items=[(good.pk, 1), (bad_id, 1)])

    assert error.value.code == "not_available"
    assert error.value.fields == {str(bad_id): "not_available"}
    assert nothing_written()
    assert counters(good) == (10, 0, 0)


def test_checkout_with_a_short_line_is_409_and_writes_nothing():
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    plenty = sku_of(stock=10)
    scarce = sku_of(stock=2)

    with pytest.raises(services.OutOfStock) as error:
        services.checkout_place(buyer=buyer, address_id=address.pk, items=[(plenty.pk, 3), (scarce.pk, 3)])

    assert (error.value.status, error.value.code) == (409, "out_of_stock")
    assert error.value.fields == {str(scarce.pk): 2}
    assert nothing_written()
    assert counters(plenty) == (10, 0, 0)
    assert counters(scarce) == (2, 0, 0)


@pytest.mark.parametrize("savepoint", [True, False])
def test_a_line_sold_out_after_the_plan_read_is_409_and_writes_nothing(monkeypatch, savepoint):
    """The plan's read saw enough; another buyer takes the units before the reservation (the last
    write, after the inserts): the conditional UPDATE refuses, everything is rolled back."""
    from django.db import transaction

    from grassroots.orders.services import checkout as checkout_module

    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    plenty, scarce = sku_of(stock=10), sku_of(stock=3)
    real_read = checkout_module._plan_read

    def read_then_someone_buys(sku_ids):
        read = real_read(sku_ids)
        Sku.objects.filter(pk=scarce.pk).update(stock=1, reserved=2)
        return read

    monkeypatch.setattr(checkout_module, "_plan_read", read_then_someone_buys)

    # Without a savepoint the caller's block must roll back as a whole (the API's idempotency
    # block does), which also undoes the simulated sale.
    with pytest.raises(services.OutOfStock) as error, transaction.atomic() if not savepoint else nullcontext():
        services.checkout_place(
            buyer=buyer, address_id=address.pk, items=[(plenty.pk, 2), (scarce.pk, 3)], savepoint=savepoint
        )

    assert (error.value.status, error.value.fields) == (409, {str(scarce.pk): 1})
    assert nothing_written()
    assert counters(plenty) == (10, 0, 0)
    assert counters(scarce) == ((1, 2, 0) if savepoint else (3, 0, 0))


def test_the_checkout_comes_back_loaded_as_a_read_would_give_it():
    """No read-back: the orders, their merchant and lines are the objects just written."""
    from grassroots.orders import selectors

    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    merchants = [MerchantFactory(), MerchantFactory()]
    ShippingRuleFactory(merchant=merchants[1], flat_fee=700)
    skus = [sku_of(merchants[0], stock=5), sku_of(merchants[1], stock=5), sku_of(merchants[1], stock=5)]

    placed = services.checkout_place(
        buyer=buyer, address_id=address.pk, items=[(skus[2].pk, 1), (skus[0].pk, 2), (skus[1].pk, 3)]
    )
    read = selectors.checkout_for_buyer(buyer=buyer, checkout_id=placed.pk)

    def shape(checkout):
        return [
            (
                order.pk,
                order.merchant.name,
                order.total,
                [(line.pk, line.sku_id, line.product.title, line.paid_amount) for line in order.lines.all()],
            )
            for order in checkout.orders.all()
        ]

    with CaptureQueriesContext(connection) as captured:
        loaded = shape(placed)
    assert captured.captured_queries == []
    assert loaded == shape(read)
    assert (placed.created_at, placed.expires_at, placed.total) == (read.created_at, read.expires_at, read.total)


def test_someone_elses_address_is_not_found():
    buyer = UserFactory()
    other = AddressFactory()
    sku = sku_of(stock=10)

    with pytest.raises(NotFound):
        services.checkout_place(buyer=buyer, address_id=other.pk, items=[(sku.pk, 1)])

    assert nothing_written()
    assert counters(sku) == (10, 0, 0)


def test_purchase_limit_counts_units_in_orders_that_are_not_cancelled():
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=50, max_per_user=3)
    first = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 2)])

    with pytest.raises(ValidationFailed) as error:
        services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 2)])

    assert (error.value.code, error.value.fields) == ("purchase_limit", {str(sku.pk): 1})
    assert Checkout.objects.count() == 1
    assert counters(sku) == (48, 2, 0)

    services.checkout_cancel(buyer=buyer, checkout_id=first.pk)
    again = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 3)])
    assert again.status == Checkout.Status.PENDING_PAYMENT
    assert counters(sku) == (47, 3, 0)


def test_checkout_from_cart_clears_only_the_bought_items():
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    a, b = sku_of(stock=5), sku_of(stock=5)
    cart = services.cart_get_or_create(user=buyer)
    services.cart_add(cart=cart, sku_id=a.pk, quantity=2)
    services.cart_add(cart=cart, sku_id=b.pk, quantity=1)

    checkout = services.checkout_place(buyer=buyer, address_id=address.pk, from_cart=True)

    assert checkout.total == a.price_amount * 2 + b.price_amount
    assert not CartItem.objects.filter(cart=cart).exists()
    with pytest.raises(ValidationFailed) as error:
        services.checkout_place(buyer=buyer, address_id=address.pk, from_cart=True)
    assert error.value.code == "empty_cart"


def test_a_coupon_code_is_refused_until_coupons_exist():
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=5)

    with pytest.raises(ValidationFailed) as error:
        services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 1)], coupon_code="SAVE10")

    assert error.value.code == "invalid_coupon"
    assert nothing_written()


def test_checkout_place_costs_the_same_queries_for_1_3_and_8_lines():
    """Lines span three merchants, all with a shipping rule and a purchase limit, read from the cart:
    the most work checkout_place does. 12 statements on SQLite and PostgreSQL as the API calls it
    (`savepoint=False`, inside its idempotency block): address, cart, SKUs, shipping rules,
    attribution, 4 inserts, the cart delete, the reservation, the limit count; a savepoint adds 2."""
    merchants = [MerchantFactory() for _ in range(3)]
    for merchant in merchants:
        ShippingRuleFactory(merchant=merchant, flat_fee=500)
    skus = [sku_of(merchants[i % 3], stock=100, max_per_user=50) for i in range(8)]
    counts = []
    for size, savepoint in ((1, False), (3, False), (8, False), (8, True)):
        buyer = UserFactory()
        address = AddressFactory(owner=buyer)
        cart = services.cart_get_or_create(user=buyer)
        for sku in skus[:size]:
            services.cart_add(cart=cart, sku_id=sku.pk, quantity=2)
        with CaptureQueriesContext(connection) as captured:
            services.checkout_place(buyer=buyer, address_id=address.pk, from_cart=True, savepoint=savepoint)
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1] == counts[2]
    assert counts[0] <= 12, counts
    assert counts[3] == counts[0] + 2, counts


def test_cancel_releases_stock_and_is_idempotent():
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    a, b = sku_of(stock=5), sku_of(stock=5)
    checkout = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(a.pk, 2), (b.pk, 5)])

    services.checkout_cancel(buyer=buyer, checkout_id=checkout.pk)
    services.checkout_cancel(buyer=buyer, checkout_id=checkout.pk)

    checkout.refresh_from_db()
    assert checkout.status == Checkout.Status.CANCELLED
    assert set(Order.objects.values_list("status", flat=True)) == {"cancelled"}
    assert counters(a) == (5, 0, 0)
    assert counters(b) == (5, 0, 0)
    assert OrderStatusChange.objects.filter(action="cancel").count() == 2


def test_someone_else_cannot_cancel_a_checkout():
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=5)
    checkout = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 1)])

    with pytest.raises(NotFound):
        services.checkout_cancel(buyer=UserFactory(), checkout_id=checkout.pk)

    checkout.refresh_from_db()
    assert checkout.status == Checkout.Status.PENDING_PAYMENT
    assert counters(sku) == (4, 1, 0)


def test_expiry_releases_stock_only_after_the_window():
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=5)
    now = timezone.now()
    checkout = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 3)], now=now)

    assert services.checkouts_expire(now=now + timedelta(minutes=29)) == 0
    assert counters(sku) == (2, 3, 0)
    assert services.checkouts_expire(now=now + timedelta(minutes=30)) == 1
    assert services.checkouts_expire(now=now + timedelta(minutes=31)) == 0

    checkout.refresh_from_db()
    assert checkout.status == Checkout.Status.EXPIRED
    assert Order.objects.get().status == Order.Status.CANCELLED
    assert OrderStatusChange.objects.filter(action="expire").count() == 1
    assert counters(sku) == (5, 0, 0)


def test_payment_timeout_is_a_setting(settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "ORDER_PAYMENT_TIMEOUT_MINUTES": 5}
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=5)
    now = timezone.now()

    checkout = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 1)], now=now)

    assert checkout.expires_at == now + timedelta(minutes=5)


def test_mark_paid_moves_reserved_to_sold_and_allocates_in_the_ledger(settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "PLATFORM_FEE_BPS": 500}
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    tea = MerchantFactory()
    ShippingRuleFactory(merchant=tea, flat_fee=800)
    green = sku_of(tea, price_amount=3001, stock=10)
    cream = sku_of(price_amount=12000, stock=5)
    checkout = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(green.pk, 2), (cream.pk, 1)])

    assert services.checkout_mark_paid(checkout_id=checkout.pk, intent_id=77) is True
    assert services.checkout_mark_paid(checkout_id=checkout.pk, intent_id=77) is True  # reported twice

    checkout.refresh_from_db()
    assert (checkout.status, checkout.intent_id) == ("paid", 77)
    assert set(Order.objects.values_list("status", flat=True)) == {"paid"}
    assert counters(green) == (8, 0, 2)
    assert counters(cream) == (4, 0, 1)
    tea_order = Order.objects.get(merchant=tea)
    assert tea_order.platform_fee == 300  # 5% of 6002 = 300.1
    entry = JournalEntry.objects.get(idempotency_key=f"order-paid:{tea_order.pk}")
    assert sorted(entry.postings.values_list("account__code", "amount")) == [
        ("buyer:clearing", 6802),
        (f"merchant:{tea.pk}:payable", -6502),
        ("platform:revenue", -300),
    ]
    assert JournalEntry.objects.filter(kind="order_paid").count() == 2
    assert OrderStatusChange.objects.filter(action="pay").count() == 2


def test_order_lifecycle_ship_deliver_and_auto_complete():
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    merchant = MerchantFactory()
    sku = sku_of(merchant, stock=5)
    checkout = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 1)])
    services.checkout_mark_paid(checkout_id=checkout.pk, intent_id=1)
    order = Order.objects.get()

    with pytest.raises(NotFound):
        services.order_ship(actor=UserFactory(), order=order, carrier="SF", tracking_number="SF123456")
    with pytest.raises(ValidationFailed):
        services.order_ship(actor=merchant.owner, order=order, carrier="SF", tracking_number="<b>")
    with pytest.raises(InvalidTransition):
        services.order_confirm_receipt(buyer=buyer, order=order)
    services.order_ship(actor=merchant.owner, order=order, carrier="SF Express", tracking_number="SF1234567890")
    with pytest.raises(NotFound):
        services.order_confirm_receipt(buyer=UserFactory(), order=order)
    delivered_at = timezone.now()
    services.order_confirm_receipt(buyer=buyer, order=order)

    assert services.orders_auto_complete(now=delivered_at + timedelta(days=9)) == 0
    assert services.orders_auto_complete(now=delivered_at + timedelta(days=10, minutes=1)) == 1
    assert services.orders_auto_complete(now=delivered_at + timedelta(days=11)) == 0
    order.refresh_from_db()
    assert (order.status, order.carrier, order.tracking_number) == ("completed", "SF Express", "SF1234567890")
    assert list(order.status_changes.values_list("action", flat=True)) == [
        "place",
        "pay",
        "ship",
        "deliver",
        "complete",
    ]


def test_a_stale_order_cannot_be_moved_twice():
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    merchant = MerchantFactory()
    sku = sku_of(merchant, stock=5)
    checkout = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 1)])
    services.checkout_mark_paid(checkout_id=checkout.pk, intent_id=1)
    copy_a, copy_b = Order.objects.get(), Order.objects.get()

    services.order_ship(actor=merchant.owner, order=copy_a, carrier="SF", tracking_number="SF0001")
    with pytest.raises(InvalidTransition):
        services.order_ship(actor=merchant.owner, order=copy_b, carrier="YTO", tracking_number="YT0002")

    assert Order.objects.get().tracking_number == "SF0001"
    assert OrderStatusChange.objects.filter(action="ship").count() == 1


def test_the_machine_leaves_refund_cancel_to_after_sale():
    assert ORDER_MACHINE.next_state("paid", "refund_cancel") == "cancelled"
    assert not ORDER_MACHINE.can("shipped", "cancel")
    assert not ORDER_MACHINE.can("paid", "cancel")


def test_cart_merge_adds_guest_items_to_the_users_cart():
    user = UserFactory()
    a, b = sku_of(stock=200), sku_of(stock=200)
    guest = services.cart_get_or_create(session_key="guest-session")
    services.cart_add(cart=guest, sku_id=a.pk, quantity=60)
    services.cart_add(cart=guest, sku_id=b.pk, quantity=1)
    mine = services.cart_get_or_create(user=user)
    services.cart_add(cart=mine, sku_id=a.pk, quantity=50)

    services.cart_merge(session_key="guest-session", user=user)

    assert dict(CartItem.objects.filter(cart=mine).values_list("sku_id", "quantity")) == {a.pk: 99, b.pk: 1}
    assert not Cart.objects.filter(session_key="guest-session").exists()


def test_cart_add_accumulates_within_99():
    cart = services.cart_get_or_create(user=UserFactory())
    sku = sku_of(stock=500)
    services.cart_add(cart=cart, sku_id=sku.pk, quantity=90)

    with pytest.raises(ValidationFailed):
        services.cart_add(cart=cart, sku_id=sku.pk, quantity=10)
    item = services.cart_add(cart=cart, sku_id=sku.pk, quantity=9)

    assert item.quantity == 99


def test_stock_is_conserved():
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    skus = [sku_of(stock=20) for _ in range(3)]
    a = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(s.pk, 2) for s in skus])
    b = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(s.pk, 3) for s in skus])
    services.checkout_mark_paid(checkout_id=a.pk, intent_id=5)
    services.checkout_cancel(buyer=buyer, checkout_id=b.pk)

    totals = Sku.objects.filter(pk__in=[s.pk for s in skus]).aggregate(
        stock=Sum("stock"), reserved=Sum("reserved"), sold=Sum("sold")
    )
    assert totals == {"stock": 54, "reserved": 0, "sold": 6}


def test_paid_checkout_cannot_be_cancelled():
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=5)
    checkout = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 1)])
    services.checkout_mark_paid(checkout_id=checkout.pk, intent_id=9)

    with pytest.raises(InvalidTransition):
        services.checkout_cancel(buyer=buyer, checkout_id=checkout.pk)

    assert counters(sku) == (4, 0, 1)
    assert not UnappliedPayment.objects.exists()
