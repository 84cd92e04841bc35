from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from grassroots.accounts.tests.factories import UserFactory, bearer_headers
from grassroots.attribution.models import Click, ShareLink
from grassroots.attribution.services import click_record, share_link_for
from grassroots.attribution.tests.factories import BROWSER_UA, ShopFactory, rate, shop_with
from grassroots.attribution.views import VISITOR_COOKIE
from grassroots.catalog.models import Product
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.core.pagination import encode_cursor

pytestmark = pytest.mark.django_db

API = "/api/v1/attribution"
DEVICE = "device-buyer-0000000001"


def as_user(user: Any) -> dict[str, str]:
    return bearer_headers(user)


def post_link(user: Any, body: dict[str, Any]) -> Any:
    return Client().post(f"{API}/links", body, content_type="application/json", **as_user(user))


def test_post_links_without_an_item_gives_my_shop_link_idempotently():
    shop = ShopFactory()

    first = post_link(shop.owner, {})
    again = post_link(shop.owner, {"shop_item_id": None})

    assert first.status_code == 200, first.content
    body = first.json()
    link = ShareLink.objects.get()
    assert body["code"] == link.code == again.json()["code"]
    assert (body["kind"], body["shop_id"], body["product_id"], body["click_count"]) == ("shop", shop.pk, None, 0)
    assert body["url"] == f"http://testserver/s/{link.code}/"
    assert body["qr_png_url"] == f"http://testserver/s/{link.code}/qr.png"
    assert body["qr_svg_url"] == f"http://testserver/s/{link.code}/qr.svg"


def test_post_links_with_my_item_gives_its_product_link():
    product = ProductFactory()
    shop = shop_with(product)
    item = shop.items.get()

    response = post_link(shop.owner, {"shop_item_id": item.pk})

    assert response.status_code == 200, response.content
    assert (response.json()["kind"], response.json()["product_id"]) == ("product", product.pk)
    assert ShareLink.objects.get().product_id == product.pk


def test_someone_elses_item_is_a_404_and_nothing_is_written():
    theirs = shop_with(ProductFactory())
    mine = ShopFactory()

    response = post_link(mine.owner, {"shop_item_id": theirs.items.get().pk})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not ShareLink.objects.exists()


def test_without_a_shop_post_links_is_a_404():
    response = post_link(UserFactory(), {})

    assert response.status_code == 404
    assert response.json()["code"] == "no_shop"
    assert not ShareLink.objects.exists()


@pytest.mark.parametrize(
    "body", [{"shop_item_id": "abc"}, {"shop_item_id": [1]}, {"shop_item_id": 0}, {"shop_item_id": 2**70}]
)
def test_a_malformed_item_id_is_a_422(body: dict[str, Any]):
    shop = ShopFactory()

    response = post_link(shop.owner, body)

    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert not ShareLink.objects.exists()


def test_anonymous_callers_cannot_create_or_list_links():
    assert Client().post(f"{API}/links", {}, content_type="application/json").status_code == 401
    assert Client().get(f"{API}/links").status_code == 401
    assert not ShareLink.objects.exists()


def test_get_links_lists_only_mine_with_click_counts():
    product = ProductFactory()
    shop = shop_with(product)
    shop_link = share_link_for(shop=shop)
    product_link = share_link_for(shop=shop, product=product)
    share_link_for(shop=ShopFactory())
    now = timezone.now()
    for key in ("device-aaaaaaaaaaaaaaaa", "device-bbbbbbbbbbbbbbbb"):
        click_record(code=shop_link.code, visitor_key=key, user=None, ip=None, user_agent=BROWSER_UA, at=now)
    click_record(code=shop_link.code, visitor_key="x" * 20, user=None, ip=None, user_agent="Twitterbot/1.0", at=now)

    response = Client().get(f"{API}/links", **as_user(shop.owner))

    assert response.status_code == 200
    items = response.json()["items"]
    assert [(item["code"], item["click_count"]) for item in items] == [(product_link.code, 0), (shop_link.code, 2)]
    assert response.json()["next_cursor"] is None


def test_get_links_pages_with_a_cursor():
    products = [ProductFactory() for _ in range(3)]
    shop = shop_with(*products)
    for product in products:
        share_link_for(shop=shop, product=product)
    client, headers = Client(), as_user(shop.owner)

    first = client.get(f"{API}/links?limit=2", **headers).json()
    second = client.get(f"{API}/links?limit=2&cursor={first['next_cursor']}", **headers).json()

    assert len(first["items"]) == 2 and len(second["items"]) == 1 and second["next_cursor"] is None
    for cursor in ["!!!", encode_cursor(["x"]), encode_cursor([2**70]), encode_cursor([1, 2])]:
        bad = Client().get(f"{API}/links", {"cursor": cursor}, **headers)
        assert (bad.status_code, bad.json()["code"]) == (422, "invalid_cursor"), cursor


def test_the_qr_endpoint_returns_svg_or_png_for_my_link_only():
    shop = ShopFactory()
    link = share_link_for(shop=shop)
    client, headers = Client(), as_user(shop.owner)

    svg = client.get(f"{API}/links/{link.code}/qr?format=svg", **headers)
    png = client.get(f"{API}/links/{link.code}/qr?format=png", **headers)
    default = client.get(f"{API}/links/{link.code}/qr", **headers)
    stranger = client.get(f"{API}/links/{link.code}/qr?format=png", **as_user(UserFactory()))
    bad_format = client.get(f"{API}/links/{link.code}/qr?format=gif", **headers)

    assert (svg.status_code, svg["Content-Type"]) == (200, "image/svg+xml")
    assert svg.content.startswith(b"<svg")
    assert (png.status_code, png["Content-Type"]) == (200, "image/png")
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert default["Content-Type"] == "image/svg+xml"
    assert (stranger.status_code, stranger.json()["code"]) == (404, "not_found")
    assert (bad_format.status_code, bad_format.json()["code"]) == (422, "invalid")
    nul = client.get(f"{API}/links/%00abcdefg/qr", **headers)
    assert (nul.status_code, nul.json()["code"]) == (404, "not_found")


def test_resolve_tells_which_shop_this_device_would_credit_now():
    product = ProductFactory()
    shop = shop_with(product)
    rate(product, 1500, timezone.now() - timedelta(days=10))
    link = share_link_for(shop=shop, product=product)
    client = Client(HTTP_USER_AGENT=BROWSER_UA)
    client.get(f"/s/{link.code}/")
    clicked_at = Click.objects.get().created_at

    response = client.get(f"{API}/resolve?product_id={product.pk}")

    assert response.status_code == 200, response.content
    body = response.json()
    reported_at = parse_datetime(body.pop("clicked_at"))
    assert body == {
        "product_id": product.pk,
        "rule": "last_click",
        "shop_id": shop.pk,
        "rate_bps": 1500,
        "member_price_discount_bps": 0,
    }
    assert reported_at is not None and abs(reported_at - clicked_at) < timedelta(milliseconds=1)


def test_resolve_for_a_signed_in_buyer_uses_their_clicks_on_any_device():
    product = ProductFactory()
    shop = shop_with(product)
    buyer = UserFactory()
    click_record(
        code=share_link_for(shop=shop).code,
        visitor_key="device-phone-00000000001",
        user=buyer,
        ip=None,
        user_agent=BROWSER_UA,
        at=timezone.now() - timedelta(days=1),
    )
    client = Client()
    client.cookies[VISITOR_COOKIE] = DEVICE

    response = client.get(f"{API}/resolve?product_id={product.pk}", **as_user(buyer))

    assert (response.json()["rule"], response.json()["shop_id"]) == ("last_click", shop.pk)


def test_resolve_without_clicks_is_none_and_an_unknown_product_is_a_404():
    product = ProductFactory()

    assert Client().get(f"{API}/resolve?product_id={product.pk}").json()["rule"] == "none"
    missing = Client().get(f"{API}/resolve?product_id=987654")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    unlisted = ProductFactory(status=Product.Status.DRAFT, is_listed=False)
    assert Client().get(f"{API}/resolve?product_id={unlisted.pk}").status_code == 404
    assert Client().get(f"{API}/resolve?product_id=abc").status_code == 422
