"""Real parallel writers, each thread on its own database connection (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from grassroots.core.errors import ValidationFailed
from grassroots.ledger.codes import BUYER_CLEARING, GATEWAY_CASH, PLATFORM_REVENUE, merchant_payable
from grassroots.ledger.models import JournalEntry, LedgerAccount
from grassroots.ledger.selectors import account_balance, accounts_with_replay, ledger_problems
from grassroots.ledger.services import PostingSpec, journal_entry_post, merchant_settlement_post
from grassroots.ledger.tests.factories import fund_merchant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]

THREADS = 10


def run_in_threads(jobs: list[Callable[[], Any]], threads: int = THREADS) -> tuple[list[Any], list[BaseException]]:
    """Run the jobs spread over `threads` threads that start together; each thread closes its own
    connection when it ends."""
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker(my_jobs: list[Callable[[], Any]]) -> None:
        try:
            start.wait()
            for job in my_jobs:
                try:
                    result = job()
                except BaseException as error:  # collected; the test asserts on them
                    with lock:
                        errors.append(error)
                else:
                    with lock:
                        results.append(result)
        finally:
            connection.close()

    workers = [threading.Thread(target=worker, args=(jobs[i::threads],)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in workers)
    return results, errors


def allocation(i: int) -> list[PostingSpec]:
    """Capture and allocation in one: every entry touches cash, revenue and one of two payables."""
    return [
        PostingSpec(GATEWAY_CASH, 1_000 + i, "CNY"),
        PostingSpec(merchant_payable(1 + i % 2), -(950 + i), "CNY"),
        PostingSpec(PLATFORM_REVENUE, -50, "CNY"),
    ]


def test_fifty_parallel_entries_on_the_same_accounts_keep_the_cache_equal_to_the_replay():
    # Given no accounts yet (the first posts also race to create them)
    jobs = [
        lambda i=i: journal_entry_post(idempotency_key=f"order:{i}", kind="order_paid", postings=allocation(i))
        for i in range(50)
    ]

    # When 50 entries are posted from 10 threads at once
    results, errors = run_in_threads(jobs)

    # Then every one is written once, and each cached balance equals the replay of its postings
    assert errors == []
    assert len({entry.pk for entry in results}) == 50
    assert JournalEntry.objects.count() == 50
    assert ledger_problems() == []
    assert all(a.cached_balance == a.replay for a in accounts_with_replay())
    assert account_balance(code=GATEWAY_CASH, currency="CNY") == sum(1_000 + i for i in range(50))
    assert account_balance(code=PLATFORM_REVENUE, currency="CNY") == -50 * 50
    assert account_balance(code=merchant_payable(1), currency="CNY") == -sum(950 + i for i in range(0, 50, 2))
    assert account_balance(code=merchant_payable(2), currency="CNY") == -sum(950 + i for i in range(1, 50, 2))
    assert LedgerAccount.objects.filter(code=BUYER_CLEARING).count() == 0


def test_parallel_replays_of_one_key_write_one_entry():
    postings = allocation(0)
    jobs = [lambda: journal_entry_post(idempotency_key="order:1", kind="order_paid", postings=postings)] * 20

    results, errors = run_in_threads(jobs)

    assert errors == []
    assert len({entry.pk for entry in results}) == 1
    assert JournalEntry.objects.count() == 1
    assert account_balance(code=GATEWAY_CASH, currency="CNY") == 1_000
    assert ledger_problems() == []


def test_parallel_settlements_never_pay_out_more_than_is_owed():
    # Given the platform owes merchant 1 exactly 1,000
    fund_merchant(1, 1_000)

    # When ten curators each try to settle 300 at once
    jobs = [
        lambda i=i: merchant_settlement_post(
            merchant_id=1, amount=300, currency="CNY", idempotency_key=f"settle:{i}", actor=None
        )
        for i in range(10)
    ]
    results, errors = run_in_threads(jobs)

    # Then three go through and the others are refused; the payable never turns into a debit
    assert len(results) == 3
    assert len(errors) == 7
    assert all(isinstance(error, ValidationFailed) and error.code == "insufficient_balance" for error in errors)
    assert account_balance(code=merchant_payable(1), currency="CNY") == -100
    assert JournalEntry.objects.filter(kind="settlement").count() == 3
    assert ledger_problems() == []


def test_parallel_batches_on_shared_accounts_never_deadlock_and_post_each_key_once():
    # Given batches that share accounts and keys, listed in different orders
    from grassroots.ledger.services import EntrySpec, journal_entries_post_many

    def batch(i: int) -> list[EntrySpec]:
        keys = list(range(i % 5, i % 5 + 10))
        if i % 2:
            keys.reverse()
        return [EntrySpec(idempotency_key=f"bulk:{k}", kind="order_paid", postings=allocation(k)) for k in keys]

    # When 20 batches are posted from 10 threads at once, interleaved with single posts
    jobs: list[Callable[[], Any]] = [lambda i=i: journal_entries_post_many(entries=batch(i)) for i in range(20)]
    jobs += [
        lambda i=i: journal_entry_post(idempotency_key=f"bulk:{i}", kind="order_paid", postings=allocation(i))
        for i in range(14)
    ]
    _results, errors = run_in_threads(jobs)

    # Then nothing failed, each key was written once and the cached balances equal the replay
    assert errors == []
    assert JournalEntry.objects.filter(idempotency_key__startswith="bulk:").count() == 14
    assert ledger_problems() == []
