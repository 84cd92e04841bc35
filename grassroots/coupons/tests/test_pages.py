"""Pages without JavaScript: the coupon console, and the coupon field on the checkout page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.coupons.models import Coupon, CouponRedemption
from grassroots.coupons.tests.factories import CouponFactory, merchant_coupon
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.orders.models import Checkout
from grassroots.orders.tests.factories import AddressFactory

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


FORM = {
    "code": "tea-week",
    "kind": "fixed",
    "amount": "12.50",
    "min_spend": "50",
    "valid_until": "2099-01-01T10:00",
    "total_limit": "100",
    "per_user_limit": "1",
}


def test_a_merchant_creates_lists_and_stops_coupons_in_the_console() -> None:
    merchant = MerchantFactory(name="Tea House")
    client = client_for(merchant.owner)

    created = client.post("/coupons/console/?scope=merchant", FORM)
    page = client.get("/coupons/console/")

    assert created.status_code == 302
    coupon = Coupon.objects.get()
    assert (coupon.code, coupon.merchant_id, coupon.amount, coupon.min_spend, coupon.total_limit) == (
        "TEA-WEEK",
        merchant.pk,
        1250,
        5000,
        100,
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "Tea House" in html
    assert "TEA-WEEK" in html
    assert "¥12.50" in html

    stopped = client.post(f"/coupons/console/{coupon.pk}/deactivate/")
    assert stopped.status_code == 302
    coupon.refresh_from_db()
    assert coupon.is_active is False


def test_a_percent_coupon_from_the_form() -> None:
    merchant = MerchantFactory()
    form = {**FORM, "kind": "percent", "amount": "", "percent": "12.5", "max_discount": "20"}

    response = client_for(merchant.owner).post("/coupons/console/", form)

    assert response.status_code == 302
    coupon = Coupon.objects.get()
    assert (coupon.kind, coupon.amount, coupon.percent_bps, coupon.max_discount) == ("percent", 0, 1250, 2000)
    assert "12.5% off" in client_for(merchant.owner).get("/coupons/console/").content.decode()


@pytest.mark.parametrize(
    "changes",
    [
        {"code": "!"},
        {"amount": ""},
        {"kind": "percent", "percent": ""},
        {"kind": "percent", "percent": "150"},
        {"valid_until": "2001-01-01T10:00"},
        {"valid_until": "soon"},
        {"total_limit": "-1"},
    ],
)
def test_bad_forms_are_4xx_with_the_form_again_and_write_nothing(changes: dict[str, str]) -> None:
    merchant = MerchantFactory()

    response = client_for(merchant.owner).post("/coupons/console/", {**FORM, **changes})

    assert response.status_code == 422
    assert 'class="errorlist' in response.content.decode()
    assert not Coupon.objects.exists()


def test_console_is_for_members_and_curators_only() -> None:
    merchant, other = MerchantFactory(), MerchantFactory()
    coupon = merchant_coupon(merchant)
    platform = CouponFactory(code="PLATFORM1")
    curator = CuratorFactory()

    assert Client().get("/coupons/console/").status_code == 302  # to log in
    assert client_for(UserFactory()).get("/coupons/console/").status_code == 404
    assert client_for(UserFactory()).post("/coupons/console/", FORM).status_code == 404
    assert client_for(merchant.owner).get("/coupons/console/?scope=platform").status_code == 404
    assert client_for(other.owner).post(f"/coupons/console/{coupon.pk}/deactivate/").status_code == 404
    assert client_for(curator).post(f"/coupons/console/{coupon.pk}/deactivate/").status_code == 404
    assert Coupon.objects.filter(is_active=True).count() == 2

    curated = client_for(curator).get("/coupons/console/")
    assert curated.status_code == 200
    assert "PLATFORM1" in curated.content.decode()
    assert coupon.code not in curated.content.decode()
    assert client_for(curator).post("/coupons/console/?scope=platform", FORM).status_code == 302
    assert Coupon.objects.get(code="TEA-WEEK").scope == "platform"
    assert client_for(curator).post(f"/coupons/console/{platform.pk}/deactivate/").status_code == 302


def _buyer_with_cart(price: int = 3000, quantity: int = 2) -> tuple[Client, Any, Any]:
    buyer = UserFactory()
    client = client_for(buyer)
    address = AddressFactory(owner=buyer)
    sku = SkuFactory(product=ProductFactory(), price_amount=price, stock=10)
    client.post("/orders/cart/add/", {"sku_id": sku.pk, "quantity": quantity})
    return client, address, sku


def test_the_checkout_page_shows_the_discount_and_places_the_order_with_it() -> None:
    client, address, _sku = _buyer_with_cart()
    CouponFactory(code="TEN", amount=1000)

    page = client.get("/orders/checkout/?coupon=ten")

    html = page.content.decode()
    assert page.status_code == 200
    assert "Coupon TEN: −¥10.00" in html
    assert "Place order · ¥50.00" in html
    assert '<input type="hidden" name="coupon_code" value="TEN">' in html

    placed = client.post("/orders/checkout/", {"address_id": address.pk, "coupon_code": "TEN"})

    assert placed.status_code == 302
    checkout = Checkout.objects.get()
    assert (checkout.coupon_code, checkout.discount_total, checkout.total) == ("TEN", 1000, 5000)
    detail = client.get(placed.url).content.decode()
    assert "Coupon TEN: −¥10.00" in detail
    assert "To pay: ¥50.00" in detail


def test_the_checkout_page_says_why_a_coupon_does_not_apply() -> None:
    client, _address, _sku = _buyer_with_cart()
    CouponFactory(code="BIG", min_spend=10000)

    unknown = client.get("/orders/checkout/?coupon=nope").content.decode()
    short = client.get("/orders/checkout/?coupon=BIG").content.decode()

    assert "This coupon is not valid." in unknown
    assert "Spend a little more to use this coupon." in short
    assert "(minimum ¥100.00)" in short
    assert 'name="coupon_code"' not in short
    assert "Place order · ¥60.00" in short


def test_placing_with_a_coupon_that_ran_out_meanwhile_shows_the_error_and_writes_nothing() -> None:
    client, address, sku = _buyer_with_cart()
    CouponFactory(code="GONE", total_limit=1, used_count=1)

    response = client.post("/orders/checkout/", {"address_id": address.pk, "coupon_code": "GONE"})

    assert response.status_code == 422
    assert "This coupon has been used up." in response.content.decode()
    assert not Checkout.objects.exists()
    assert not CouponRedemption.objects.exists()
    sku.refresh_from_db()
    assert (sku.stock, sku.reserved) == (10, 0)


def test_staff_see_coupons_and_redemptions_read_only_in_the_admin() -> None:
    from grassroots.accounts.models import User

    admin_user = User.objects.create_superuser(email="root@example.com", password="correct-horse-battery-9")
    client, address, _sku = _buyer_with_cart()
    coupon = CouponFactory(code="ADMIN1")
    client.post("/orders/checkout/", {"address_id": address.pk, "coupon_code": "ADMIN1"})
    staff = client_for(admin_user)

    coupons = staff.get("/admin/coupons/coupon/")
    redemptions = staff.get("/admin/coupons/couponredemption/")

    assert coupons.status_code == redemptions.status_code == 200
    assert "ADMIN1" in coupons.content.decode()
    assert staff.get(f"/admin/coupons/coupon/{coupon.pk}/change/").status_code == 200  # view only
    assert staff.get("/admin/coupons/coupon/add/").status_code == 403
