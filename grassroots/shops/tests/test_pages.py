from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.models import Product
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.ledger.models import JournalEntry
from grassroots.payments.models import PaymentIntent
from grassroots.shops.models import CommissionRate, Shop, ShopItem
from grassroots.shops.selectors import commission_rate_at
from grassroots.shops.tests.factories import ShopFactory, ShopItemFactory, count_queries, rate_row, with_image

pytestmark = pytest.mark.django_db


def as_user(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- becoming a shopkeeper ----------------------------------------------------------------


def test_the_open_page_promises_no_fee_and_opens_a_shop_in_one_step():
    user = UserFactory()
    client = as_user(user)

    page = client.get("/shops/open/")
    opened = client.post("/shops/open/", {"name": "Lily", "pitch": "Tea", "accept_terms": "on"})

    assert page.status_code == 200
    assert "No fee, ever." in page.text
    assert "only on real, unreturned sales" in page.text
    assert "At most two reward levels" in page.text
    assert opened.status_code == 302 and opened["Location"] == "/shops/select/"
    assert Shop.objects.get().owner == user
    assert (JournalEntry.objects.count(), PaymentIntent.objects.count()) == (0, 0)


def test_the_open_page_requires_the_terms():
    client = as_user(UserFactory())

    response = client.post("/shops/open/", {"name": "Lily"})

    assert response.status_code == 422
    assert "Accept the shopkeeper terms" in response.text
    assert not Shop.objects.exists()


def test_a_shopkeeper_is_sent_from_open_to_their_shop_and_visitors_to_login():
    shop = ShopFactory()

    assert as_user(shop.owner).get("/shops/open/")["Location"] == "/shops/mine/"
    assert Client().get("/shops/open/")["Location"].startswith("/accounts/login/")


# --- the public shop page -----------------------------------------------------------------


def test_the_public_shop_page_shows_recommendations_and_hides_suspended_products():
    shop = ShopFactory(slug="lily", name="Lily's Picks", pitch="Only what I use.")
    shown = ShopItemFactory(shop=shop, recommendation="My morning tea", product__title_en="Green Tea")
    hidden = ShopItemFactory(shop=shop, recommendation="Gone now", product__title_en="Fake Bag")
    Product.objects.filter(pk=hidden.product_id).update(status=Product.Status.SUSPENDED, is_listed=False)

    response = Client().get("/shops/lily/")

    assert response.status_code == 200
    assert "Lily&#x27;s Picks" in response.text
    assert "Only what I use." in response.text
    assert "My morning tea" in response.text and "Green Tea" in response.text
    assert f'href="/p/{shown.product.slug}/"' in response.text
    assert "¥99.00" in response.text
    assert "Gone now" not in response.text and "Fake Bag" not in response.text
    assert '<meta property="og:title" content="Lily&#x27;s Picks">' in response.text
    assert '<meta property="og:description" content="Only what I use.">' in response.text
    assert '<meta property="og:url" content="http://testserver/shops/lily/">' in response.text


def test_a_paused_shop_page_is_not_found():
    ShopFactory(slug="paused", status=Shop.Status.PAUSED)

    assert Client().get("/shops/paused/").status_code == 404


def test_the_shop_page_costs_the_same_queries_for_3_and_20_items():
    small, large = ShopFactory(slug="small"), ShopFactory(slug="large")
    for shop, n in ((small, 3), (large, 20)):
        for _ in range(n):
            ShopItemFactory(shop=shop, product=with_image(ProductFactory()))

    counts = [count_queries(lambda slug=slug: Client().get(f"/shops/{slug}/")) for slug in ("small", "large")]

    assert counts[0] == counts[1] <= 4


# --- managing my shop ---------------------------------------------------------------------


def test_my_shop_lists_items_with_forms_and_flags_unavailable_ones():
    shop = ShopFactory()
    ShopItemFactory(shop=shop, recommendation="Still here")
    gone = ShopItemFactory(shop=shop, recommendation="Suspended one")
    Product.objects.filter(pk=gone.product_id).update(status=Product.Status.SUSPENDED, is_listed=False)

    response = as_user(shop.owner).get("/shops/mine/")

    assert response.status_code == 200
    assert "Still here" in response.text and "Suspended one" in response.text
    assert "Not available: hidden from your shop" in response.text
    assert f'action="/shops/mine/items/{gone.pk}/remove/"' in response.text


def test_without_a_shop_mine_goes_to_open():
    assert as_user(UserFactory()).get("/shops/mine/")["Location"] == "/shops/open/"


def test_editing_the_shop_and_an_item_and_removing_it():
    item = ShopItemFactory(recommendation="old")
    client = as_user(item.shop.owner)

    client.post("/shops/mine/edit/", {"name": "Renamed", "pitch": "New pitch"})
    client.post(f"/shops/mine/items/{item.pk}/", {"recommendation": "new words", "position": "2"})
    item.refresh_from_db()
    item.shop.refresh_from_db()
    assert (item.shop.name, item.shop.pitch, item.recommendation, item.position) == (
        "Renamed",
        "New pitch",
        "new words",
        2,
    )

    client.post(f"/shops/mine/items/{item.pk}/remove/")
    assert not ShopItem.objects.exists()


def test_someone_elses_item_forms_are_404():
    item = ShopItemFactory(recommendation="mine")
    client = as_user(ShopFactory().owner)

    assert client.post(f"/shops/mine/items/{item.pk}/", {"recommendation": "x"}).status_code == 404
    assert client.post(f"/shops/mine/items/{item.pk}/remove/").status_code == 404
    item.refresh_from_db()
    assert item.recommendation == "mine"


# --- picking from the pool ----------------------------------------------------------------


def test_the_select_page_shows_rate_estimate_and_an_add_form():
    shop = ShopFactory()
    product = ProductFactory(min_price=9900, title_en="Oolong")
    rate_row(product, 1000)

    response = as_user(shop.owner).get("/shops/select/", {"min_rate": "5", "order": "rate"})

    assert response.status_code == 200
    assert "Oolong" in response.text and "¥99.00" in response.text
    assert "Commission 10% · about ¥9.90 per unit" in response.text
    assert "No ratings yet" in response.text
    assert f'name="product_id" value="{product.pk}"' in response.text


def test_adding_from_the_select_page():
    shop = ShopFactory()
    product = ProductFactory()
    unlisted = ProductFactory(is_listed=False, status=Product.Status.SUSPENDED)
    client = as_user(shop.owner)

    added = client.post(
        "/shops/select/add/",
        {"product_id": product.pk, "recommendation": "Love it", "next": "/shops/select/?order=new"},
    )
    refused = client.post("/shops/select/add/", {"product_id": unlisted.pk}, follow=True)

    assert added["Location"] == "/shops/select/?order=new"
    assert list(ShopItem.objects.values_list("product_id", "recommendation")) == [(product.pk, "Love it")]
    assert "This product is not available for shops." in messages_of(refused)


def test_the_select_page_ignores_an_unsafe_next():
    shop = ShopFactory()

    response = as_user(shop.owner).post(
        "/shops/select/add/", {"product_id": ProductFactory().pk, "next": "https://evil.example/"}
    )

    assert response["Location"] == "/shops/select/"


# --- merchant commissions -----------------------------------------------------------------


def test_the_merchant_commission_page_shows_rates_schedules_and_carriers():
    product = ProductFactory(title_en="Jasmine")
    now = timezone.now()
    rate_row(product, 2000, effective_from=now - timedelta(days=1))
    rate_row(product, 1000, effective_from=now + timedelta(days=5))
    ShopItemFactory(product=product, shop__name="Lily's Picks")
    ShopItemFactory(product=product, shop__name="Tea Corner")

    response = as_user(product.merchant.owner).get("/shops/merchant/commissions/")

    assert response.status_code == 200
    assert "Jasmine" in response.text
    assert "20%" in response.text and "10% from" in response.text
    assert "2 shops" in response.text
    assert "Lily&#x27;s Picks" in response.text and "Tea Corner" in response.text


def test_setting_a_rate_from_the_merchant_page():
    product = ProductFactory()
    client = as_user(product.merchant.owner)

    client.post(f"/shops/merchant/commissions/{product.pk}/", {"rate_percent": "12.5"})
    refused = client.post(f"/shops/merchant/commissions/{product.pk}/", {"rate_percent": "90"}, follow=True)

    assert commission_rate_at(product_id=product.pk, at=timezone.now()) == 1250
    assert CommissionRate.objects.count() == 1
    assert any("from 1% to 80%" in m for m in messages_of(refused))


def test_the_merchant_page_is_for_merchants_and_their_own_products():
    product = ProductFactory()
    stranger = ProductFactory().merchant.owner

    assert as_user(UserFactory()).get("/shops/merchant/commissions/").status_code == 403
    assert (
        as_user(stranger).post(f"/shops/merchant/commissions/{product.pk}/", {"rate_percent": "10"}).status_code == 404
    )
    assert not CommissionRate.objects.exists()
