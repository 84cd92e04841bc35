"""The shopkeeper dashboard: exact figures for a constructed scenario, constant queries, the chart."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.attribution.models import Click, ShareLink
from grassroots.catalog.models import Product
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.commissions.dashboard import (
    DayPoint,
    chart_points,
    clean_days,
    dashboard_chart_svg,
    nice_ceiling,
    shopkeeper_dashboard,
)
from grassroots.commissions.models import CommissionLine
from grassroots.commissions.selectors import shopkeeper_account
from grassroots.commissions.withdrawals import withdrawal_approve, withdrawal_request
from grassroots.core.errors import ValidationFailed
from grassroots.ledger.codes import PLATFORM_REVENUE
from grassroots.ledger.selectors import ledger_problems
from grassroots.ledger.services import PostingSpec, journal_entry_post
from grassroots.orders.models import Checkout, Order, OrderLine
from grassroots.shops.models import Shop
from grassroots.shops.tests.factories import ShopFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"
_codes = itertools.count(1)


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=UTC)


def click(shop: Shop, product: Product | None, visitor: str, when: datetime, **flags: bool) -> Click:
    kind = ShareLink.Kind.PRODUCT if product else ShareLink.Kind.SHOP
    link, _ = ShareLink.objects.get_or_create(
        shop=shop, product=product, kind=kind, defaults={"code": f"c{next(_codes)}"}
    )
    return Click.objects.create(link=link, shop=shop, product=product, visitor_key=visitor, created_at=when, **flags)


def order(
    shop: Shop | None,
    lines: list[dict[str, Any]],
    *,
    paid_at: datetime | None,
    rule: str = "last_click",
    buyer: Any = None,
) -> Order:
    """A paid order whose lines are attributed to `shop`, with their commission lines, as the
    checkout and capture would leave them. Each line: product, quantity, paid, commission, and
    optionally refunded_quantity, refunded, reversed."""
    buyer = buyer or UserFactory()
    total = sum(line["paid"] for line in lines)
    merchant = lines[0]["product"].merchant
    checkout = Checkout.objects.create(
        buyer=buyer,
        currency="CNY",
        goods_total=total,
        shipping_total=0,
        total=total,
        status="paid" if paid_at else "pending_payment",
        expires_at=paid_at or NOW,
        paid_at=paid_at,
    )
    placed = paid_at or NOW
    the_order = Order.objects.create(
        checkout=checkout,
        merchant=merchant,
        buyer=buyer,
        status="paid" if paid_at else "pending_payment",
        currency="CNY",
        goods_total=total,
        shipping_total=0,
        total=total,
        placed_at=placed,
        paid_at=paid_at,
    )
    for spec in lines:
        product = spec["product"]
        line = OrderLine.objects.create(
            order=the_order,
            sku=SkuFactory(product=product),
            product=product,
            product_title=product.title_en,
            sku_label="M",
            unit_price=spec["paid"] // spec["quantity"],
            quantity=spec["quantity"],
            paid_amount=spec["paid"],
            refunded_amount=spec.get("refunded", 0),
            refunded_quantity=spec.get("refunded_quantity", 0),
            attribution_rule=rule if shop else "none",
            attributed_shop=shop,
            attributed_shopkeeper=shop.owner if shop else None,
            commission_rate_bps=1000 if spec["commission"] else 0,
        )
        if shop is not None and spec["commission"]:
            reversed_ = spec.get("reversed", 0)
            commission = CommissionLine.objects.create(
                order_line=line,
                order=the_order,
                shop=shop,
                shopkeeper=shop.owner,
                rule=rule,
                rate_bps=1000,
                currency="CNY",
                paid_amount=spec["paid"],
                commission_amount=spec["commission"],
                commission_reversed=reversed_,
                status="reversed" if reversed_ == spec["commission"] else "pending",
            )
            CommissionLine.objects.filter(pk=commission.pk).update(created_at=placed)
    return the_order


def post(user: Any, part: str, amount: int) -> None:
    journal_entry_post(
        idempotency_key=f"test-fund:{next(_codes)}",
        kind="test_commission",
        postings=[
            PostingSpec(PLATFORM_REVENUE, amount, "CNY"),
            PostingSpec(shopkeeper_account(user.pk, part), -amount, "CNY"),
        ],
    )


@pytest.fixture
def scenario() -> dict[str, Any]:
    shop = ShopFactory()
    other_shop = ShopFactory()
    p1, p2, p3 = ProductFactory(title_en="Tea"), ProductFactory(title_en="Cake"), ProductFactory(title_en="Cup")
    # Clicks: counted ones by v1..v5; a duplicate, a bot, one before the window, one on another shop.
    click(shop, p1, "v1", at(10))
    click(shop, p1, "v2", at(10, 11))
    click(shop, p1, "v1", at(10, 12), is_duplicate=True)
    click(shop, p1, "v9", at(11), is_bot=True)
    click(shop, p1, "v3", at(12))
    click(shop, p2, "v1", at(12, 11))
    click(shop, None, "v4", at(14))
    click(shop, p3, "v5", at(14, 11))
    click(shop, p1, "v6", at(1))
    click(other_shop, p1, "v7", at(12))
    # Two attributed orders: A (two lines) and B (refunded in full).
    order(
        shop,
        [
            {"product": p1, "quantity": 2, "paid": 20_000, "commission": 2_000},
            {"product": p2, "quantity": 1, "paid": 5_000, "commission": 500},
        ],
        paid_at=at(12),
    )
    order(
        shop,
        [
            {
                "product": p1,
                "quantity": 1,
                "paid": 10_000,
                "commission": 1_000,
                "refunded": 10_000,
                "refunded_quantity": 1,
                "reversed": 1_000,
            }
        ],
        paid_at=at(13, 9),
    )
    # Not counted: a self purchase, an order before the window, another shop's, an unpaid one.
    order(shop, [{"product": p1, "quantity": 1, "paid": 9_000, "commission": 0}], paid_at=at(13), rule="self_purchase")
    order(shop, [{"product": p1, "quantity": 1, "paid": 9_000, "commission": 900}], paid_at=at(1))
    order(other_shop, [{"product": p1, "quantity": 1, "paid": 9_000, "commission": 900}], paid_at=at(12))
    order(shop, [{"product": p2, "quantity": 1, "paid": 9_000, "commission": 900}], paid_at=None)
    # Ledger: pending 3,500; 5,000 became available; 1,200 withdrawn and 1,000 on its way.
    owner, curator = shop.owner, CuratorFactory()
    post(owner, "pending", 3_500)
    post(owner, "available", 5_000)
    withdrawal_approve(actor=curator, withdrawal=withdrawal_request(user=owner, amount=1_200, idempotency_key="a"))
    withdrawal_request(user=owner, amount=1_000, idempotency_key="b")
    return {"shop": shop, "owner": owner, "p1": p1, "p2": p2, "p3": p3}


def test_the_figures_of_a_constructed_week_are_exact(scenario: dict[str, Any]):
    data = shopkeeper_dashboard(user=scenario["owner"], days=7, now=NOW)

    assert data.shop == scenario["shop"]
    assert data.since == datetime(2026, 3, 9, tzinfo=UTC)
    assert data.clicks == 6
    assert data.unique_visitors == 5
    assert data.orders == 2
    assert data.conversion == pytest.approx(0.4)
    assert data.gmv == 25_000
    assert data.refunded == 10_000
    assert data.commission_earned == 2_500
    b = data.balances
    assert (b.pending, b.held, b.available, b.withdrawing, b.withdrawn, b.receivable) == (
        3_500,
        0,
        2_800,
        1_000,
        1_200,
        0,
    )
    assert [(r.product_id, r.title, r.clicks, r.orders, r.units, r.gmv, r.commission) for r in data.products] == [
        (scenario["p1"].pk, "Tea", 3, 2, 2, 20_000, 2_000),
        (scenario["p2"].pk, "Cake", 1, 1, 1, 5_000, 500),
        (scenario["p3"].pk, "Cup", 1, 0, 0, 0, 0),
    ]
    assert [(p.day, p.clicks, p.orders, p.gmv, p.commission) for p in data.series] == [
        (date(2026, 3, 9), 0, 0, 0, 0),
        (date(2026, 3, 10), 2, 0, 0, 0),
        (date(2026, 3, 11), 0, 0, 0, 0),
        (date(2026, 3, 12), 2, 1, 25_000, 2_500),
        (date(2026, 3, 13), 0, 1, 0, 0),
        (date(2026, 3, 14), 2, 0, 0, 0),
        (date(2026, 3, 15), 0, 0, 0, 0),
    ]
    assert ledger_problems() == []


def test_a_longer_window_takes_in_the_older_click_and_order(scenario: dict[str, Any]):
    data = shopkeeper_dashboard(user=scenario["owner"], days=30, now=NOW)

    assert (data.clicks, data.unique_visitors, data.orders) == (7, 6, 3)
    assert data.gmv == 34_000
    assert data.commission_earned == 3_400
    assert len(data.series) == 30
    assert data.series[0].day == date(2026, 2, 14)


def test_days_are_local_calendar_days(scenario: dict[str, Any], settings):
    # 02:00 UTC on the 12th is still the 11th in New York.
    settings.TIME_ZONE = "America/New_York"
    click(scenario["shop"], scenario["p1"], "late", at(12, 2))

    data = shopkeeper_dashboard(user=scenario["owner"], days=7, now=NOW)

    by_day = {p.day: p.clicks for p in data.series}
    assert by_day[date(2026, 3, 11)] == 1
    assert by_day[date(2026, 3, 12)] == 2


def test_the_window_ends_now(scenario: dict[str, Any]):
    later = scenario["shop"]
    click(later, scenario["p1"], "future", NOW + timedelta(hours=1))

    data = shopkeeper_dashboard(user=scenario["owner"], days=7, now=NOW)

    assert data.clicks == 6


def test_a_member_without_a_shop_gets_balances_only():
    member = UserFactory()
    post(member, "available", 2_000)

    data = shopkeeper_dashboard(user=member, days=7, now=NOW)

    assert data.shop is None
    assert (data.clicks, data.orders, data.gmv, data.products) == (0, 0, 0, [])
    assert data.balances.available == 2_000
    assert len(data.series) == 7


def test_another_shopkeeper_sees_none_of_it(scenario: dict[str, Any]):
    other = ShopFactory().owner

    data = shopkeeper_dashboard(user=other, days=7, now=NOW)

    assert (data.clicks, data.unique_visitors, data.orders, data.gmv, data.commission_earned) == (0, 0, 0, 0, 0)
    assert data.conversion is None
    assert data.balances.withdrawn == 0


@pytest.mark.parametrize("days", [0, 367, -1, True, "7"])
def test_days_out_of_range_are_refused(days: Any):
    with pytest.raises(ValidationFailed) as caught:
        shopkeeper_dashboard(user=UserFactory(), days=days, now=NOW)
    assert caught.value.code == "invalid_days"


@pytest.mark.parametrize(("raw", "days"), [(None, 30), ("", 30), ("7", 7), (" 90 ", 90), ("366", 366)])
def test_days_from_a_query_string(raw: Any, days: int):
    assert clean_days(raw) == days


@pytest.mark.parametrize("raw", ["0", "abc", "1e3", "-5", "367", "7.5"])
def test_bad_days_from_a_query_string(raw: str):
    with pytest.raises(ValidationFailed):
        clean_days(raw)


def _queries(user: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        shopkeeper_dashboard(user=user, days=30, now=NOW)
    return len(captured.captured_queries)


def test_the_query_count_does_not_grow_with_orders_clicks_or_products():
    shop = ShopFactory()
    products = [ProductFactory() for _ in range(20)]
    for i in range(3):
        click(shop, products[i], f"v{i}", at(10))
        order(shop, [{"product": products[i], "quantity": 1, "paid": 1_000, "commission": 100}], paid_at=at(10))
    few = _queries(shop.owner)

    for i in range(3, 20):
        click(shop, products[i], f"v{i}", at(11))
        order(
            shop,
            [
                {"product": products[i], "quantity": 2, "paid": 2_000, "commission": 200},
                {"product": products[(i + 1) % 20], "quantity": 1, "paid": 1_000, "commission": 100},
            ],
            paid_at=at(11 + i % 4),
        )
    many = _queries(shop.owner)

    assert few == many
    assert many <= 9
    data = shopkeeper_dashboard(user=shop.owner, days=30, now=NOW)
    assert data.orders == 20
    assert len(data.products) == 20


# --- the chart ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (1, 1), (7, 10), (12, 20), (120, 200), (2_400, 2_500), (25_000, 25_000), (25_001, 50_000)],
)
def test_axis_tops_are_round(value: int, ceiling: int):
    assert nice_ceiling(value) == ceiling


def test_the_svg_is_valid_xml_with_every_point_and_accessible(scenario: dict[str, Any]):
    data = shopkeeper_dashboard(user=scenario["owner"], days=7, now=NOW)

    svg = dashboard_chart_svg(series=data.series, currency="CNY")
    root = ElementTree.fromstring(svg)  # noqa: S314 (our own markup)

    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "earnings-chart-title earnings-chart-desc"
    assert root.find(f"{SVG}title").text == "Daily GMV and commission, last 7 days"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc") is not None
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Amount (CNY)" in texts
    assert "Day" in texts
    assert "¥250.00" in texts  # the top of the y axis
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("data-day")]
    assert [(r.get("data-day"), r.get("data-value")) for r in bars] == [
        (p.day.isoformat(), str(p.gmv)) for p in data.series
    ]
    tallest = next(r for r in bars if r.get("data-day") == "2026-03-12")
    geometry = chart_points(data.series)
    assert float(tallest.get("height", "0")) == pytest.approx(geometry["plot_h"], abs=0.1)
    assert tallest.find(f"{SVG}title").text == "2026-03-12: GMV ¥250.00"  # type: ignore[union-attr]
    polyline = next(root.iter(f"{SVG}polyline"))
    points = [tuple(map(float, pair.split(","))) for pair in polyline.get("points", "").split()]
    assert len(points) == 7
    assert [round(x, 1) for x, _ in points] == [round(d["x"], 1) for d in geometry["days"]]
    assert [round(y, 1) for _, y in points] == [round(d["line_y"], 1) for d in geometry["days"]]
    circles = [c.get("data-value") for c in root.iter(f"{SVG}circle")]
    assert circles == [str(p.commission) for p in data.series]


def test_an_empty_series_still_draws_a_valid_chart():
    series = [DayPoint(day=date(2026, 3, d), clicks=0, orders=0, gmv=0, commission=0) for d in range(1, 31)]

    root = ElementTree.fromstring(dashboard_chart_svg(series=series, currency="CNY"))  # noqa: S314 (our own markup)

    assert len([r for r in root.iter(f"{SVG}rect") if r.get("data-day")]) == 30
    assert all(float(r.get("height", "1")) == 0 for r in root.iter(f"{SVG}rect") if r.get("data-day"))
