from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory, bearer_headers
from grassroots.catalog.models import Product
from grassroots.catalog.tests.factories import CategoryFactory, ProductFactory
from grassroots.ledger.models import JournalEntry
from grassroots.payments.models import PaymentIntent
from grassroots.shops.models import CommissionRate, Shop, ShopItem
from grassroots.shops.selectors import commission_rate_at
from grassroots.shops.tests.factories import (
    ShopFactory,
    ShopItemFactory,
    count_queries,
    png_upload,
    rate_row,
    with_image,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/shops"


def as_user(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


# --- opening and managing -----------------------------------------------------------------


def test_opening_a_shop_through_the_api_is_free():
    user = UserFactory()

    response = as_user(user).post(
        f"{API}/", {"name": "Lily", "pitch": "Tea", "accept_terms": True}, content_type="application/json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["slug"], body["name"], body["pitch"], body["status"], body["item_count"]) == (
        "lily",
        "Lily",
        "Tea",
        "active",
        0,
    )
    assert body["url"] == "http://testserver/shops/lily/"
    assert (JournalEntry.objects.count(), PaymentIntent.objects.count()) == (0, 0)


def test_opening_needs_the_terms_and_only_once():
    user = UserFactory()
    client = as_user(user)

    refused = client.post(f"{API}/", {"name": "Lily"}, content_type="application/json")
    assert error_of(refused) == (422, "terms_required")
    assert not Shop.objects.exists()

    client.post(f"{API}/", {"name": "Lily", "accept_terms": True}, content_type="application/json")
    again = client.post(f"{API}/", {"name": "Lily 2", "accept_terms": True}, content_type="application/json")
    assert error_of(again) == (409, "already_shopkeeper")
    assert Shop.objects.count() == 1


def test_anonymous_callers_cannot_open_a_shop():
    response = Client().post(f"{API}/", {"name": "x", "accept_terms": True}, content_type="application/json")

    assert error_of(response) == (401, "unauthenticated")


def test_my_shop_before_and_after_opening():
    user = UserFactory()
    client = Client()
    headers = bearer_headers(user)
    assert error_of(client.get(f"{API}/mine", **headers)) == (404, "no_shop")

    ShopFactory(owner=user, name="Old")
    patched = client.patch(f"{API}/mine", {"pitch": "Fresh"}, content_type="application/json", **headers)

    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["pitch"]) == ("Old", "Fresh")


def test_uploading_an_avatar():
    shop = ShopFactory()

    response = Client().post(f"{API}/mine/avatar", {"avatar": png_upload()}, **bearer_headers(shop.owner))

    assert response.status_code == 200, response.content
    assert response.json()["avatar_url"].endswith(".jpg")


def test_adding_editing_and_removing_items():
    shop = ShopFactory()
    product = ProductFactory()
    client = as_user(shop.owner)

    added = client.post(
        f"{API}/mine/items", {"product_id": product.pk, "recommendation": "Great"}, content_type="application/json"
    )
    assert added.status_code == 201, added.content
    item_id = added.json()["id"]
    assert (added.json()["product_id"], added.json()["recommendation"], added.json()["is_available"]) == (
        product.pk,
        "Great",
        True,
    )

    edited = client.patch(
        f"{API}/mine/items/{item_id}", {"recommendation": "Even better"}, content_type="application/json"
    )
    assert edited.json()["recommendation"] == "Even better"
    listed = client.get(f"{API}/mine/items")
    assert [i["id"] for i in listed.json()["items"]] == [item_id]

    removed = client.delete(f"{API}/mine/items/{item_id}")
    assert removed.status_code == 204
    assert not ShopItem.objects.exists()


def test_unlisted_and_duplicate_products():
    item = ShopItemFactory()
    unlisted = ProductFactory(is_listed=False, status=Product.Status.SUSPENDED)
    client = as_user(item.shop.owner)

    refused = client.post(f"{API}/mine/items", {"product_id": unlisted.pk}, content_type="application/json")
    duplicate = client.post(f"{API}/mine/items", {"product_id": item.product_id}, content_type="application/json")

    assert error_of(refused) == (422, "not_available")
    assert error_of(duplicate) == (409, "already_in_shop")
    assert list(ShopItem.objects.values_list("pk", flat=True)) == [item.pk]


def test_someone_elses_items_are_not_found():
    item = ShopItemFactory(recommendation="mine")
    client = as_user(ShopFactory().owner)

    patched = client.patch(f"{API}/mine/items/{item.pk}", {"recommendation": "x"}, content_type="application/json")
    deleted = client.delete(f"{API}/mine/items/{item.pk}")

    assert error_of(patched) == (404, "not_found")
    assert error_of(deleted) == (404, "not_found")
    item.refresh_from_db()
    assert item.recommendation == "mine"


# --- public shops -------------------------------------------------------------------------


def test_a_public_shop_and_its_items_for_anyone():
    shop = ShopFactory(slug="lily", name="Lily")
    shown = ShopItemFactory(shop=shop, recommendation="Try it")
    hidden = ShopItemFactory(shop=shop)
    Product.objects.filter(pk=hidden.product_id).update(status=Product.Status.SUSPENDED, is_listed=False)

    card = Client().get(f"{API}/lily")
    items = Client().get(f"{API}/lily/items")

    assert card.status_code == 200
    assert (card.json()["name"], card.json()["owner_name"]) == ("Lily", shop.owner.display_name)
    body = items.json()
    assert [(i["id"], i["recommendation"]) for i in body["items"]] == [(shown.pk, "Try it")]
    assert body["items"][0]["product_url"] == f"http://testserver/p/{shown.product.slug}/"
    assert body["next_cursor"] is None


def test_paused_and_unknown_shops_are_not_found():
    ShopFactory(slug="paused", status=Shop.Status.PAUSED)

    assert error_of(Client().get(f"{API}/paused")) == (404, "not_found")
    assert error_of(Client().get(f"{API}/paused/items")) == (404, "not_found")
    assert error_of(Client().get(f"{API}/nobody")) == (404, "not_found")


def test_shop_items_are_cursor_paginated():
    shop = ShopFactory(slug="lily")
    for _ in range(5):
        ShopItemFactory(shop=shop)

    first = Client().get(f"{API}/lily/items", {"limit": 3}).json()
    second = Client().get(f"{API}/lily/items", {"limit": 3, "cursor": first["next_cursor"]}).json()
    bad = Client().get(f"{API}/lily/items", {"cursor": "%%%"})

    assert len(first["items"]) == 3
    assert len(second["items"]) == 2
    assert second["next_cursor"] is None
    assert error_of(bad) == (422, "invalid_cursor")


def test_the_items_endpoint_costs_the_same_queries_for_3_and_20_items():
    small, large = ShopFactory(slug="small"), ShopFactory(slug="large")
    for shop, n in ((small, 3), (large, 20)):
        for _ in range(n):
            ShopItemFactory(shop=shop, product=with_image(ProductFactory()))

    counts = [
        count_queries(lambda slug=slug: Client().get(f"{API}/{slug}/items", {"limit": 50}))
        for slug in ("small", "large")
    ]

    assert counts[0] == counts[1] <= 4


# --- the pool -----------------------------------------------------------------------------


def test_the_pool_for_a_signed_in_shopkeeper():
    shop = ShopFactory()
    category = CategoryFactory(slug="tea")
    carried = ProductFactory(category=category, min_price=10000)
    other = ProductFactory(category=category, min_price=5000)
    rate_row(carried, 2000)
    rate_row(other, 1000)
    ShopItemFactory(shop=shop, product=carried)

    response = as_user(shop.owner).get(f"{API}/pool", {"category": "tea", "min_rate_bps": 500, "order": "rate"})

    assert response.status_code == 200
    rows = [
        (i["product_id"], i["rate_bps"], i["estimated_commission"], i["in_my_shop"]) for i in response.json()["items"]
    ]
    assert rows == [(carried.pk, 2000, 2000, True), (other.pk, 1000, 500, False)]


def test_the_pool_needs_a_signed_in_user_and_valid_input():
    client = as_user(UserFactory())

    assert error_of(Client().get(f"{API}/pool")) == (401, "unauthenticated")
    assert error_of(client.get(f"{API}/pool", {"order": "cheap"})) == (422, "invalid")
    assert error_of(client.get(f"{API}/pool", {"category": "nope"})) == (404, "not_found")
    assert error_of(client.get(f"{API}/pool", {"min_rate_bps": "x"})) == (422, "invalid")
    assert error_of(client.get(f"{API}/pool", {"cursor": "abc"})) == (422, "invalid_cursor")


def test_the_pool_endpoint_costs_the_same_queries_for_3_and_20_products():
    user = UserFactory()
    headers = bearer_headers(user)
    Client().get(f"{API}/pool", **headers)  # the token's first use records last_used_at once
    for _ in range(3):
        rate_row(with_image(ProductFactory()), 1000)
    small = count_queries(lambda: Client().get(f"{API}/pool", {"limit": 50}, **headers))
    for _ in range(17):
        rate_row(with_image(ProductFactory()), 1000)

    large = count_queries(lambda: Client().get(f"{API}/pool", {"limit": 50}, **headers))

    assert small == large


# --- merchant commission ------------------------------------------------------------------


def test_a_merchant_sets_and_reads_a_commission_rate():
    product = ProductFactory()
    carrier = ShopItemFactory(product=product).shop
    client = as_user(product.merchant.owner)
    url = f"{API}/merchant/products/{product.pk}/commission"

    raised = client.put(url, {"rate_bps": 2000}, content_type="application/json")
    lowered = client.put(url, {"rate_bps": 1000}, content_type="application/json")

    assert raised.status_code == 200, raised.content
    body = lowered.json()
    assert body["current_rate_bps"] == 2000
    assert body["scheduled"]["rate_bps"] == 1000
    assert body["decrease_notice_days"] == 7
    assert [row["rate_bps"] for row in body["history"]] == [1000, 2000]
    assert body["carriers"] == {
        "count": 1,
        "shops": [{"slug": carrier.slug, "name": carrier.name, "url": f"http://testserver/shops/{carrier.slug}/"}],
    }
    assert client.get(url).json() == body
    assert commission_rate_at(product_id=product.pk, at=timezone.now() + timedelta(days=8)) == 1000


def test_an_out_of_range_rate_is_a_422_and_writes_nothing():
    product = ProductFactory()
    client = as_user(product.merchant.owner)

    for rate in (50, 8001):
        response = client.put(
            f"{API}/merchant/products/{product.pk}/commission", {"rate_bps": rate}, content_type="application/json"
        )
        assert error_of(response) == (422, "rate_out_of_range")
    assert not CommissionRate.objects.exists()


def test_a_non_member_gets_404_and_writes_nothing():
    product = ProductFactory()
    client = as_user(ProductFactory().merchant.owner)
    url = f"{API}/merchant/products/{product.pk}/commission"

    assert error_of(client.put(url, {"rate_bps": 1000}, content_type="application/json")) == (404, "not_found")
    assert error_of(client.get(url)) == (404, "not_found")
    assert not CommissionRate.objects.exists()
