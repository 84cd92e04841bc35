"""Coupons at checkout: exact line allocation, totals, limits, release, and the ledger after payment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.models import Sku
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.core.errors import ValidationFailed
from grassroots.coupons import services as coupons
from grassroots.coupons.models import Coupon, CouponRedemption
from grassroots.coupons.tests.factories import CouponFactory, merchant_coupon, percent_coupon
from grassroots.ledger.models import JournalEntry, LedgerAccount
from grassroots.ledger.selectors import ledger_problems
from grassroots.ledger.splits import allocate_proportionally
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.orders import services
from grassroots.orders.models import Checkout, Order, OrderLine
from grassroots.orders.tests.factories import AddressFactory, ShippingRuleFactory
from grassroots.payments import services as payments
from grassroots.payments.gateways import CARD_SUCCEEDS

pytestmark = pytest.mark.django_db


def sku_of(merchant=None, **kwargs) -> Sku:
    return SkuFactory(product=ProductFactory(merchant=merchant) if merchant else ProductFactory(), **kwargs)


def counters(sku: Sku) -> tuple[int, int, int]:
    sku.refresh_from_db()
    return sku.stock, sku.reserved, sku.sold


def used(coupon: Coupon) -> int:
    coupon.refresh_from_db()
    return coupon.used_count


def buyer_with_address():
    buyer = UserFactory()
    return buyer, AddressFactory(owner=buyer).pk


def nothing_written() -> bool:
    return not (
        Checkout.objects.exists()
        or Order.objects.exists()
        or OrderLine.objects.exists()
        or CouponRedemption.objects.exists()
    )


def lines_by_sku(checkout: Checkout) -> dict[int, tuple[int, int]]:
    return {
        line.sku_id: (line.discount_amount, line.paid_amount)
        for line in OrderLine.objects.filter(order__checkout=checkout)
    }


def test_fixed_platform_coupon_is_allocated_exactly_over_all_lines_of_two_merchants():
    buyer, address_id = buyer_with_address()
    tea, skin = MerchantFactory(), MerchantFactory()
    ShippingRuleFactory(merchant=tea, flat_fee=800)
    green = sku_of(tea, price_amount=3001, stock=10)
    black = sku_of(tea, price_amount=999, stock=10)
    cream = sku_of(skin, price_amount=12000, stock=10)
    coupon = CouponFactory(code="SAVE20", amount=2000)

    # goods 6002 + 999 + 12000 = 19001, shipping 800
    checkout = services.checkout_place(
        buyer=buyer,
        address_id=address_id,
        items=[(green.pk, 2), (black.pk, 1), (cream.pk, 1)],
        coupon_code="save20",
    )

    assert (checkout.goods_total, checkout.shipping_total, checkout.discount_total, checkout.total) == (
        19001,
        800,
        2000,
        17801,
    )
    assert checkout.coupon_code == "SAVE20"
    # 2000 * 6002/19001 = 631.75, 2000 * 999/19001 = 105.15, 2000 * 12000/19001 = 1263.09: largest remainder
    assert lines_by_sku(checkout) == {green.pk: (632, 5370), black.pk: (105, 894), cream.pk: (1263, 10737)}
    orders = {o.merchant_id: o for o in checkout.orders.all()}
    assert (orders[tea.pk].goods_total, orders[tea.pk].discount_total, orders[tea.pk].total) == (7001, 737, 7064)
    assert (orders[skin.pk].goods_total, orders[skin.pk].discount_total, orders[skin.pk].total) == (12000, 1263, 10737)
    assert sum(o.total for o in orders.values()) == checkout.total
    redemption = CouponRedemption.objects.get()
    assert (redemption.coupon, redemption.user, redemption.checkout_id, redemption.amount, redemption.status) == (
        coupon,
        buyer,
        checkout.pk,
        2000,
        "active",
    )
    assert used(coupon) == 1


def test_percent_coupon_with_cap_at_checkout():
    buyer, address_id = buyer_with_address()
    a, b = sku_of(price_amount=4999, stock=5), sku_of(price_amount=2500, stock=5)
    percent_coupon(1500, code="FIFTEEN", max_discount=None)
    percent_coupon(1500, code="CAPPED", max_discount=1000)

    # 15% of 4999 * 2 + 2500 = 12498 -> 1874 (rounded down)
    first = services.checkout_place(
        buyer=buyer, address_id=address_id, items=[(a.pk, 2), (b.pk, 1)], coupon_code="FIFTEEN"
    )
    second = services.checkout_place(
        buyer=buyer, address_id=address_id, items=[(a.pk, 2), (b.pk, 1)], coupon_code="CAPPED"
    )

    assert (first.discount_total, first.total) == (1874, 12498 - 1874)
    assert lines_by_sku(first) == {a.pk: (1499, 9998 - 1499), b.pk: (375, 2500 - 375)}
    assert (second.discount_total, second.total) == (1000, 11498)
    assert sum(d for d, _paid in lines_by_sku(second).values()) == 1000


def test_merchant_coupon_only_discounts_that_merchants_lines_in_a_two_merchant_checkout():
    buyer, address_id = buyer_with_address()
    tea, skin = MerchantFactory(), MerchantFactory()
    green, cream = sku_of(tea, price_amount=3000, stock=5), sku_of(skin, price_amount=12000, stock=5)
    coupon = merchant_coupon(tea, code="TEA5", amount=500, min_spend=3000)

    checkout = services.checkout_place(
        buyer=buyer, address_id=address_id, items=[(green.pk, 1), (cream.pk, 1)], coupon_code="TEA5"
    )

    assert (checkout.discount_total, checkout.total) == (500, 14500)
    assert lines_by_sku(checkout) == {green.pk: (500, 2500), cream.pk: (0, 12000)}
    orders = {o.merchant_id: o for o in checkout.orders.all()}
    assert (orders[tea.pk].discount_total, orders[tea.pk].total) == (500, 2500)
    assert (orders[skin.pk].discount_total, orders[skin.pk].total) == (0, 12000)
    assert used(coupon) == 1


def test_min_spend_is_measured_on_eligible_goods_and_refusal_writes_nothing():
    buyer, address_id = buyer_with_address()
    tea, skin = MerchantFactory(), MerchantFactory()
    green, cream = sku_of(tea, price_amount=2999, stock=5), sku_of(skin, price_amount=12000, stock=5)
    coupon = merchant_coupon(tea, code="TEA30", amount=500, min_spend=3000)

    with pytest.raises(ValidationFailed) as error:
        services.checkout_place(
            buyer=buyer, address_id=address_id, items=[(green.pk, 1), (cream.pk, 1)], coupon_code="TEA30"
        )

    assert error.value.code == "coupon_min_spend"
    assert nothing_written()
    assert counters(green) == (5, 0, 0)
    assert used(coupon) == 0


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"is_active": False}, "invalid_coupon"),
        ({"valid_until": timedelta(seconds=-1), "valid_from": timedelta(days=-3)}, "coupon_expired"),
        ({"valid_from": timedelta(minutes=5), "valid_until": timedelta(days=3)}, "coupon_not_started"),
        ({"total_limit": 1, "used_count": 1}, "coupon_exhausted"),
    ],
)
def test_unusable_coupons_are_refused_at_checkout_and_nothing_is_written(changes, code):
    now = timezone.now()
    buyer, address_id = buyer_with_address()
    sku = sku_of(price_amount=5000, stock=5)
    CouponFactory(code="GONE", **{k: now + v if isinstance(v, timedelta) else v for k, v in changes.items()})

    with pytest.raises(ValidationFailed) as error:
        services.checkout_place(buyer=buyer, address_id=address_id, items=[(sku.pk, 1)], coupon_code="GONE", now=now)

    assert error.value.code == code
    assert nothing_written()
    assert counters(sku) == (5, 0, 0)


def test_the_redeem_update_refuses_a_coupon_stopped_after_the_quote():
    """The quote read the coupon as usable; the conditional UPDATE is what decides."""
    buyer, address_id = buyer_with_address()
    sku = sku_of(price_amount=5000, stock=5)
    coupon = CouponFactory(code="LATE", total_limit=1)
    quote = coupons.coupon_quote(code="LATE", buyer=buyer, lines_by_merchant={1: [(sku.pk, 5000)]}, currency="CNY")
    Coupon.objects.filter(pk=coupon.pk).update(used_count=1)
    checkout = services.checkout_place(buyer=buyer, address_id=address_id, items=[(sku.pk, 1)])

    # coupon_redeem has no savepoint of its own (the checkout's block rolls back); give it one here.
    with pytest.raises(ValidationFailed) as error, transaction.atomic():
        coupons.coupon_redeem(coupon=quote.coupon, buyer=buyer, checkout_id=checkout.pk, amount=1000)

    assert error.value.code == "coupon_exhausted"
    assert not CouponRedemption.objects.exists()
    assert used(coupon) == 1


def test_per_user_limit_counts_active_uses_and_a_release_gives_one_back():
    buyer, address_id = buyer_with_address()
    sku = sku_of(price_amount=5000, stock=10)
    coupon = CouponFactory(code="TWICE", per_user_limit=2)
    place = lambda: services.checkout_place(  # noqa: E731
        buyer=buyer, address_id=address_id, items=[(sku.pk, 1)], coupon_code="TWICE"
    )

    first, _second = place(), place()
    with pytest.raises(ValidationFailed) as error:
        place()
    assert error.value.code == "coupon_user_limit"
    assert Checkout.objects.count() == 2
    assert counters(sku) == (8, 2, 0)

    other, other_address = buyer_with_address()
    services.checkout_place(buyer=other, address_id=other_address, items=[(sku.pk, 1)], coupon_code="TWICE")
    assert used(coupon) == 3

    services.checkout_cancel(buyer=buyer, checkout_id=first.pk)
    third = place()
    assert third.discount_total == 1000
    assert used(coupon) == 3
    assert CouponRedemption.objects.filter(coupon=coupon, user=buyer, status="active").count() == 2


def test_cancel_and_expiry_release_the_coupon_once_and_it_can_be_used_again():
    sku = sku_of(price_amount=5000, stock=10)
    coupon = CouponFactory(code="ONCE", total_limit=1)
    now = timezone.now()
    buyer, address_id = buyer_with_address()
    checkout = services.checkout_place(buyer=buyer, address_id=address_id, items=[(sku.pk, 1)], coupon_code="ONCE")
    assert used(coupon) == 1

    services.checkout_cancel(buyer=buyer, checkout_id=checkout.pk)
    services.checkout_cancel(buyer=buyer, checkout_id=checkout.pk)
    assert coupons.coupon_release(checkout_id=checkout.pk) is False  # already released

    assert used(coupon) == 0
    redemption = CouponRedemption.objects.get(checkout=checkout)
    assert redemption.status == "released"
    assert redemption.released_at is not None

    second_buyer, second_address = buyer_with_address()
    second = services.checkout_place(
        buyer=second_buyer, address_id=second_address, items=[(sku.pk, 1)], coupon_code="ONCE", now=now
    )
    assert used(coupon) == 1
    assert services.checkouts_expire(now=now + timedelta(minutes=31)) == 1
    assert services.checkouts_expire(now=now + timedelta(minutes=32)) == 0
    assert used(coupon) == 0
    assert CouponRedemption.objects.get(checkout=second).status == "released"

    third_buyer, third_address = buyer_with_address()
    services.checkout_place(buyer=third_buyer, address_id=third_address, items=[(sku.pk, 1)], coupon_code="ONCE")
    assert used(coupon) == 1
    assert counters(sku) == (9, 1, 0)


def test_a_full_coupon_still_leaves_a_unit_to_pay_on_every_line():
    buyer, address_id = buyer_with_address()
    a, b = sku_of(price_amount=100, stock=5), sku_of(price_amount=1, stock=5)
    percent_coupon(10_000, code="FREE")

    checkout = services.checkout_place(
        buyer=buyer, address_id=address_id, items=[(a.pk, 3), (b.pk, 1)], coupon_code="FREE"
    )

    assert lines_by_sku(checkout) == {a.pk: (299, 1), b.pk: (0, 1)}
    assert (checkout.discount_total, checkout.total) == (299, 2)


def test_checkout_with_a_coupon_costs_a_constant_number_of_extra_queries():
    merchants = [MerchantFactory() for _ in range(3)]
    for merchant in merchants:
        ShippingRuleFactory(merchant=merchant, flat_fee=500)
    skus = [sku_of(merchants[i % 3], price_amount=5000, stock=100, max_per_user=50) for i in range(8)]
    limited = CouponFactory(code="LIMITED", per_user_limit=1, total_limit=100)
    open_coupon = CouponFactory(code="OPEN", per_user_limit=0)
    counts: dict[str, list[int]] = {"": [], limited.code: [], open_coupon.code: []}
    for size in (1, 3, 8):
        for code in counts:
            buyer, address_id = buyer_with_address()
            cart = services.cart_get_or_create(user=buyer)
            for sku in skus[:size]:
                services.cart_add(cart=cart, sku_id=sku.pk, quantity=1)
            with CaptureQueriesContext(connection) as captured:
                services.checkout_place(buyer=buyer, address_id=address_id, from_cart=True, coupon_code=code)
            counts[code].append(len(captured.captured_queries))

    base = counts[""][0]
    assert counts[""] == [base] * 3
    assert counts["LIMITED"] == [base + 5] * 3  # read, count; UPDATE, count, INSERT
    assert counts["OPEN"] == [base + 3] * 3  # read; UPDATE, INSERT


def _pay(buyer, checkout: Checkout, django_capture_on_commit_callbacks) -> None:
    intent, _created = payments.payment_intent_create(payer=buyer, kind="checkout", payable_id=checkout.pk)
    assert intent.amount == checkout.total
    with django_capture_on_commit_callbacks(execute=True):
        payments.payment_intent_confirm(payer=buyer, intent_id=intent.pk, card_number=CARD_SUCCEEDS)


def _two_merchants_with_a_platform_coupon(settings: Any) -> tuple[Any, Any, Any, Sku, Sku, Checkout]:
    """A 5% platform fee; tea (flat shipping 800) sells 2 x 3001, skin 1 x 12000; TENPCT takes 10%."""
    settings.GRASSROOTS = {**settings.GRASSROOTS, "PLATFORM_FEE_BPS": 500}
    buyer, address_id = buyer_with_address()
    tea, skin = MerchantFactory(), MerchantFactory()
    ShippingRuleFactory(merchant=tea, flat_fee=800)
    green = sku_of(tea, price_amount=3001, stock=10)
    cream = sku_of(skin, price_amount=12000, stock=10)
    percent_coupon(1000, code="TENPCT")
    checkout = services.checkout_place(
        buyer=buyer, address_id=address_id, items=[(green.pk, 2), (cream.pk, 1)], coupon_code="TENPCT"
    )
    return buyer, tea, skin, green, cream, checkout


def test_paid_checkout_with_a_coupon_keeps_the_ledger_balanced(settings, django_capture_on_commit_callbacks):
    buyer, tea, _skin, green, cream, checkout = _two_merchants_with_a_platform_coupon(settings)
    # 10% of 18002 = 1800: 600.13 on green, 1199.87 on cream -> 600 and 1200
    assert lines_by_sku(checkout) == {green.pk: (600, 5402), cream.pk: (1200, 10800)}
    assert checkout.total == 18002 - 1800 + 800

    _pay(buyer, checkout, django_capture_on_commit_callbacks)

    checkout.refresh_from_db()
    assert checkout.status == "paid"
    assert ledger_problems() == []
    tea_order = Order.objects.get(merchant=tea)
    assert (tea_order.total, tea_order.platform_fee) == (6202, 270)  # 5% of 5402 = 270.1
    entry = JournalEntry.objects.get(idempotency_key=f"order-paid:{tea_order.pk}")
    # A platform coupon: the platform funds the 600 off, so the merchant is paid as if the buyer
    # had paid it (5402 - 270 fee + 800 shipping + 600).
    assert sorted(entry.postings.values_list("account__code", "amount")) == [
        ("buyer:clearing", 6202),
        (f"merchant:{tea.pk}:payable", -6532),
        ("platform:promotions:expense", 600),
        ("platform:revenue", -270),
    ]
    assert LedgerAccount.objects.get(code="buyer:clearing").cached_balance == 0
    assert LedgerAccount.objects.get(code="gateway:cash").cached_balance == checkout.total
    # A paid checkout keeps its use: it is never released.
    assert CouponRedemption.objects.get(checkout=checkout).status == "active"


def _balance(code: str) -> int:
    account = LedgerAccount.objects.filter(code=code).first()
    return account.cached_balance if account else 0


def test_refunds_give_the_platform_back_its_coupon_share_unit_by_unit(settings, django_capture_on_commit_callbacks):
    buyer, tea, skin, _green, _cream, checkout = _two_merchants_with_a_platform_coupon(settings)
    _pay(buyer, checkout, django_capture_on_commit_callbacks)
    tea_order = Order.objects.get(merchant=tea)
    line = tea_order.lines.get()
    assert (line.discount_amount, line.platform_discount) == (600, 600)
    assert _balance("platform:promotions:expense") == 600 + 1200

    # Refund-only before shipping (approved at once): one unit, then the other.
    for _unit in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            services.return_request_create(buyer=buyer, order_id=tea_order.pk, kind="refund_only", lines=[(line.pk, 1)])
        assert ledger_problems() == []
    assert _balance("platform:promotions:expense") == 1200  # the cream order's share only
    assert _balance(f"merchant:{tea.pk}:payable") == 0
    assert _balance(f"merchant:{skin.pk}:payable") == -(10800 - 540 + 1200)


def test_a_merchant_coupon_is_the_merchants_own_discount(settings, django_capture_on_commit_callbacks):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "PLATFORM_FEE_BPS": 500}
    buyer, address_id = buyer_with_address()
    tea = MerchantFactory()
    green = sku_of(tea, price_amount=3000, stock=10)
    merchant_coupon(tea, code="TEA5", amount=500)
    checkout = services.checkout_place(buyer=buyer, address_id=address_id, items=[(green.pk, 1)], coupon_code="TEA5")
    _pay(buyer, checkout, django_capture_on_commit_callbacks)

    line = OrderLine.objects.get(order__checkout=checkout)
    assert (line.discount_amount, line.platform_discount, line.paid_amount) == (500, 0, 2500)
    assert _balance(f"merchant:{tea.pk}:payable") == -(2500 - 125)
    assert _balance("platform:promotions:expense") == 0


def test_the_merchant_sees_what_the_platform_pays_of_a_coupon(settings, client, django_capture_on_commit_callbacks):
    buyer, tea, _skin, green, _cream, checkout = _two_merchants_with_a_platform_coupon(settings)
    _pay(buyer, checkout, django_capture_on_commit_callbacks)
    client.force_login(tea.owner)

    page = client.get("/orders/console/").content.decode()
    order = client.get(f"/api/v1/orders/merchant/orders?merchant_id={tea.pk}").json()["items"][0]

    assert "paid to the merchant by the platform" in page
    assert [(line["sku_id"], line["discount_amount"], line["platform_discount"]) for line in order["lines"]] == [
        (green.pk, 600, 600)
    ]


def test_a_unit_a_platform_coupon_made_free_still_gives_the_platform_its_share_back(
    settings, django_capture_on_commit_callbacks
):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "PLATFORM_FEE_BPS": 0}
    buyer, address_id = buyer_with_address()
    tea = MerchantFactory()
    big, small = sku_of(tea, price_amount=3000, stock=10), sku_of(tea, price_amount=1000, stock=10)
    CouponFactory(code="ALMOSTFREE", kind=Coupon.Kind.FIXED, amount=6998)
    checkout = services.checkout_place(
        buyer=buyer, address_id=address_id, items=[(big.pk, 2), (small.pk, 1)], coupon_code="ALMOSTFREE"
    )
    _pay(buyer, checkout, django_capture_on_commit_callbacks)
    order = Order.objects.get(checkout=checkout)
    line = order.lines.get(sku=big)
    paid_units = allocate_proportionally(line.paid_amount, [1] * line.quantity)
    free_unit = paid_units.index(0)  # a unit whose paid share is 0, but part of the coupon is on it
    assert line.platform_discount > 0

    for _unit in range(free_unit + 1):
        with django_capture_on_commit_callbacks(execute=True):
            services.return_request_create(buyer=buyer, order_id=order.pk, kind="refund_only", lines=[(line.pk, 1)])
    assert ledger_problems() == []
    other = order.lines.get(sku=small)
    # Every unit of the big line is back: only the small line's share stays with the merchant.
    assert _balance("platform:promotions:expense") == other.platform_discount
    assert _balance(f"merchant:{tea.pk}:payable") == -(other.paid_amount + other.platform_discount)
