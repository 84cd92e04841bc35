"""The backlog service: paid lines without an attribution snapshot, attributed and booked in bulk,
checked line by line against the app's own attribution_resolve_many and split_line."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from grassroots.accounts.tests.factories import UserFactory
from grassroots.attribution.services import attribution_resolve_many
from grassroots.commissions.backfill import (
    backlog_rules,
    commissions_attribute_backlog,
    commissions_backlog_count,
)
from grassroots.commissions.models import CommissionLine
from grassroots.commissions.services import commissions_settle_due
from grassroots.commissions.tests.test_commission_helpers import (
    add_to_shop,
    balances,
    buy,
    buyer_with_address,
    click,
    deliver,
    payable,
    product_with_rate,
    revenue,
    shop_of,
)
from grassroots.core.errors import ServiceError
from grassroots.ledger.selectors import ledger_problems
from grassroots.ledger.splits import BPS, split_line
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.orders.models import Order, OrderLine

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the backlog SQL is PostgreSQL's")


def test_on_sqlite_the_service_refuses_clearly_and_the_count_still_works():
    if connection.vendor == "postgresql":
        pytest.skip("SQLite behaviour")
    with pytest.raises(ServiceError) as error:
        commissions_attribute_backlog()
    assert error.value.code == "postgresql_required"
    assert commissions_backlog_count() == 0


def backlog(capture: Any) -> dict[str, Any]:
    """Paid orders placed when nothing could be attributed, then made a backlog (snapshot cleared) and
    given the clicks an import would bring, each before its order: last click (with a team override),
    a later click winning, an expired click, no click, a self purchase and a shared-device hold."""
    merchant = MerchantFactory()
    product, sku = product_with_rate(merchant=merchant, price=10_000, rate_bps=1_000)
    other, other_sku = product_with_rate(merchant=merchant, price=3_333, rate_bps=700)
    grand = UserFactory()
    shop_of(grand)
    inviter = UserFactory(invited_by=grand)
    shop_of(inviter)
    keeper = UserFactory(invited_by=inviter)
    shop = shop_of(keeper, product, other)
    rival_shop = shop_of(None, product)
    people = {name: buyer_with_address() for name in ("clicker", "twice", "late", "nobody", "owner", "ring")}
    orders = {name: buy(buyer, [(sku, 2), (other_sku, 1)], capture, device=None) for name, buyer in people.items()}
    OrderLine.objects.filter(order__in=orders.values()).update(attribution_rule="")
    click(shop, product=product, ago=timedelta(hours=2), user=people["clicker"], device="device-clicker0000000000")
    click(rival_shop, product=product, ago=timedelta(hours=5), user=people["twice"], device="device-twice000000000000")
    click(shop, product=product, ago=timedelta(hours=1), user=people["twice"], device="device-twice000000000000")
    click(shop, ago=timedelta(days=9), user=people["late"], device="device-late0000000000000")
    add_to_shop(shop_of(people["owner"]), product)
    click(shop, ago=timedelta(hours=3), user=people["ring"], device="device-ring0000000000000")
    # The shopkeeper's own account on the ring buyer's device (from another network).
    click(shop, ago=timedelta(days=2), user=keeper, device="device-ring0000000000000", ip="192.0.2.50")
    return {"orders": orders, "keeper": keeper, "inviter": inviter, "merchant": merchant}


@postgresql_only
def test_the_backlog_is_attributed_and_booked_as_checkout_and_capture_would(django_capture_on_commit_callbacks):
    data = backlog(django_capture_on_commit_callbacks)
    lines = list(OrderLine.objects.filter(order__in=data["orders"].values()).select_related("order__buyer"))
    fee_before = {line.pk: line.platform_fee for line in lines}
    payable_before, revenue_before = payable(data["merchant"].pk), revenue()
    assert commissions_backlog_count() == len(lines) == 12

    result = commissions_attribute_backlog()

    assert (result.lines, result.skipped) == (12, 0)
    rules = backlog_rules()
    booked = 0
    for line in lines:
        line.refresh_from_db()
        want = attribution_resolve_many(
            buyer=line.order.buyer, visitor_key=None, product_ids=[line.product_id], at=line.order.placed_at
        )[line.product_id]
        credited = want.rule in ("last_click", "self_purchase")
        assert line.attribution_rule == want.rule
        assert line.attributed_shop_id == (want.shop_id if credited else None)
        assert line.attributed_shopkeeper_id == (want.shopkeeper_id if credited else None)
        assert line.attribution_click_id == (want.click_id if want.rule == "last_click" else None)
        assert line.commission_rate_bps == (want.rate_bps if want.earns_commission else 0)
        assert line.attribution_held == (want.held_for_review and want.earns_commission)
        commission = CommissionLine.objects.filter(order_line=line).first()
        if not want.earns_commission:
            assert commission is None
            assert line.platform_fee == fee_before[line.pk]
            continue
        override = rules.override_bps if line.attributed_shopkeeper_id == data["keeper"].pk else 0
        split = split_line(
            paid=line.paid_amount,
            platform_fee_bps=min(rules.fee_bps, BPS - want.rate_bps),
            commission_bps=want.rate_bps,
            override_bps_of_fee=override,
            has_shopkeeper=True,
            has_override=override > 0,
        )
        assert commission is not None
        assert (commission.commission_amount, commission.override_amount, commission.merchant_amount) == (
            split.commission,
            split.override,
            split.merchant,
        )
        assert commission.override_beneficiary_id == (data["inviter"].pk if override else None)
        assert commission.status == ("held" if line.attribution_held else "pending")
        assert line.platform_fee == split.platform_fee
        booked += split.commission + split.override
    rules_seen = sorted(line.attribution_rule for line in lines)
    assert rules_seen == sorted(["last_click"] * 6 + ["expired"] * 2 + ["none"] * 3 + ["self_purchase"])
    assert result.commission_lines == CommissionLine.objects.count() == 6
    assert CommissionLine.objects.filter(status="held").count() == 2  # the ring's two lines
    for order in Order.objects.filter(pk__in=[o.pk for o in data["orders"].values()]):
        assert order.platform_fee == sum(order.lines.values_list("platform_fee", flat=True))
    # The commission came out of the merchant's payable and the override out of platform revenue.
    assert payable_before - payable(data["merchant"].pk) + revenue_before - revenue() == booked
    assert ledger_problems() == []

    # A rerun finds nothing left, and settlement then treats the lines like any other.
    assert commissions_attribute_backlog().lines == 0
    assert commissions_backlog_count() == 0
    for order in data["orders"].values():
        deliver(order, days_ago=8)
    settled = commissions_settle_due()
    assert settled.lines == 4  # the held lines wait for a curator
    assert balances(data["keeper"])["available"] == sum(
        CommissionLine.objects.filter(shopkeeper=data["keeper"], status="available").values_list(
            "commission_amount", flat=True
        )
    )
    assert ledger_problems() == []


@postgresql_only
def test_lines_whose_fee_is_not_what_capture_books_are_left_alone(django_capture_on_commit_callbacks):
    data = backlog(django_capture_on_commit_callbacks)
    odd = OrderLine.objects.filter(order=data["orders"]["clicker"]).first()
    assert odd is not None
    OrderLine.objects.filter(pk=odd.pk).update(platform_fee=odd.platform_fee + 1)

    result = commissions_attribute_backlog()

    assert result.skipped == 1
    odd.refresh_from_db()
    assert odd.attribution_rule == ""
    assert not CommissionLine.objects.filter(order_line=odd).exists()


@postgresql_only
def test_shards_share_the_work_and_the_command_reports_it(django_capture_on_commit_callbacks, capsys):
    data = backlog(django_capture_on_commit_callbacks)
    total = commissions_backlog_count()
    first = commissions_backlog_count(shard=(0, 2))

    call_command("commissions_backfill", "--shard", "0/2")
    assert commissions_backlog_count() == total - first
    call_command("commissions_backfill", "--shard", "1/2")

    assert commissions_backlog_count() == 0
    assert "attributed" in capsys.readouterr().out
    assert CommissionLine.objects.filter(order__in=data["orders"].values()).count() == 6
    assert ledger_problems() == []


@postgresql_only
def test_a_line_refunded_after_the_run_chose_it_gets_no_commission(django_capture_on_commit_callbacks, monkeypatch):
    """The run chooses its lines first and writes them after a long attribution query; a refund that
    commits in between (it reversed no commission: there was none) must leave that line alone."""
    from grassroots.commissions import backfill

    data = backlog(django_capture_on_commit_callbacks)
    refunded = OrderLine.objects.filter(order=data["orders"]["clicker"], quantity=2).get()
    choose = backfill.attribution_table_create

    def choose_then_refund(cursor: Any, **kwargs: Any) -> None:
        choose(cursor, **kwargs)
        OrderLine.objects.filter(pk=refunded.pk).update(refunded_quantity=1)  # what the refund commits

    monkeypatch.setattr(backfill, "attribution_table_create", choose_then_refund)

    result = commissions_attribute_backlog()

    assert (result.lines, result.skipped) == (11, 1)
    refunded.refresh_from_db()
    assert refunded.attribution_rule == ""
    assert not CommissionLine.objects.filter(order_line=refunded).exists()
    assert ledger_problems() == []
