"""catalog/stock.py: conditional moves between stock, reserved and sold."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grassroots.catalog.models import Product, Sku
from grassroots.catalog.stock import (
    OutOfStock,
    StockInvariantBroken,
    stock_commit,
    stock_release,
    stock_reserve,
    stock_return,
    stock_set,
    stock_shortages,
)
from grassroots.catalog.tests.factories import SkuFactory

pytestmark = pytest.mark.django_db


def counters(sku: Sku) -> tuple[int, int, int]:
    sku.refresh_from_db()
    return sku.stock, sku.reserved, sku.sold


@pytest.mark.django_db(transaction=True)
def test_moves_outside_a_transaction_are_refused():
    sku = SkuFactory(stock=5)

    for move in (stock_reserve, stock_release, stock_commit, stock_return):
        with pytest.raises(RuntimeError):
            move(lines={sku.pk: 1})

    assert counters(sku) == (5, 0, 0)


def test_reserve_is_all_or_nothing_and_shortages_say_what_is_left():
    a, b = SkuFactory(stock=5), SkuFactory(stock=1)

    with pytest.raises(OutOfStock), transaction.atomic():
        stock_reserve(lines={a.pk: 2, b.pk: 2})

    assert counters(a) == (5, 0, 0)
    assert counters(b) == (1, 0, 0)
    assert stock_shortages(lines={a.pk: 2, b.pk: 2}) == {str(b.pk): 1}


def test_reserve_refuses_inactive_skus_and_unlisted_products():
    inactive = SkuFactory(stock=5, is_active=False)
    unlisted = SkuFactory(stock=5)
    Product.objects.filter(pk=unlisted.product_id).update(is_listed=False)

    for sku in (inactive, unlisted):
        with pytest.raises(OutOfStock), transaction.atomic():
            stock_reserve(lines={sku.pk: 1})
        assert counters(sku) == (5, 0, 0)
        assert stock_shortages(lines={sku.pk: 1}) == {str(sku.pk): 0}


def test_release_commit_and_return_move_only_what_is_held():
    sku = SkuFactory(stock=10)
    with transaction.atomic():
        stock_reserve(lines={sku.pk: 4})
        stock_release(lines={sku.pk: 1})
        stock_commit(lines={sku.pk: 2})
        stock_return(lines={sku.pk: 1})
    assert counters(sku) == (8, 1, 1)

    with pytest.raises(StockInvariantBroken), transaction.atomic():
        stock_commit(lines={sku.pk: 2})
    assert counters(sku) == (8, 1, 1)


def test_set_restocks_and_writes_off_only_free_stock():
    sku = SkuFactory(stock=3)
    with transaction.atomic():
        stock_reserve(lines={sku.pk: 2})

    assert stock_set(sku_id=sku.pk, stock=11) == 11
    assert counters(sku) == (11, 2, 0)
    assert stock_set(sku_id=sku.pk, stock=0) == 0
    assert stock_set(sku_id=sku.pk, stock=0) == 0
    assert counters(sku) == (0, 2, 0)
    with pytest.raises(Sku.DoesNotExist):
        stock_set(sku_id=sku.pk + 1000, stock=1)


operations = st.lists(
    st.tuples(
        st.sampled_from(["reserve", "release", "commit", "return", "set"]),
        st.integers(min_value=0, max_value=2),
        st.integers(min_value=-5, max_value=8),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_counters_never_go_negative_and_are_conserved(ops):
    skus = [SkuFactory(stock=5) for _ in range(3)]
    model = {sku.pk: [5, 0, 0] for sku in skus}
    movers = {"reserve": stock_reserve, "release": stock_release, "commit": stock_commit, "return": stock_return}
    moves = {"reserve": (0, 1), "release": (1, 0), "commit": (1, 2), "return": (2, 0)}
    total = 15
    for name, index, amount in ops:
        pk = skus[index].pk
        if name == "set":
            if amount < 0:
                continue
            assert stock_set(sku_id=pk, stock=amount) == amount
            total += amount - model[pk][0]
            model[pk][0] = amount
            continue
        if amount <= 0:
            continue
        source, target = moves[name]
        try:
            with transaction.atomic():
                movers[name](lines={pk: amount})
        except (OutOfStock, StockInvariantBroken):
            assert model[pk][source] < amount
            continue
        model[pk][source] -= amount
        model[pk][target] += amount
    rows = {
        pk: [s, r, d] for pk, s, r, d in Sku.objects.filter(pk__in=model).values_list("pk", "stock", "reserved", "sold")
    }
    assert rows == model
    assert all(v >= 0 for row in rows.values() for v in row)
    assert sum(sum(row) for row in rows.values()) == total


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_identical_stock_edits_at_once_set_it_once():
    """Each edit reads the stock, then writes: without the compare-and-set every one of them would
    add the difference it computed from the same reading (0 -> 40 for four "set to 10")."""
    sku = SkuFactory(stock=0)
    with transaction.atomic():
        stock_set(sku_id=sku.pk, stock=1)
        stock_reserve(lines={sku.pk: 1})
    edits = 4
    barrier = threading.Barrier(edits)
    errors: list[BaseException] = []

    def edit() -> None:
        try:
            barrier.wait()
            stock_set(sku_id=sku.pk, stock=10)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=edit) for _ in range(edits)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert counters(sku) == (10, 1, 0)


def test_a_refused_reservation_reports_only_the_short_lines_with_what_is_free():
    plenty, short = SkuFactory(stock=3), SkuFactory(stock=1)

    with pytest.raises(OutOfStock) as refused, transaction.atomic():
        stock_reserve(lines={plenty.pk: 2, short.pk: 2})

    assert refused.value.fields == {str(short.pk): 1}
    assert counters(plenty) == (3, 0, 0)
    assert counters(short) == (1, 0, 0)
