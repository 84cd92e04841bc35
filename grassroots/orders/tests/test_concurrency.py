"""Real parallel connections against one SKU: stock never oversells, never goes negative."""

from __future__ import annotations

import os
import random
import threading
import time

import pytest
from django.db import connection

from grassroots.accounts.models import User
from grassroots.catalog.models import Sku
from grassroots.catalog.stock import OutOfStock
from grassroots.catalog.tests.factories import SkuFactory
from grassroots.core.errors import ValidationFailed
from grassroots.orders import services
from grassroots.orders.models import Address, Checkout, OrderLine

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

BUYERS = 200
STOCK = 50


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _buyers(seed: int) -> list[tuple[User, int]]:
    users = User.objects.bulk_create(
        [User(email=f"c{seed}-{i}@example.com", display_name=f"Buyer {i}") for i in range(BUYERS)]
    )
    addresses = Address.objects.bulk_create(
        [
            Address(owner=u, name="N", phone="13800138000", region="R", city="C", line1="L", is_default=True)
            for u in users
        ]
    )
    return [(u, a.pk) for u, a in zip(users, addresses, strict=True)]


def _run_in_threads(jobs: list, workers: int, rng: random.Random, *, any_limit: bool = False) -> dict[str, int]:
    """Each worker thread has its own connection (closed at the end) and starts at one barrier."""
    outcomes = {"ok": 0, "out_of_stock": 0}
    if any_limit:
        outcomes["purchase_limit"] = 0
    errors: list[BaseException] = []
    lock = threading.Lock()
    queue = list(jobs)
    rng.shuffle(queue)
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
                except OutOfStock:
                    key = "out_of_stock"
                except ValidationFailed as error:
                    if error.code != "purchase_limit":
                        raise
                    key = "purchase_limit"
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


def test_200_buyers_on_one_sku_with_stock_50_get_exactly_50_checkouts():
    # 20 seeds take about 30 s on SQLite and 45 s on PostgreSQL on a 2-core machine.
    seeds = int(os.environ.get("GRASSROOTS_CONCURRENCY_SEEDS", "20"))
    workers = 24 if _is_postgres() else 12
    started = time.monotonic()
    for seed in range(seeds):
        rng = random.Random(seed)
        sku = SkuFactory(stock=STOCK)
        quantity_seen_negative = threading.Event()
        done = threading.Event()

        def watch(
            sku_id: int = sku.pk, done: threading.Event = done, seen: threading.Event = quantity_seen_negative
        ) -> None:
            try:
                while not done.is_set():
                    row = Sku.objects.values_list("stock", "reserved", "sold").get(pk=sku_id)
                    if min(row) < 0 or sum(row) != STOCK:
                        seen.set()
                    time.sleep(0.005)
            finally:
                connection.close()

        watcher = threading.Thread(target=watch)
        watcher.start()
        jobs = [
            (
                lambda buyer=buyer, address_id=address_id, sku_id=sku.pk: services.checkout_place(
                    buyer=buyer, address_id=address_id, items=[(sku_id, 1)]
                )
            )
            for buyer, address_id in _buyers(seed)
        ]
        outcomes = _run_in_threads(jobs, workers, rng)
        done.set()
        watcher.join()

        sku.refresh_from_db()
        assert outcomes == {"ok": STOCK, "out_of_stock": BUYERS - STOCK}, seed
        assert (sku.stock, sku.reserved, sku.sold) == (0, STOCK, 0), seed
        assert Checkout.objects.filter(orders__lines__sku=sku).count() == STOCK
        assert sum(OrderLine.objects.filter(sku=sku).values_list("quantity", flat=True)) == STOCK
        assert not quantity_seen_negative.is_set(), seed
    print(f"\n{seeds} seeds x {BUYERS} buyers on {connection.vendor}: {time.monotonic() - started:.1f}s")


def test_concurrent_checkouts_over_two_skus_in_opposite_orders_do_not_deadlock():
    """Half the buyers list (a, b), half (b, a): ids are locked in ascending order either way."""
    a, b = SkuFactory(stock=30), SkuFactory(stock=30)
    buyers = _buyers(99)[:80]
    jobs = [
        (
            lambda buyer=buyer, address_id=address_id, i=i: services.checkout_place(
                buyer=buyer, address_id=address_id, items=[(a.pk, 1), (b.pk, 1)] if i % 2 else [(b.pk, 1), (a.pk, 1)]
            )
        )
        for i, (buyer, address_id) in enumerate(buyers)
    ]

    outcomes = _run_in_threads(jobs, 16 if _is_postgres() else 8, random.Random(7))

    assert outcomes == {"ok": 30, "out_of_stock": 50}
    for sku in (a, b):
        sku.refresh_from_db()
        assert (sku.stock, sku.reserved, sku.sold) == (0, 30, 0)


def test_one_buyer_racing_themself_cannot_pass_the_purchase_limit():
    """The limit is counted after the SKU row is locked, so parallel checkouts of one buyer queue."""
    sku = SkuFactory(stock=50, max_per_user=3)
    buyer, address_id = _buyers(7)[0]
    jobs = [
        (lambda: services.checkout_place(buyer=buyer, address_id=address_id, items=[(sku.pk, 1)])) for _ in range(12)
    ]

    outcomes = _run_in_threads(jobs, 12, random.Random(3), any_limit=True)

    assert outcomes == {"ok": 3, "out_of_stock": 0, "purchase_limit": 9}
    sku.refresh_from_db()
    assert (sku.stock, sku.reserved) == (47, 3)


def test_a_capture_racing_the_expiry_never_loses_money(settings):
    """The provider's webhook and the expiry sweep run at the same moment, many times: either the
    checkout is paid (units sold) or it expired and the payment was refunded in full."""
    from django.tasks import default_task_backend

    from grassroots.ledger.models import LedgerAccount
    from grassroots.orders.models import UnappliedPayment
    from grassroots.payments import services as payments
    from grassroots.payments.gateways import CARD_SUCCEEDS
    from grassroots.payments.tasks import simulated_webhook_deliver

    # Hold the provider's webhook back so the test decides when it lands.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    rounds = 12
    sku = SkuFactory(stock=rounds, price_amount=2500)
    outcomes = {"paid": 0, "refunded": 0}
    for round_no, (buyer, address_id) in enumerate(_buyers(500)[:rounds]):
        checkout = services.checkout_place(buyer=buyer, address_id=address_id, items=[(sku.pk, 1)])
        intent, _created = payments.payment_intent_create(payer=buyer, kind="checkout", payable_id=checkout.pk)
        payments.payment_intent_confirm(payer=buyer, intent_id=intent.pk, card_number=CARD_SUCCEEDS)
        webhook = next(
            r
            for r in default_task_backend.results
            if r.task.name == simulated_webhook_deliver.name and r.kwargs["intent_id"] == intent.pk
        )
        Checkout.objects.filter(pk=checkout.pk).update(expires_at="2000-01-01T00:00:00Z")
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def run(job, barrier=barrier, errors=errors) -> None:
            try:
                barrier.wait()
                job()
            except BaseException as exc:  # reported by the test
                errors.append(exc)
            finally:
                connection.close()

        jobs = [
            lambda: services.checkouts_expire(),
            lambda webhook=webhook: simulated_webhook_deliver.call(**webhook.kwargs),
        ]
        if round_no % 2:
            jobs.reverse()
        threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [], round_no

        checkout.refresh_from_db()
        intent.refresh_from_db()
        assert intent.status == "succeeded"
        if checkout.status == "paid":
            outcomes["paid"] += 1
            assert intent.amount_refunded == 0
            assert not UnappliedPayment.objects.filter(intent_id=intent.pk).exists()
        else:
            outcomes["refunded"] += 1
            assert checkout.status == "expired"
            assert intent.amount_refunded == 2500
            assert UnappliedPayment.objects.get(intent_id=intent.pk).refunded_at is not None

    sku.refresh_from_db()
    assert (sku.stock, sku.reserved, sku.sold) == (outcomes["refunded"], 0, outcomes["paid"])
    assert LedgerAccount.objects.get(code="buyer:clearing").cached_balance == 0
    assert LedgerAccount.objects.get(code="gateway:cash").cached_balance == 2500 * outcomes["paid"]
    print(f"\ncapture vs expiry on {connection.vendor}: {outcomes}")
