"""Commission end to end: attribution at checkout, the split at capture, and who earns what.

Numbers: a 10,000 unit price, 2 units (paid 20,000), platform fee 5% (gross 1,000), commission 10%
(2,000), team override 10% of the fee (100): the merchant keeps 17,000, the platform 900.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory
from grassroots.commissions.models import CommissionLine
from grassroots.commissions.selectors import commission_lines_for_order
from grassroots.commissions.tests.test_commission_helpers import (
    balances,
    books_balance,
    buy,
    buyer_with_address,
    click,
    pay,
    payable,
    place,
    product_with_rate,
    revenue,
    shop_of,
)
from grassroots.ledger.models import JournalEntry
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.orders.models import Order, OrderLine
from grassroots.shops.models import CommissionRate

pytestmark = pytest.mark.django_db

ZERO = {"pending": 0, "held": 0, "available": 0, "withdrawing": 0, "receivable": 0, "withdrawn_total": 0}


def owed(**amounts: int) -> dict[str, int]:
    return {**ZERO, **amounts}


def team() -> tuple[Any, Any, Any]:
    """grand invites inviter invites keeper; grand and inviter are shopkeepers too."""
    grand = UserFactory()
    shop_of(grand)
    inviter = UserFactory(invited_by=grand)
    shop_of(inviter)
    keeper = UserFactory(invited_by=inviter)
    return grand, inviter, keeper


def test_a_sale_through_a_shop_link_pays_commission_and_one_level_of_override(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # Given a shopkeeper (invited by a shopkeeper, who was invited by another) sharing a product
    grand, inviter, keeper = team()
    product, sku = product_with_rate(price=10000, rate_bps=1000)
    shop = shop_of(keeper, product)
    buyer = buyer_with_address()
    the_click = click(shop, product=product)

    # When the buyer pays for two units through the link
    order = buy(buyer, [(sku, 2)], django_capture_on_commit_callbacks)

    # Then the line carries the attribution snapshot
    line = OrderLine.objects.get(order=order)
    assert (line.attribution_rule, line.attributed_shop_id, line.attributed_shopkeeper_id) == (
        "last_click",
        shop.pk,
        keeper.pk,
    )
    assert (line.attribution_click_id, line.commission_rate_bps, line.attribution_held) == (the_click.pk, 1000, False)
    assert (line.paid_amount, line.member_discount, line.platform_fee) == (20000, 0, 900)
    # the commission is exactly the rate of the paid price, the override 10% of the 1,000 fee
    commission = CommissionLine.objects.get(order_line=line)
    assert (commission.commission_amount, commission.override_amount) == (2000, 100)
    assert (commission.shopkeeper_id, commission.override_beneficiary_id) == (keeper.pk, inviter.pk)
    assert (commission.status, commission.rate_bps, commission.paid_amount, commission.merchant_amount) == (
        "pending",
        1000,
        20000,
        17000,
    )
    assert balances(keeper) == owed(pending=2000)
    assert balances(inviter) == owed(pending=100)
    # the inviter's inviter earns nothing: one level, never more
    assert balances(grand) == ZERO
    # the merchant receives paid - fee - commission, the platform keeps its fee less the override
    assert payable(order.merchant_id) == 20000 - 1000 - 2000
    assert revenue() == 900
    # one allocation entry for the order, under its usual key
    entry = JournalEntry.objects.get(kind="order_paid")
    assert entry.idempotency_key == f"order-paid:{order.pk}"
    assert sorted(entry.postings.values_list("account__code", "amount")) == sorted(
        [
            ("buyer:clearing", 20000),
            (f"merchant:{order.merchant_id}:payable", -17000),
            ("platform:revenue", -900),
            (f"shopkeeper:{keeper.pk}:pending", -2000),
            (f"shopkeeper:{inviter.pk}:pending", -100),
        ]
    )
    assert commission_lines_for_order(order_id=order.pk) == [commission]
    books_balance()


def test_no_override_when_the_inviter_is_not_a_shopkeeper(django_capture_on_commit_callbacks: Any) -> None:
    inviter = UserFactory()  # never opened a shop
    keeper = UserFactory(invited_by=inviter)
    product, sku = product_with_rate(rate_bps=1000)
    shop = shop_of(keeper, product)
    buyer = buyer_with_address()
    click(shop)

    order = buy(buyer, [(sku, 2)], django_capture_on_commit_callbacks)

    commission = CommissionLine.objects.get(order=order)
    assert (commission.commission_amount, commission.override_amount, commission.override_beneficiary_id) == (
        2000,
        0,
        None,
    )
    assert balances(inviter) == ZERO
    assert revenue() == 1000
    assert payable(order.merchant_id) == 17000
    books_balance()


def test_no_override_on_the_inviters_own_purchase(django_capture_on_commit_callbacks: Any) -> None:
    inviter = buyer_with_address()
    shop_of(inviter)
    keeper = UserFactory(invited_by=inviter)
    product, sku = product_with_rate(rate_bps=1000)
    shop = shop_of(keeper, product)
    click(shop, user=inviter)

    buy(inviter, [(sku, 2)], django_capture_on_commit_callbacks)

    assert balances(keeper) == owed(pending=2000)
    assert balances(inviter) == ZERO
    assert revenue() == 1000
    books_balance()


def test_a_purchase_through_ones_own_link_earns_nothing_and_gets_the_member_price(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # Given a shopkeeper who clicks their own link
    inviter = UserFactory()
    shop_of(inviter)
    keeper = buyer_with_address()
    keeper.invited_by = inviter
    keeper.save(update_fields=["invited_by"])
    product, sku = product_with_rate(price=10000, rate_bps=1000)
    shop = shop_of(keeper, product)
    click(shop, product=product, user=keeper)

    # When they buy two units
    checkout = place(keeper, [(sku, 2)])

    # Then the line is a self purchase at the member price: 10% off what it costs
    line = OrderLine.objects.get(order__checkout=checkout)
    assert (line.attribution_rule, line.attributed_shopkeeper_id, line.commission_rate_bps) == (
        "self_purchase",
        keeper.pk,
        0,
    )
    assert (line.member_discount, line.discount_amount, line.paid_amount) == (2000, 2000, 18000)
    order = line.order
    assert (order.discount_total, order.total, checkout.discount_total, checkout.total) == (2000, 18000, 2000, 18000)
    pay(keeper, checkout, django_capture_on_commit_callbacks)
    # and nobody earns a commission or an override
    assert not CommissionLine.objects.exists()
    assert balances(keeper) == ZERO
    assert balances(inviter) == ZERO
    assert payable(order.merchant_id) == 18000 - 900
    assert revenue() == 900
    books_balance()


def test_a_click_outside_the_window_earns_nothing(django_capture_on_commit_callbacks: Any) -> None:
    product, sku = product_with_rate(rate_bps=1000)
    shop = shop_of(None, product)
    buyer = buyer_with_address()
    click(shop, ago=timedelta(days=8))  # the window is 7 days

    order = buy(buyer, [(sku, 2)], django_capture_on_commit_callbacks)

    line = OrderLine.objects.get(order=order)
    assert (line.attribution_rule, line.attributed_shopkeeper_id, line.commission_rate_bps) == ("expired", None, 0)
    assert not CommissionLine.objects.exists()
    assert balances(shop.owner) == ZERO
    assert payable(order.merchant_id) == 19000
    books_balance()


def test_the_later_of_two_clicks_wins(django_capture_on_commit_callbacks: Any) -> None:
    product, sku = product_with_rate(rate_bps=1000)
    first, second = shop_of(None, product), shop_of(None, product)
    buyer = buyer_with_address()
    click(first, ago=timedelta(days=2))
    later = click(second, product=product, ago=timedelta(days=1))

    order = buy(buyer, [(sku, 2)], django_capture_on_commit_callbacks)

    commission = CommissionLine.objects.get(order=order)
    assert (commission.shop_id, commission.shopkeeper_id, commission.click_id) == (second.pk, second.owner_id, later.pk)
    assert balances(second.owner) == owed(pending=2000)
    assert balances(first.owner) == ZERO
    books_balance()


def test_a_rate_cut_after_the_click_does_not_reach_it(django_capture_on_commit_callbacks: Any) -> None:
    # Given a product at 20% whose merchant cut the rate to 10%, effective yesterday after notice
    product, sku = product_with_rate(rate_bps=2000, since_days=30)
    CommissionRate.objects.create(product=product, rate_bps=1000, effective_from=timezone.now() - timedelta(days=1))
    early, late = shop_of(None, product), shop_of(None, product)
    click(early, ago=timedelta(days=2), device="early-device-0000000001")
    click(late, ago=timedelta(hours=2), device="late-device-00000000002")

    # When one buyer comes from the click before the cut and another from one after it
    first = buy(buyer_with_address(), [(sku, 2)], django_capture_on_commit_callbacks, device="early-device-0000000001")
    second = buy(buyer_with_address(), [(sku, 2)], django_capture_on_commit_callbacks, device="late-device-00000000002")

    # Then each earns the rate in effect at its click
    assert CommissionLine.objects.get(order=first).rate_bps == 2000
    assert balances(early.owner) == owed(pending=4000)
    assert CommissionLine.objects.get(order=second).rate_bps == 1000
    assert balances(late.owner) == owed(pending=2000)
    books_balance()


def test_an_order_of_several_lines_and_merchants_books_one_entry_per_order(
    django_capture_on_commit_callbacks: Any,
) -> None:
    tea, skin = MerchantFactory(), MerchantFactory()
    green, green_sku = product_with_rate(merchant=tea, price=3000, rate_bps=2000)
    _plain, plain_sku = product_with_rate(merchant=tea, price=1999, rate_bps=1000)
    cream, cream_sku = product_with_rate(merchant=skin, price=12345, rate_bps=500)
    shop = shop_of(None, green, cream)  # plain is not in the shop: it earns nothing
    buyer = buyer_with_address()
    click(shop)

    checkout = place(buyer, [(green_sku, 3), (plain_sku, 1), (cream_sku, 1)])
    pay(buyer, checkout, django_capture_on_commit_callbacks)

    orders = {o.merchant_id: o for o in Order.objects.filter(checkout=checkout)}
    assert JournalEntry.objects.filter(kind="order_paid").count() == 2
    assert CommissionLine.objects.count() == 2
    # 9,000 at 20% and 12,345 at 5% (617.25 -> 617)
    assert balances(shop.owner) == owed(pending=1800 + 617)
    assert payable(tea.pk) == (9000 - 450 - 1800) + (1999 - 100)
    assert payable(skin.pk) == 12345 - 617 - 617
    assert sum(o.platform_fee for o in orders.values()) == revenue() == 450 + 100 + 617
    books_balance()


def test_suspected_self_referral_by_address_is_held(django_capture_on_commit_callbacks: Any) -> None:
    # Given a shopkeeper whose default address is where the "buyer" ships to
    keeper = buyer_with_address(line1="8 Long Street", city="Suzhou")
    product, sku = product_with_rate(rate_bps=1000)
    shop = shop_of(keeper, product)
    buyer = buyer_with_address(line1="8  long street ", city="SUZHOU", name="Someone Else", phone="13900000000")
    click(shop)

    order = buy(buyer, [(sku, 2)], django_capture_on_commit_callbacks)

    line = OrderLine.objects.get(order=order)
    assert (line.attribution_held, line.attribution_hold_reason) == (True, "shared_address")
    commission = CommissionLine.objects.get(order=order)
    assert (commission.status, commission.hold_reason) == ("held", "shared_address")
    assert balances(keeper) == owed(held=2000)
    books_balance()


def test_suspected_self_referral_by_device_is_held(django_capture_on_commit_callbacks: Any) -> None:
    # The shopkeeper's own account clicked from the device the buyer then uses.
    keeper = UserFactory()
    product, sku = product_with_rate(rate_bps=1000)
    shop = shop_of(keeper, product)
    shared = "shared-device-0000000009"
    click(shop, user=keeper, device=shared, ago=timedelta(days=1))
    click(shop, device=shared, ip="192.0.2.99")
    buyer = buyer_with_address()

    buy(buyer, [(sku, 2)], django_capture_on_commit_callbacks, device=shared)

    commission = CommissionLine.objects.get()
    assert commission.status == "held"
    assert "shared_device" in commission.hold_reason
    assert balances(keeper) == owed(held=2000)
    books_balance()


def test_checkout_costs_the_same_queries_for_1_and_8_attributed_lines() -> None:
    products = [product_with_rate(rate_bps=1000 + 100 * i) for i in range(8)]
    shop = shop_of(None, *(product for product, _sku in products))
    counts = []
    for size in (1, 8):
        buyer = buyer_with_address()
        device = f"device-for-size-{size:08d}"
        click(shop, device=device)
        with CaptureQueriesContext(connection) as captured:
            place(buyer, [(sku, 1) for _product, sku in products[:size]], device=device)
        counts.append(len(captured.captured_queries))
    assert OrderLine.objects.filter(attribution_rule="last_click").count() == 9
    assert counts[0] == counts[1], counts


def test_capture_costs_the_same_queries_for_1_and_8_attributed_lines(django_capture_on_commit_callbacks: Any) -> None:
    inviter = UserFactory()
    shop_of(inviter)
    keeper = UserFactory(invited_by=inviter)
    products = [product_with_rate(rate_bps=1000) for _ in range(8)]
    merchant = products[0][0].merchant
    for product, _sku in products:
        product.merchant = merchant
        product.save(update_fields=["merchant"])
    shop = shop_of(keeper, *(product for product, _sku in products))
    counts = []
    from grassroots.orders.services import checkout_mark_paid

    # The first capture also creates the ledger accounts; measure the ones after it.
    for size in (8, 1, 8):
        buyer = buyer_with_address()
        device = f"device-capture-{len(counts):09d}"
        click(shop, device=device)
        checkout = place(buyer, [(sku, 1) for _product, sku in products[:size]], device=device)
        with CaptureQueriesContext(connection) as captured:
            checkout_mark_paid(checkout_id=checkout.pk, intent_id=10_000 + len(counts))
        counts.append(len(captured.captured_queries))
    assert CommissionLine.objects.count() == 17
    assert counts[1] == counts[2], counts
    books_balance()
