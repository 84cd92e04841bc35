"""/api/v1/orders/: the buyer's journey end to end, bad input, and scoping."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.models import Product, Sku
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.core.models import IdempotencyRecord
from grassroots.ledger.models import LedgerAccount
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.orders.models import Address, CartItem, Checkout, Order, OrderLine, UnappliedPayment
from grassroots.orders.tests.factories import AddressFactory, ShippingRuleFactory
from grassroots.payments.gateways import CARD_SUCCEEDS
from grassroots.payments.models import PaymentIntent

API = "/api/v1/orders"
PAYMENTS = "/api/v1/payments"
_keys = itertools.count()


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, path: str, data: Any = None, *, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(path, data=data or {}, content_type="application/json", headers=headers)


def place(client: Client, body: dict[str, Any], key: str | None = None) -> Any:
    return post(client, f"{API}/checkout", body, key=key or f"k{next(_keys)}")


def sku_of(merchant: Any = None, **kwargs: Any) -> Sku:
    return SkuFactory(product=ProductFactory(merchant=merchant) if merchant else ProductFactory(), **kwargs)


def counters(sku: Sku) -> tuple[int, int, int]:
    sku.refresh_from_db()
    return sku.stock, sku.reserved, sku.sold


def pay(client: Client, checkout_id: int, capture: Any, card: str = CARD_SUCCEEDS) -> Any:
    """Pay through the payments API with the simulated gateway (its webhook runs on commit)."""
    intent = post(client, f"{PAYMENTS}/intents", {"kind": "checkout", "payable_id": checkout_id}, key="pay-intent")
    if intent.status_code not in (200, 201):
        return intent
    with capture(execute=True):
        post(client, f"{PAYMENTS}/intents/{intent.json()['id']}/confirm", {"card_number": card}, key="pay-confirm")
    return client.get(f"{PAYMENTS}/intents/{intent.json()['id']}")


@pytest.mark.django_db
def test_happy_path_cart_from_two_merchants_to_delivery(django_capture_on_commit_callbacks: Any) -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    tea, skin = MerchantFactory(), MerchantFactory()
    ShippingRuleFactory(merchant=tea, flat_fee=800, free_over=50000)
    green, cream = sku_of(tea, price_amount=3000, stock=10), sku_of(skin, price_amount=12000, stock=3)

    # Given a cart with goods from two merchants and an address
    assert post(client, f"{API}/cart/items", {"sku_id": green.pk, "quantity": 2}).status_code == 201
    assert post(client, f"{API}/cart/items", {"sku_id": cream.pk, "quantity": 1}).status_code == 201
    cart = client.get(f"{API}/cart/items").json()
    assert sorted((i["sku_id"], i["quantity"], i["line_total"]) for i in cart["items"]) == [
        (green.pk, 2, 6000),
        (cream.pk, 1, 12000),
    ]
    address = post(
        client,
        f"{API}/addresses",
        {"name": "Li Lei", "phone": "13800138000", "region": "Zhejiang", "city": "Hangzhou", "line1": "1 Lake Rd"},
    ).json()
    assert address["is_default"] is True

    # When the buyer checks out the cart
    response = place(client, {"address_id": address["id"], "from_cart": True}, key="checkout-1")

    # Then one checkout holds two orders and the stock is reserved
    assert response.status_code == 201, response.json()
    checkout = response.json()
    assert (checkout["status"], checkout["goods_total"], checkout["shipping_total"], checkout["total"]) == (
        "pending_payment",
        18000,
        800,
        18800,
    )
    assert sorted((o["merchant_id"], o["total"]) for o in checkout["orders"]) == [(tea.pk, 6800), (skin.pk, 12000)]
    assert checkout["pay_url"] == f"/payments/pay/start/checkout/{checkout['id']}/"
    assert counters(green) == (8, 2, 0)
    assert counters(cream) == (2, 1, 0)
    assert client.get(f"{API}/cart/items").json()["items"] == []

    # When it is paid with the simulated card
    intent = pay(client, checkout["id"], django_capture_on_commit_callbacks)
    assert intent.json()["status"] == "succeeded"
    paid = client.get(f"{API}/checkouts/{checkout['id']}").json()
    assert paid["status"] == "paid"
    assert {o["status"] for o in paid["orders"]} == {"paid"}
    assert counters(green) == (8, 0, 2)
    assert counters(cream) == (2, 0, 1)
    assert LedgerAccount.objects.get(code="buyer:clearing").cached_balance == 0  # captured, then allocated

    # And the merchant ships, the buyer confirms receipt
    tea_order = next(o for o in paid["orders"] if o["merchant_id"] == tea.pk)
    merchant_client = client_for(tea.owner)
    queue = merchant_client.get(f"{API}/merchant/orders?status=paid").json()
    assert [o["id"] for o in queue["items"]] == [tea_order["id"]]
    shipped = post(
        merchant_client,
        f"{API}/merchant/orders/{tea_order['id']}/ship",
        {"carrier": "SF Express", "tracking_number": "SF1234567890"},
    )
    assert (shipped.status_code, shipped.json()["status"]) == (200, "shipped")
    received = post(client, f"{API}/orders/{tea_order['id']}/confirm-receipt")
    assert received.status_code == 200
    detail = received.json()
    assert detail["status"] == "delivered"
    assert [h["action"] for h in detail["history"]] == ["place", "pay", "ship", "deliver"]
    listed = client.get(f"{API}/orders").json()
    assert {o["id"] for o in listed["items"]} == {o["id"] for o in checkout["orders"]}


@pytest.mark.django_db
def test_a_retry_with_the_same_key_returns_the_same_checkout() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=5)
    body = {"address_id": address.pk, "items": [{"sku_id": sku.pk, "quantity": 2}]}

    first = place(client, body, key="same")
    second = place(client, body, key="same")
    no_key = post(client, f"{API}/checkout", body)

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert (no_key.status_code, no_key.json()["code"]) == (400, "idempotency_key_required")
    assert Checkout.objects.count() == 1
    assert counters(sku) == (3, 2, 0)


@pytest.mark.django_db
def test_the_checkout_response_is_what_reading_it_gives() -> None:
    """POST builds its response from the rows it just wrote (no read-back): the same JSON as GET."""
    buyer = UserFactory()
    client = client_for(buyer)
    address = AddressFactory(owner=buyer)
    merchant = MerchantFactory()
    ShippingRuleFactory(merchant=merchant, flat_fee=500)
    skus = [sku_of(merchant, stock=5), sku_of(stock=5), sku_of(merchant, stock=5)]
    body = {"address_id": address.pk, "items": [{"sku_id": sku.pk, "quantity": 1} for sku in skus]}

    placed = place(client, body)
    read = client.get(f"{API}/checkouts/{placed.json()['id']}")

    assert (placed.status_code, read.status_code) == (201, 200)
    assert placed.json() == read.json()
    assert len(placed.json()["orders"]) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("quantity", [0, -1, 100000, "abc", 1.5, None, True, "\u00b2", "9" * 5000])
def test_bad_quantities_are_422_and_write_nothing(quantity: Any) -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=5)

    add = post(client, f"{API}/cart/items", {"sku_id": sku.pk, "quantity": quantity})
    buy = place(client, {"address_id": address.pk, "items": [{"sku_id": sku.pk, "quantity": quantity}]})

    assert add.status_code == 422
    assert buy.status_code == 422
    assert set(add.json()) == {"code", "message", "fields"}
    assert not CartItem.objects.exists()
    assert not Checkout.objects.exists()
    assert counters(sku) == (5, 0, 0)


@pytest.mark.django_db
def test_cart_quantity_update_is_checked_too() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    sku = sku_of(stock=5)
    item = post(client, f"{API}/cart/items", {"sku_id": sku.pk, "quantity": 1}).json()

    for bad in (0, -1, 100000, "abc"):
        response = client.patch(f"{API}/cart/items/{item['id']}", {"quantity": bad}, content_type="application/json")
        assert response.status_code == 422, bad
    good = client.patch(f"{API}/cart/items/{item['id']}", {"quantity": 4}, content_type="application/json")
    too_many = client.patch(f"{API}/cart/items/{item['id']}", {"quantity": 6}, content_type="application/json")

    assert (good.status_code, good.json()["quantity"]) == (200, 4)
    assert (too_many.status_code, too_many.json()["code"], too_many.json()["fields"]) == (
        409,
        "out_of_stock",
        {str(sku.pk): 5},
    )
    assert CartItem.objects.get().quantity == 4


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["suspended", "in_review"])
def test_an_unlisted_or_suspended_product_is_not_available(state: str) -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=5)
    Product.objects.filter(pk=sku.product_id).update(status=state, is_listed=False)

    add = post(client, f"{API}/cart/items", {"sku_id": sku.pk, "quantity": 1})
    buy = place(client, {"address_id": address.pk, "items": [{"sku_id": sku.pk, "quantity": 1}]})

    assert (add.status_code, add.json()["code"]) == (422, "not_available")
    assert (buy.status_code, buy.json()["code"]) == (422, "not_available")
    assert not CartItem.objects.exists()
    assert not Checkout.objects.exists()
    assert counters(sku) == (5, 0, 0)


@pytest.mark.django_db
def test_a_product_suspended_after_it_was_put_in_the_cart_cannot_be_checked_out() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=5)
    post(client, f"{API}/cart/items", {"sku_id": sku.pk, "quantity": 1})
    Product.objects.filter(pk=sku.product_id).update(status="suspended", is_listed=False)

    buy = place(client, {"address_id": address.pk, "from_cart": True})

    assert (buy.status_code, buy.json()["code"]) == (422, "not_available")
    assert client.get(f"{API}/cart/items").json()["items"][0]["available"] is False
    assert not Checkout.objects.exists()


@pytest.mark.django_db
def test_insufficient_stock_is_409_with_what_is_left() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    address = AddressFactory(owner=buyer)
    plenty, scarce = sku_of(stock=10), sku_of(stock=1)

    response = place(
        client,
        {
            "address_id": address.pk,
            "items": [{"sku_id": plenty.pk, "quantity": 2}, {"sku_id": scarce.pk, "quantity": 2}],
        },
    )

    assert response.status_code == 409
    assert response.json()["code"] == "out_of_stock"
    assert response.json()["fields"] == {str(scarce.pk): 1}
    assert not Checkout.objects.exists()
    assert not OrderLine.objects.exists()
    assert counters(plenty) == (10, 0, 0)
    assert counters(scarce) == (1, 0, 0)


@pytest.mark.django_db
def test_someone_elses_things_are_404_and_unchanged() -> None:
    owner, intruder = UserFactory(), UserFactory()
    mine, theirs = client_for(owner), client_for(intruder)
    address = AddressFactory(owner=owner)
    AddressFactory(owner=intruder)
    sku = sku_of(stock=10)
    item = post(mine, f"{API}/cart/items", {"sku_id": sku.pk, "quantity": 1}).json()
    checkout = place(mine, {"address_id": address.pk, "items": [{"sku_id": sku.pk, "quantity": 1}]}).json()
    order_id = checkout["orders"][0]["id"]

    attempts = [
        theirs.patch(f"{API}/cart/items/{item['id']}", {"quantity": 5}, content_type="application/json"),
        theirs.delete(f"{API}/cart/items/{item['id']}"),
        theirs.patch(f"{API}/addresses/{address.pk}", {"city": "Elsewhere"}, content_type="application/json"),
        theirs.delete(f"{API}/addresses/{address.pk}"),
        place(theirs, {"address_id": address.pk, "items": [{"sku_id": sku.pk, "quantity": 1}]}),
        theirs.get(f"{API}/checkouts/{checkout['id']}"),
        post(theirs, f"{API}/checkouts/{checkout['id']}/cancel"),
        theirs.get(f"{API}/orders/{order_id}"),
        post(theirs, f"{API}/orders/{order_id}/confirm-receipt"),
        post(theirs, f"{PAYMENTS}/intents", {"kind": "checkout", "payable_id": checkout["id"]}, key="steal"),
    ]

    assert [r.status_code for r in attempts] == [404] * len(attempts)
    assert CartItem.objects.get().quantity == 1
    assert Address.objects.get(pk=address.pk).city == "Hangzhou"
    assert Checkout.objects.get().status == "pending_payment"
    assert Checkout.objects.count() == 1
    assert theirs.get(f"{API}/orders").json()["items"] == []
    assert not PaymentIntent.objects.exists()
    assert counters(sku) == (9, 1, 0)


@pytest.mark.django_db
def test_merchant_endpoints_are_scoped_to_members() -> None:
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    merchant, rival = MerchantFactory(), MerchantFactory()
    sku = sku_of(merchant, stock=5)
    checkout = place(client_for(buyer), {"address_id": address.pk, "items": [{"sku_id": sku.pk, "quantity": 1}]})
    order_id = checkout.json()["orders"][0]["id"]
    rival_client = client_for(rival.owner)

    assert rival_client.get(f"{API}/merchant/orders").json()["items"] == []
    ship = post(rival_client, f"{API}/merchant/orders/{order_id}/ship", {"carrier": "SF", "tracking_number": "SF1234"})
    assert ship.status_code == 404
    nobody = client_for(UserFactory()).get(f"{API}/merchant/orders")
    assert (nobody.status_code, nobody.json()["code"]) == (403, "not_a_merchant")
    other = rival_client.get(f"{API}/merchant/orders?merchant_id={merchant.pk}")
    assert other.status_code == 404
    unpaid = post(
        client_for(merchant.owner),
        f"{API}/merchant/orders/{order_id}/ship",
        {"carrier": "SF", "tracking_number": "SF1"},
    )
    assert unpaid.status_code == 422  # tracking number too short, checked before the state
    early = post(
        client_for(merchant.owner),
        f"{API}/merchant/orders/{order_id}/ship",
        {"carrier": "SF", "tracking_number": "SF1234"},
    )
    assert (early.status_code, early.json()["code"]) == (409, "invalid_transition")
    assert Order.objects.get().status == "pending_payment"


@pytest.mark.django_db
def test_paying_a_cancelled_checkout_is_409_not_payable() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=5)
    checkout = place(client, {"address_id": address.pk, "items": [{"sku_id": sku.pk, "quantity": 2}]}).json()

    cancelled = post(client, f"{API}/checkouts/{checkout['id']}/cancel")
    again = post(client, f"{API}/checkouts/{checkout['id']}/cancel")
    intent = post(client, f"{PAYMENTS}/intents", {"kind": "checkout", "payable_id": checkout["id"]}, key="p")

    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert again.status_code == 200
    assert {o["status"] for o in cancelled.json()["orders"]} == {"cancelled"}
    assert (intent.status_code, intent.json()["code"]) == (409, "not_payable")
    assert not PaymentIntent.objects.exists()
    assert counters(sku) == (5, 0, 0)


@pytest.mark.django_db
def test_a_capture_that_arrives_after_the_checkout_expired_is_recorded_and_refunded(
    django_capture_on_commit_callbacks: Any,
) -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=5, price_amount=5000)
    checkout = place(client, {"address_id": address.pk, "items": [{"sku_id": sku.pk, "quantity": 1}]}).json()
    intent = post(client, f"{PAYMENTS}/intents", {"kind": "checkout", "payable_id": checkout["id"]}, key="i").json()

    # The buyer submits the card; before the provider's webhook lands, the checkout expires.
    with django_capture_on_commit_callbacks(execute=False) as webhooks:
        confirm = post(client, f"{PAYMENTS}/intents/{intent['id']}/confirm", {"card_number": CARD_SUCCEEDS}, key="c")
    assert confirm.json()["status"] == "processing"
    from grassroots.orders.services import checkouts_expire

    Checkout.objects.filter(pk=checkout["id"]).update(expires_at="2000-01-01T00:00:00Z")
    assert checkouts_expire() == 1
    assert counters(sku) == (5, 0, 0)
    for callback in webhooks:
        callback()

    # The money came in and went straight back; the goods stay released.
    paid_intent = PaymentIntent.objects.get()
    assert paid_intent.status == "succeeded"
    assert paid_intent.amount_refunded == 5000
    late = UnappliedPayment.objects.get()
    assert (late.intent_id, late.amount, late.checkout_status, late.refunded_at is not None) == (
        paid_intent.pk,
        5000,
        "expired",
        True,
    )
    assert Checkout.objects.get().status == "expired"
    assert Order.objects.get().status == "cancelled"
    assert counters(sku) == (5, 0, 0)
    assert LedgerAccount.objects.get(code="buyer:clearing").cached_balance == 0
    assert LedgerAccount.objects.get(code="gateway:cash").cached_balance == 0


@pytest.mark.django_db
def test_address_book_crud_and_validation() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    good = {"name": "A", "phone": "+86 138-0013-8000", "region": "R", "city": "C", "line1": "L"}

    first = post(client, f"{API}/addresses", good).json()
    second = post(client, f"{API}/addresses", {**good, "name": "B", "is_default": True}).json()
    bad_phone = post(client, f"{API}/addresses", {**good, "phone": "call me"})
    empty = post(client, f"{API}/addresses", {**good, "name": "<b></b>"})
    patched = client.patch(f"{API}/addresses/{first['id']}", {"city": "Suzhou"}, content_type="application/json")

    assert (bad_phone.status_code, bad_phone.json()["fields"]) == (422, {"phone": "invalid"})
    assert (empty.status_code, empty.json()["fields"]) == (422, {"name": "required"})
    assert patched.json()["city"] == "Suzhou"
    listed = client.get(f"{API}/addresses").json()
    assert [(a["id"], a["is_default"]) for a in listed] == [(second["id"], True), (first["id"], False)]
    assert client.delete(f"{API}/addresses/{second['id']}").status_code == 204
    assert [(a["id"], a["is_default"]) for a in client.get(f"{API}/addresses").json()] == [(first["id"], True)]


@pytest.mark.django_db
def test_orders_list_is_cursor_paginated() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=50)
    for _ in range(3):
        place(client, {"address_id": address.pk, "items": [{"sku_id": sku.pk, "quantity": 1}]})

    first = client.get(f"{API}/orders?limit=2").json()
    second = client.get(f"{API}/orders?limit=2&cursor={first['next_cursor']}").json()

    ids = list(Order.objects.order_by("-id").values_list("id", flat=True))
    assert [o["id"] for o in first["items"]] == ids[:2]
    assert [o["id"] for o in second["items"]] == ids[2:]
    assert second["next_cursor"] is None
    assert client.get(f"{API}/orders?status=bogus").status_code == 422


def test_anonymous_callers_are_401(client: Client) -> None:
    assert client.get(f"{API}/cart/items").status_code == 401


@pytest.mark.django_db
def test_the_openapi_schema_lists_the_order_paths() -> None:
    paths = set(Client().get("/api/v1/openapi.json").json()["paths"])
    assert {
        f"{API}/cart/items",
        f"{API}/cart/items/{{item_id}}",
        f"{API}/addresses",
        f"{API}/addresses/{{address_id}}",
        f"{API}/checkout",
        f"{API}/checkouts/{{checkout_id}}",
        f"{API}/checkouts/{{checkout_id}}/cancel",
        f"{API}/orders",
        f"{API}/orders/{{order_id}}",
        f"{API}/orders/{{order_id}}/confirm-receipt",
        f"{API}/merchant/orders",
        f"{API}/merchant/orders/{{order_id}}/ship",
    } <= paths


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_100_concurrent_checkouts_with_one_key_make_one_checkout() -> None:
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=100)
    cookies = client_for(buyer).cookies
    body = {"address_id": address.pk, "items": [{"sku_id": sku.pk, "quantity": 3}]}
    # PostgreSQL allows 100 connections in all; leave room for the test's own and other clients.
    workers = 40 if connection.vendor == "postgresql" else 100
    pending = list(range(100))
    results: list[tuple[int, Any]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(workers)

    def worker() -> None:
        client = Client()
        client.cookies = cookies
        try:
            barrier.wait()
            while True:
                with lock:
                    if not pending:
                        return
                    pending.pop()
                response = place(client, body, key="one-key")
                with lock:
                    results.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 100
    checkout = Checkout.objects.get()
    assert {status for status, _ in results} <= {201, 409}
    assert all(body["id"] == checkout.pk for status, body in results if status == 201)
    assert all(body["code"] == "idempotency_in_progress" for status, body in results if status == 409)
    assert counters(sku) == (97, 3, 0)
    assert IdempotencyRecord.objects.get().state == "done"
