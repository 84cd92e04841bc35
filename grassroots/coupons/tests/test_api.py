"""/api/v1/coupons/: create, list, deactivate (scoped), quote on the cart, and checkout with a code."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory, bearer_headers
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.coupons.models import Coupon, CouponRedemption
from grassroots.coupons.tests.factories import CouponFactory, merchant_coupon
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.orders.models import Checkout
from grassroots.orders.tests.factories import AddressFactory

API = "/api/v1/coupons"
_keys = itertools.count()

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, path: str, data: Any = None, **headers: str) -> Any:
    return client.post(path, data=data or {}, content_type="application/json", headers=headers)


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "code": "spring10",
        "kind": "fixed",
        "amount": 1000,
        "valid_until": (timezone.now() + timedelta(days=7)).isoformat(),
        **overrides,
    }


def error_of(response: Any) -> tuple[int, str]:
    data = response.json()
    assert set(data) == {"code", "message", "fields"}
    return response.status_code, data["code"]


def test_a_merchant_member_creates_a_coupon_for_their_merchant() -> None:
    merchant = MerchantFactory()

    response = post(client_for(merchant.owner), f"{API}/", body(min_spend=5000, total_limit=100))

    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["code"], data["scope"], data["merchant_id"], data["kind"], data["amount"]) == (
        "SPRING10",
        "merchant",
        merchant.pk,
        "fixed",
        1000,
    )
    assert (data["min_spend"], data["total_limit"], data["per_user_limit"], data["used_count"]) == (5000, 100, 1, 0)
    assert (data["currency"], data["is_active"]) == ("CNY", True)
    assert Coupon.objects.get().created_by == merchant.owner


def test_a_curator_creates_a_platform_percent_coupon_with_a_token() -> None:
    curator = CuratorFactory()

    response = Client().post(
        f"{API}/",
        data=body(scope="platform", kind="percent", amount=0, percent_bps=1000, max_discount=2000),
        content_type="application/json",
        **bearer_headers(curator),
    )

    assert response.status_code == 201, response.json()
    assert (response.json()["scope"], response.json()["percent_bps"], response.json()["merchant_id"]) == (
        "platform",
        1000,
        None,
    )


def test_who_may_create_what() -> None:
    merchant, other = MerchantFactory(), MerchantFactory()
    stranger = client_for(UserFactory())

    assert error_of(post(client_for(merchant.owner), f"{API}/", body(scope="platform"))) == (403, "not_a_curator")
    assert error_of(post(client_for(merchant.owner), f"{API}/", body(merchant_id=other.pk))) == (404, "not_found")
    assert error_of(post(stranger, f"{API}/", body())) == (403, "not_a_merchant")
    assert error_of(post(Client(), f"{API}/", body())) == (401, "unauthenticated")
    assert not Coupon.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": "10"}, "amount"),
        ({"kind": "percent", "amount": 0, "percent_bps": 20000}, "percent_bps"),
        ({"kind": "bogus"}, "kind"),
        ({"code": "x"}, "code"),
        ({"code": "x" * 41}, "code"),
        ({"valid_until": "not a date"}, "valid_until"),
        ({"valid_until": "2001-01-01T00:00:00Z"}, "valid_until"),
        ({"valid_from": "2099-01-02T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z"}, "valid_until"),
        ({"currency": "ABC"}, "currency"),
        ({"total_limit": -1}, "total_limit"),
        ({"per_user_limit": 1.5}, "per_user_limit"),
    ],
)
def test_bad_input_is_422_with_fields_and_writes_nothing(overrides: dict[str, Any], field: str) -> None:
    merchant = MerchantFactory()

    response = post(client_for(merchant.owner), f"{API}/", body(**overrides))

    assert response.status_code == 422, response.json()
    assert field in response.json()["fields"]
    assert not Coupon.objects.exists()


def test_a_taken_code_is_422_whatever_its_case() -> None:
    merchant = MerchantFactory()
    client = client_for(merchant.owner)
    assert post(client, f"{API}/", body(code="SALE-1")).status_code == 201

    assert error_of(post(client, f"{API}/", body(code="sale-1"))) == (422, "coupon_code_taken")
    assert Coupon.objects.count() == 1


def test_mine_lists_only_what_you_manage() -> None:
    tea, skin = MerchantFactory(), MerchantFactory()
    mine = [merchant_coupon(tea) for _ in range(3)]
    merchant_coupon(skin)
    platform = CouponFactory()
    curator = CuratorFactory()

    first = client_for(tea.owner).get(f"{API}/mine?limit=2").json()
    rest = client_for(tea.owner).get(f"{API}/mine?limit=2&cursor={first['next_cursor']}").json()
    curated = client_for(curator).get(f"{API}/mine").json()

    assert [c["id"] for c in first["items"] + rest["items"]] == [c.pk for c in reversed(mine)]
    assert rest["next_cursor"] is None
    assert [c["id"] for c in curated["items"]] == [platform.pk]
    assert error_of(client_for(tea.owner).get(f"{API}/mine?scope=platform")) == (403, "not_a_curator")
    assert error_of(client_for(tea.owner).get(f"{API}/mine?merchant_id={skin.pk}")) == (404, "not_found")
    assert error_of(client_for(UserFactory()).get(f"{API}/mine")) == (403, "not_a_curator")
    assert error_of(client_for(tea.owner).get(f"{API}/mine?cursor=%%%")) == (422, "invalid_cursor")


def test_deactivate_is_scoped_and_idempotent() -> None:
    tea, skin = MerchantFactory(), MerchantFactory()
    coupon = merchant_coupon(tea)

    assert error_of(post(client_for(skin.owner), f"{API}/{coupon.pk}/deactivate")) == (404, "not_found")
    assert error_of(post(client_for(CuratorFactory()), f"{API}/{coupon.pk}/deactivate")) == (404, "not_found")
    assert error_of(post(client_for(tea.owner), f"{API}/999999/deactivate")) == (404, "not_found")
    coupon.refresh_from_db()
    assert coupon.is_active is True

    first = post(client_for(tea.owner), f"{API}/{coupon.pk}/deactivate")
    again = post(client_for(tea.owner), f"{API}/{coupon.pk}/deactivate")
    assert (first.status_code, first.json()["is_active"]) == (200, False)
    assert again.json() == first.json()


def _cart(client: Client, *lines: tuple[Any, int]) -> None:
    for sku, quantity in lines:
        response = post(client, "/api/v1/orders/cart/items", {"sku_id": sku.pk, "quantity": quantity})
        assert response.status_code == 201


def test_quote_shows_the_discount_on_the_cart_without_holding_anything() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    tea, skin = MerchantFactory(), MerchantFactory()
    green = SkuFactory(product=ProductFactory(merchant=tea), price_amount=3000, stock=5)
    cream = SkuFactory(product=ProductFactory(merchant=skin), price_amount=12000, stock=5)
    coupon = merchant_coupon(tea, code="TEA5", amount=500)
    _cart(client, (green, 2), (cream, 1))

    response = client.get(f"{API}/quote?code=tea5")

    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["code"], data["coupon_id"], data["scope"]) == ("TEA5", coupon.pk, "merchant")
    assert (data["goods_total"], data["eligible_total"], data["discount_total"], data["total"]) == (
        18000,
        6000,
        500,
        17500,
    )
    assert sorted((line["sku_id"], line["discount_amount"]) for line in data["lines"]) == [
        (green.pk, 500),
        (cream.pk, 0),
    ]
    coupon.refresh_from_db()
    assert coupon.used_count == 0
    assert not CouponRedemption.objects.exists()


def test_quote_errors() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    sku = SkuFactory(price_amount=3000, stock=5)
    CouponFactory(code="BIG", min_spend=10000)

    assert error_of(client.get(f"{API}/quote?code=BIG")) == (422, "empty_cart")
    _cart(client, (sku, 1))
    assert error_of(client.get(f"{API}/quote?code=BIG")) == (422, "coupon_min_spend")
    assert error_of(client.get(f"{API}/quote?code=NOPE")) == (422, "invalid_coupon")
    assert error_of(client.get(f"{API}/quote?code=" + "x" * 500)) == (422, "invalid_coupon")
    assert error_of(client.get(f"{API}/quote")) == (422, "invalid")
    assert error_of(Client().get(f"{API}/quote?code=BIG")) == (401, "unauthenticated")


def test_checkout_through_the_orders_api_with_a_coupon() -> None:
    buyer = UserFactory()
    client = client_for(buyer)
    address = AddressFactory(owner=buyer)
    sku = SkuFactory(price_amount=3000, stock=5)
    CouponFactory(code="TEN", amount=1000)
    checkout_body = {"address_id": address.pk, "items": [{"sku_id": sku.pk, "quantity": 2}], "coupon_code": "ten"}

    placed = post(client, "/api/v1/orders/checkout", checkout_body, **{"Idempotency-Key": f"k{next(_keys)}"})
    again = post(client, "/api/v1/orders/checkout", checkout_body, **{"Idempotency-Key": f"k{next(_keys)}"})

    assert placed.status_code == 201, placed.json()
    data = placed.json()
    assert (data["coupon_code"], data["goods_total"], data["discount_total"], data["total"]) == (
        "TEN",
        6000,
        1000,
        5000,
    )
    assert [(line["discount_amount"], line["paid_amount"]) for line in data["orders"][0]["lines"]] == [(1000, 5000)]
    assert error_of(again) == (422, "coupon_user_limit")
    assert Checkout.objects.count() == 1


def test_the_openapi_schema_lists_the_coupon_paths() -> None:
    paths = Client().get("/api/v1/openapi.json").json()["paths"]

    assert {f"{API}/", f"{API}/mine", f"{API}/{{coupon_id}}/deactivate", f"{API}/quote"} <= set(paths)
    assert "422" in paths[f"{API}/quote"]["get"]["responses"]
