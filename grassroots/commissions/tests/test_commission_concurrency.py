"""Real parallel connections: concurrent settlement runs settle every line exactly once, and a
refund racing a settlement leaves the books whole either way."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory
from grassroots.commissions.models import CommissionLine
from grassroots.commissions.services import commissions_settle_due
from grassroots.commissions.tests.test_commission_helpers import (
    add_to_shop,
    balances,
    books_balance,
    buy,
    buyer_with_address,
    click,
    deliver,
    product_with_rate,
    return_after_delivery,
    shop_of,
)
from grassroots.core.errors import Conflict
from grassroots.ledger.models import JournalEntry
from grassroots.orders.models import Order, OrderLine

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


@contextmanager
def _no_capture(execute: bool = True) -> Iterator[None]:
    # Outside a test transaction on_commit callbacks run at once: nothing to capture.
    yield


def _sale(keeper: Any, shop: Any) -> Order:
    product, sku = product_with_rate(price=10000, rate_bps=1000)
    add_to_shop(shop, product)
    device = f"race-device-{product.pk:012d}"
    click(shop, device=device)
    return buy(buyer_with_address(), [(sku, 2)], _no_capture, device=device)


def _in_threads(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run each job on its own connection, all released at one barrier; returns results or errors."""
    results: list[Any] = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = jobs[index]()
        except BaseException as exc:  # reported by the caller
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_settlement_runs_settle_each_line_once() -> None:
    keepers = []
    for _ in range(3):
        inviter = UserFactory()
        shop_of(inviter)
        keeper = UserFactory(invited_by=inviter)
        shop = shop_of(keeper)
        for _sale_number in range(4):
            deliver(_sale(keeper, shop), days_ago=8)
        keepers.append(keeper)
    now = timezone.now()

    results = _in_threads([lambda: commissions_settle_due(now=now) for _ in range(4)])

    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert sum(r.lines for r in results) == 12
    assert CommissionLine.objects.filter(status="available").count() == 12
    for keeper in keepers:
        assert balances(keeper)["available"] == 4 * 2000
        assert balances(keeper)["pending"] == 0
        assert balances(keeper.invited_by)["available"] == 4 * 100
    assert JournalEntry.objects.filter(kind="commission_settlement").count() == sum(r.entries for r in results)
    books_balance()


def test_shards_and_a_whole_run_at_once_settle_each_line_once() -> None:
    keepers = []
    for _ in range(4):
        keeper = UserFactory(invited_by=UserFactory())
        shop_of(keeper.invited_by)
        shop = shop_of(keeper)
        for _sale_number in range(3):
            deliver(_sale(keeper, shop), days_ago=8)
        keepers.append(keeper)
    now = timezone.now()

    # Two shards of one split run side by side, a third run takes everything at the same time.
    results = _in_threads(
        [
            lambda: commissions_settle_due(now=now, shard=(0, 2)),
            lambda: commissions_settle_due(now=now, shard=(1, 2)),
            lambda: commissions_settle_due(now=now),
        ]
    )

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert sum(r.lines for r in results) == 12
    assert CommissionLine.objects.filter(status="available").count() == 12
    for keeper in keepers:
        assert balances(keeper)["available"] == 3 * 2000
        assert balances(keeper.invited_by)["available"] == 3 * 100
    books_balance()


def test_a_refund_racing_a_settlement_keeps_the_books_whole() -> None:
    inviter = UserFactory()
    shop_of(inviter)
    keeper = UserFactory(invited_by=inviter)
    shop = shop_of(keeper)
    order = deliver(_sale(keeper, shop))
    line = OrderLine.objects.get(order=order)
    later = timezone.now() + timedelta(days=8)

    def refund() -> Any:
        try:
            return return_after_delivery(order, [(line.pk, 1)])
        except Conflict:  # the settlement won the line meanwhile: the buyer's retry goes through
            from grassroots.orders import services as orders

            request = order.returns.get()
            return orders.return_receive(actor=order.merchant.memberships.get().user, return_id=request.pk)

    results = _in_threads([lambda: commissions_settle_due(now=later), refund])

    assert [r for r in results if isinstance(r, BaseException)] == []
    commission = CommissionLine.objects.get()
    assert (commission.commission_reversed, commission.override_reversed) == (1000, 50)
    owed = balances(keeper)
    assert owed["pending"] + owed["available"] - owed["receivable"] == 1000
    team = balances(inviter)
    assert team["pending"] + team["available"] == 50
    books_balance()
