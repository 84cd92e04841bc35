"""The dashboard page and its API endpoint."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
from django.test import Client
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory, bearer_headers
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.commissions.tests.test_dashboard import click, order, post
from grassroots.shops.tests.factories import ShopFactory

pytestmark = pytest.mark.django_db


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def shop_with_sales() -> Any:
    now = timezone.now()
    shop = ShopFactory()
    product = ProductFactory(title_en="Moonlight White Tea")
    click(shop, product, "v1", now - timedelta(days=1))
    click(shop, product, "v2", now - timedelta(days=1))
    click(shop, product, "v2", now - timedelta(days=1), is_duplicate=True)
    click(shop, product, "bot", now - timedelta(days=1), is_bot=True)
    order(
        shop,
        [{"product": product, "quantity": 3, "paid": 15_800, "commission": 1_580}],
        paid_at=now - timedelta(hours=2),
    )
    post(shop.owner, "pending", 1_580)
    post(shop.owner, "available", 4_200)
    return shop


def test_the_dashboard_page_shows_the_figures_the_chart_and_the_table(shop_with_sales: Any):
    page = signed_in(shop_with_sales.owner).get("/earnings/")

    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-figure="clicks">2<' in html
    assert 'data-figure="visitors">2<' in html
    assert 'data-figure="orders">1<' in html
    assert 'data-figure="conversion">50.0%<' in html
    assert 'data-figure="gmv">¥158.00<' in html
    assert 'data-figure="commission">¥15.80<' in html
    assert 'data-figure="pending">¥15.80<' in html
    assert 'data-figure="available">¥42.00<' in html
    assert "Moonlight White Tea" in html
    svg = html[html.index("<svg") : html.index("</svg>") + len("</svg>")]
    root = ElementTree.fromstring(svg)  # noqa: S314 (our own markup)
    assert root.get("role") == "img"
    assert '<table id="daily">' in html
    assert "<script" not in svg


def test_the_period_can_be_chosen_and_bad_values_fall_back(shop_with_sales: Any):
    client = signed_in(shop_with_sales.owner)

    week = client.get("/earnings/?days=7").content.decode()
    bad = client.get("/earnings/?days=abc").content.decode()

    assert "last 7 days" in week
    assert "last 30 days" in bad


def test_a_member_without_a_shop_is_invited_to_open_one():
    page = signed_in(UserFactory()).get("/earnings/")

    assert page.status_code == 200
    assert 'href="/shops/open/"' in page.content.decode()


def test_the_dashboard_api_returns_the_same_figures(shop_with_sales: Any):
    response = Client().get("/api/v1/commissions/dashboard?days=7", **bearer_headers(shop_with_sales.owner))

    assert response.status_code == 200
    body = response.json()
    assert body["shop_id"] == shop_with_sales.pk
    assert (body["days"], body["clicks"], body["unique_visitors"], body["orders"]) == (7, 2, 2, 1)
    assert body["conversion"] == 0.5
    assert (body["gmv"], body["commission_earned"]) == (15_800, 1_580)
    assert body["balances"] == {
        "pending": 1_580,
        "held": 0,
        "available": 4_200,
        "withdrawing": 0,
        "withdrawn": 0,
        "receivable": 0,
    }
    assert len(body["series"]) == 7
    assert sum(day["gmv"] for day in body["series"]) == 15_800
    assert [(p["title"], p["units"], p["clicks"]) for p in body["products"]] == [("Moonlight White Tea", 3, 2)]


@pytest.mark.parametrize("days", ["0", "367", "abc"])
def test_the_dashboard_api_refuses_bad_days(shop_with_sales: Any, days: str):
    response = Client().get(f"/api/v1/commissions/dashboard?days={days}", **bearer_headers(shop_with_sales.owner))

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_days"


def test_the_dashboard_api_without_a_shop_is_not_found():
    response = Client().get("/api/v1/commissions/dashboard", **bearer_headers(UserFactory()))

    assert response.status_code == 404
    assert response.json()["code"] == "no_shop"
