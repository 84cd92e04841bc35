"""The pages, without JavaScript: plain forms, POST and redirect."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.models import Product, Sku
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.orders import services
from grassroots.orders.models import Address, Cart, CartItem, Checkout, Order
from grassroots.orders.tests.factories import AddressFactory, ShippingRuleFactory

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def sku_of(merchant: Any = None, **kwargs: Any) -> Sku:
    return SkuFactory(product=ProductFactory(merchant=merchant) if merchant else ProductFactory(), **kwargs)


def paid_order(buyer: Any, merchant: Any) -> Order:
    address = AddressFactory(owner=buyer)
    sku = sku_of(merchant, stock=5)
    checkout = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 1)])
    services.checkout_mark_paid(checkout_id=checkout.pk, intent_id=checkout.pk)
    return Order.objects.get(checkout=checkout)


def test_a_guest_adds_to_the_session_cart_and_sees_it() -> None:
    client = Client()
    sku = sku_of(stock=5, price_amount=1990)

    response = client.post("/orders/cart/add/", {"sku_id": sku.pk, "quantity": 2})
    page = client.get("/orders/cart/")

    assert response.status_code == 302
    assert CartItem.objects.get().quantity == 2
    assert Cart.objects.get().session_key == client.session.session_key
    assert page.status_code == 200
    assert sku.product.title in page.content.decode()
    assert "¥39.80" in page.content.decode()
    assert "Log in to check out" in page.content.decode()


@pytest.mark.parametrize("quantity", ["0", "-1", "100000", "abc", ""])
def test_bad_quantities_from_a_form_write_nothing(quantity: str) -> None:
    client = Client()
    sku = sku_of(stock=5)

    response = client.post("/orders/cart/add/", {"sku_id": sku.pk, "quantity": quantity}, follow=True)

    assert response.status_code == 200
    assert not CartItem.objects.exists()
    assert "msg-error" in response.content.decode()


def test_a_suspended_product_cannot_be_added() -> None:
    client = Client()
    sku = sku_of(stock=5)
    Product.objects.filter(pk=sku.product_id).update(status="suspended", is_listed=False)

    response = client.post("/orders/cart/add/", {"sku_id": sku.pk, "quantity": 1}, follow=True)

    assert "This item is not available." in response.content.decode()
    assert not CartItem.objects.exists()


def test_cart_update_and_remove_only_touch_your_own_items() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    sku = sku_of(stock=10)
    client.post("/orders/cart/add/", {"sku_id": sku.pk, "quantity": 1})
    item = CartItem.objects.get()

    stranger = client_for(UserFactory())
    stranger.get("/orders/cart/")
    assert stranger.post(f"/orders/cart/items/{item.pk}/update/", {"quantity": 5}).status_code == 404
    assert stranger.post(f"/orders/cart/items/{item.pk}/remove/").status_code == 404
    assert Client().post(f"/orders/cart/items/{item.pk}/remove/").status_code == 404
    assert CartItem.objects.get().quantity == 1

    client.post(f"/orders/cart/items/{item.pk}/update/", {"quantity": 3})
    assert CartItem.objects.get().quantity == 3
    client.post(f"/orders/cart/items/{item.pk}/remove/")
    assert not CartItem.objects.exists()


def test_buy_now_skips_the_cart_and_sends_guests_to_log_in() -> None:
    sku = sku_of(stock=5)

    guest = Client().post("/orders/buy-now/", {"sku_id": sku.pk, "quantity": 2})
    member = client_for(UserFactory()).post("/orders/buy-now/", {"sku_id": sku.pk, "quantity": 2})

    assert guest.status_code == 302
    assert guest.url.startswith("/accounts/login/?next=/orders/checkout/")
    assert member.url == f"/orders/checkout/?sku={sku.pk}&qty=2"
    assert not CartItem.objects.exists()


def test_checkout_page_shows_the_split_and_places_the_order_then_pays() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    address = AddressFactory(owner=buyer)
    tea, skin = MerchantFactory(name="Tea House"), MerchantFactory(name="Skin Lab")
    ShippingRuleFactory(merchant=tea, flat_fee=800)
    green, cream = sku_of(tea, stock=5, price_amount=3000), sku_of(skin, stock=5, price_amount=12000)
    for sku in (green, cream):
        client.post("/orders/cart/add/", {"sku_id": sku.pk, "quantity": 1})

    page = client.get("/orders/checkout/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Tea House" in html and "Skin Lab" in html
    assert "¥8.00" in html  # Tea House's shipping
    assert "¥158.00" in html  # the total

    placed = client.post("/orders/checkout/", {"address_id": address.pk})
    checkout = Checkout.objects.get()
    assert placed.url == f"/orders/checkouts/{checkout.pk}/"
    assert Order.objects.count() == 2
    assert not CartItem.objects.exists()

    detail = client.get(placed.url).content.decode()
    assert f'action="/payments/pay/start/checkout/{checkout.pk}/"' in detail
    started = client.post(f"/payments/pay/start/checkout/{checkout.pk}/")
    assert started.status_code == 302
    assert started.url.startswith("/payments/pay/")


def test_buy_now_checkout_places_only_that_item() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    address = AddressFactory(owner=buyer)
    in_cart, direct = sku_of(stock=5), sku_of(stock=5)
    client.post("/orders/cart/add/", {"sku_id": in_cart.pk, "quantity": 1})

    page = client.get(f"/orders/checkout/?sku={direct.pk}&qty=2")
    placed = client.post("/orders/checkout/", {"address_id": address.pk, "sku": direct.pk, "qty": 2})

    assert direct.product.title in page.content.decode()
    assert placed.status_code == 302
    assert list(Order.objects.get().lines.values_list("sku_id", "quantity")) == [(direct.pk, 2)]
    assert CartItem.objects.get().sku_id == in_cart.pk


def test_checkout_with_someone_elses_address_or_no_stock_fails_cleanly() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    theirs = AddressFactory()
    mine = AddressFactory(owner=buyer)
    sku = sku_of(stock=1)

    stolen = client.post("/orders/checkout/", {"address_id": theirs.pk, "sku": sku.pk, "qty": 1})
    short = client.post("/orders/checkout/", {"address_id": mine.pk, "sku": sku.pk, "qty": 2})

    assert stolen.status_code == 404
    assert short.status_code == 409
    assert "out of stock" in short.content.decode()
    assert not Checkout.objects.exists()


def test_adding_an_address_from_checkout_comes_back_with_it_selected() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    sku = sku_of(stock=5)
    data = {"name": "Li", "phone": "13800138000", "region": "R", "city": "C", "line1": "L", "postcode": ""}

    response = client.post("/orders/addresses/new/", {**data, "next": f"/orders/checkout/?sku={sku.pk}&qty=1"})
    bad = client.post("/orders/addresses/new/", {**data, "phone": "nope"})

    address = Address.objects.get()
    assert response.url == f"/orders/checkout/?sku={sku.pk}&qty=1&address={address.pk}"
    assert bad.status_code == 422
    assert Address.objects.count() == 1
    page = client.get(response.url).content.decode()
    assert f'value="{address.pk}" checked' in page


def test_order_detail_shows_the_timeline_and_the_right_buttons() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    merchant = MerchantFactory()
    order = paid_order(buyer, merchant)
    services.order_ship(actor=merchant.owner, order=order, carrier="SF", tracking_number="SF123456")

    html = client.get(f"/orders/{order.pk}/").content.decode()
    assert "I received it" in html
    assert "SF123456" in html
    timeline = html[html.index('class="timeline"') :]
    assert timeline.index("Placed") < timeline.index("Paid") < timeline.index("Shipped")
    assert client_for(UserFactory()).get(f"/orders/{order.pk}/").status_code == 404
    assert client_for(UserFactory()).post(f"/orders/{order.pk}/confirm-receipt/").status_code == 404

    client.post(f"/orders/{order.pk}/confirm-receipt/")
    order.refresh_from_db()
    assert order.status == "delivered"


def test_an_unpaid_order_can_be_cancelled_from_its_page() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=5)
    checkout = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 2)])
    order = Order.objects.get()

    assert "Cancel order" in client.get(f"/orders/{order.pk}/").content.decode()
    assert client_for(UserFactory()).post(f"/orders/{order.pk}/cancel/").status_code == 404
    client.post(f"/orders/{order.pk}/cancel/")

    checkout.refresh_from_db()
    sku.refresh_from_db()
    assert checkout.status == "cancelled"
    assert (sku.stock, sku.reserved) == (5, 0)
    assert "Cancel order" not in client.get(f"/orders/{order.pk}/").content.decode()


def test_orders_list_has_status_tabs() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    order = paid_order(buyer, MerchantFactory())

    everything = client.get("/orders/").content.decode()
    unpaid = client.get("/orders/?status=pending_payment").content.decode()

    assert f"/orders/{order.pk}/" in everything
    assert f"/orders/{order.pk}/" not in unpaid


def test_merchant_console_ships_with_a_tracking_number() -> None:
    merchant = MerchantFactory()
    order = paid_order(UserFactory(), merchant)
    console = client_for(merchant.owner)

    page = console.get("/orders/console/")
    assert f"/orders/console/{order.pk}/ship/" in page.content.decode()
    assert client_for(UserFactory()).get("/orders/console/").status_code == 404
    rival = client_for(MerchantFactory().owner)
    assert (
        rival.post(f"/orders/console/{order.pk}/ship/", {"carrier": "SF", "tracking_number": "SF1234"}).status_code
        == 404
    )

    console.post(f"/orders/console/{order.pk}/ship/", {"carrier": "SF Express", "tracking_number": "SF99887766"})

    order.refresh_from_db()
    assert (order.status, order.tracking_number) == ("shipped", "SF99887766")
    assert f"/orders/console/{order.pk}/ship/" not in console.get("/orders/console/").content.decode()


def test_address_pages_are_owner_only() -> None:
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    stranger = client_for(UserFactory())

    assert stranger.get(f"/orders/addresses/{address.pk}/edit/").status_code == 404
    assert stranger.post(f"/orders/addresses/{address.pk}/delete/").status_code == 404
    assert Address.objects.filter(pk=address.pk).exists()
    mine = client_for(buyer)
    assert "Hangzhou" in mine.get("/orders/addresses/").content.decode()
    mine.post(f"/orders/addresses/{address.pk}/delete/")
    assert not Address.objects.exists()


def test_merchant_sets_a_shipping_fee_that_checkout_then_charges() -> None:
    merchant = MerchantFactory()
    console = client_for(merchant.owner)

    console.post("/orders/console/shipping/", {"flat_fee": "8.50", "free_over": "199.00"})
    refused = console.post("/orders/console/shipping/", {"flat_fee": "-1"}, follow=True)

    rule = merchant.shipping_rules.get()
    assert (rule.currency, rule.flat_fee, rule.free_over) == ("CNY", 850, 19900)
    assert "msg-error" in refused.content.decode()
    assert 'value="8.50"' in console.get("/orders/console/").content.decode()
    assert client_for(UserFactory()).post("/orders/console/shipping/", {"flat_fee": "1"}).status_code == 404
    plan = services.checkout_plan(items=[(sku_of(merchant, price_amount=1000).pk, 2)])
    assert plan.shipping_total == 850


def test_an_overdue_checkout_shows_as_expired_even_before_the_sweeper_runs() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    address = AddressFactory(owner=buyer)
    sku = sku_of(stock=5)
    checkout = services.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 1)])
    Checkout.objects.filter(pk=checkout.pk).update(expires_at="2000-01-01T00:00:00Z")

    html = client.get(f"/orders/checkouts/{checkout.pk}/").content.decode()

    assert "Pay now" not in html
    assert Checkout.objects.get().status == "expired"
    sku.refresh_from_db()
    assert (sku.stock, sku.reserved) == (5, 0)


def test_placing_without_an_address_asks_for_one() -> None:
    client = client_for(UserFactory())
    sku = sku_of(stock=5)

    response = client.post("/orders/checkout/", {"sku": sku.pk, "qty": 1})

    assert response.status_code == 422
    assert "Choose a delivery address." in response.content.decode()
    assert not Checkout.objects.exists()


def test_the_product_pages_form_fields_work_for_add_and_buy_now() -> None:
    """The product page names its variant radio `sku`; a failed post goes back where it came from."""
    client = client_for(UserFactory())
    sku = sku_of(stock=5)
    product_page = f"/p/{sku.product.slug}/"

    added = client.post("/orders/cart/add/", {"sku": sku.pk, "quantity": 2})
    refused = client.post("/orders/cart/add/", {"sku": sku.pk, "quantity": 0}, headers={"Referer": product_page})
    foreign = client.post(
        "/orders/cart/add/", {"sku": sku.pk, "quantity": 0}, headers={"Referer": "https://evil.example/"}
    )
    bought = client.post("/orders/buy-now/", {"sku": sku.pk, "quantity": 1})

    assert added.url == "/orders/cart/"
    assert CartItem.objects.get().quantity == 2
    assert refused.url == product_page
    assert foreign.url == "/orders/cart/"
    assert bought.url == f"/orders/checkout/?sku={sku.pk}&qty=1"
