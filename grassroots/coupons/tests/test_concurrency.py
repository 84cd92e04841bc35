"""Real parallel connections: a coupon's total and per-buyer limits hold under concurrent checkouts.

Each buyer buys their own SKU, so the coupon row is the only thing the checkouts contend for.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection

from grassroots.accounts.models import User
from grassroots.catalog.models import Sku
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.core.errors import ValidationFailed
from grassroots.coupons.models import Coupon, CouponRedemption
from grassroots.coupons.tests.factories import CouponFactory
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.orders import services
from grassroots.orders.models import Address, Checkout, OrderLine

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def _workers() -> int:
    return 24 if connection.vendor == "postgresql" else 12


def _buyers(prefix: str, count: int) -> list[tuple[User, int]]:
    users = User.objects.bulk_create(
        [User(email=f"{prefix}-{i}@example.com", display_name=f"Buyer {i}") for i in range(count)]
    )
    addresses = Address.objects.bulk_create(
        [
            Address(owner=u, name="N", phone="13800138000", region="R", city="C", line1="L", is_default=True)
            for u in users
        ]
    )
    return [(u, a.pk) for u, a in zip(users, addresses, strict=True)]


def _skus(count: int) -> list[Sku]:
    merchant = MerchantFactory()
    return [SkuFactory(product=ProductFactory(merchant=merchant), price_amount=5000, stock=5) for _ in range(count)]


def _run(jobs: list[Callable[[], object]], workers: int) -> Counter[str]:
    """Jobs shared by `workers` threads, each with its own connection (closed at the end), all
    released at once by a barrier. Outcome: "ok" or the error code."""
    outcomes: Counter[str] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()
    queue = list(jobs)
    barrier = threading.Barrier(workers)

    def worker() -> None:
        try:
            barrier.wait()
            while True:
                with lock:
                    if not queue:
                        return
                    job = queue.pop()
                try:
                    job()
                    key = "ok"
                except ValidationFailed as error:
                    key = error.code
                with lock:
                    outcomes[key] += 1
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return outcomes


def _checkout_job(buyer: User, address_id: int, sku: Sku, code: str) -> Callable[[], object]:
    return lambda: services.checkout_place(buyer=buyer, address_id=address_id, items=[(sku.pk, 1)], coupon_code=code)


@pytest.mark.parametrize("limit", [1, 5])
def test_50_concurrent_checkouts_on_a_coupon_with_a_total_limit_redeem_exactly_the_limit(limit):
    coupon = CouponFactory(code=f"RACE{limit}", total_limit=limit)
    skus = _skus(50)
    buyers = _buyers(f"race{limit}", 50)
    jobs = [_checkout_job(b, a, s, coupon.code) for (b, a), s in zip(buyers, skus, strict=True)]

    outcomes = _run(jobs, _workers())

    assert outcomes == {"ok": limit, "coupon_exhausted": 50 - limit}
    coupon.refresh_from_db()
    assert coupon.used_count == limit
    assert CouponRedemption.objects.filter(coupon=coupon, status="active").count() == limit
    # The losers wrote nothing: no checkout, no order line, no held stock.
    assert Checkout.objects.count() == limit
    assert set(Checkout.objects.values_list("discount_total", flat=True)) == {1000}
    assert OrderLine.objects.count() == limit
    assert (
        sorted(Sku.objects.filter(pk__in=[s.pk for s in skus]).values_list("reserved", flat=True))
        == [0] * (50 - limit) + [1] * limit
    )


def test_one_buyer_racing_themself_cannot_pass_the_per_user_limit():
    """The count runs after the conditional UPDATE has serialised redeemers of the coupon."""
    coupon = CouponFactory(code="MINE", total_limit=0, per_user_limit=2)
    skus = _skus(16)
    ((buyer, address_id),) = _buyers("self", 1)
    jobs = [_checkout_job(buyer, address_id, sku, coupon.code) for sku in skus]

    outcomes = _run(jobs, min(16, _workers()))

    assert outcomes == {"ok": 2, "coupon_user_limit": 14}
    coupon.refresh_from_db()
    assert coupon.used_count == 2
    assert CouponRedemption.objects.filter(coupon=coupon, user=buyer).count() == 2
    assert Checkout.objects.count() == 2


def test_releases_racing_redemptions_keep_the_count_exact():
    """Half the jobs cancel a checkout that holds the coupon, half try to take it: used_count always
    equals the active redemptions and never passes the limit."""
    limit = 5
    coupon = CouponFactory(code="SWAP", total_limit=limit)
    skus = _skus(5 + 20)
    holders = _buyers("holder", limit)
    placed = [
        services.checkout_place(buyer=b, address_id=a, items=[(s.pk, 1)], coupon_code=coupon.code)
        for (b, a), s in zip(holders, skus[:limit], strict=True)
    ]
    takers = _buyers("taker", 20)
    jobs: list[Callable[[], object]] = [
        (lambda b=b, c=c: services.checkout_cancel(buyer=b, checkout_id=c.pk))
        for (b, _a), c in zip(holders, placed, strict=True)
    ]
    jobs += [_checkout_job(b, a, s, coupon.code) for (b, a), s in zip(takers, skus[limit:], strict=True)]

    outcomes = _run(jobs, _workers())

    coupon.refresh_from_db()
    active = CouponRedemption.objects.filter(coupon=coupon, status="active").count()
    assert coupon.used_count == active <= limit
    assert outcomes["ok"] == limit + active  # the cancels, plus the takers who got a use
    assert outcomes["ok"] + outcomes["coupon_exhausted"] == limit + 20
    assert CouponRedemption.objects.filter(coupon=coupon, status="released").count() == limit
    assert (
        Coupon.objects.get(pk=coupon.pk).used_count
        == Checkout.objects.filter(status="pending_payment", coupon_code=coupon.code).count()
    )
