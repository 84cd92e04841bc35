"""Withdrawals under real parallel requests, each thread on its own connection (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.commissions.models import Withdrawal, WithdrawalStatusChange
from grassroots.commissions.selectors import shopkeeper_account
from grassroots.commissions.withdrawals import withdrawal_approve, withdrawal_reject, withdrawal_request
from grassroots.core.errors import Conflict
from grassroots.ledger.codes import GATEWAY_CASH, PLATFORM_REVENUE
from grassroots.ledger.models import JournalEntry
from grassroots.ledger.selectors import account_balance, ledger_problems
from grassroots.ledger.services import PostingSpec, journal_entry_post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]


def run_at_once(jobs: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    """One thread per job, released together; each thread closes its own connection."""
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(len(jobs))

    def worker(job: Callable[[], Any]) -> None:
        try:
            start.wait()
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

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results, errors


def fund(user: Any, amount: int) -> None:
    journal_entry_post(
        idempotency_key=f"test-fund:{user.pk}",
        kind="test_commission",
        postings=[
            PostingSpec(PLATFORM_REVENUE, amount, "CNY"),
            PostingSpec(shopkeeper_account(user.pk, "available"), -amount, "CNY"),
        ],
    )


def available(user: Any) -> int:
    return -account_balance(code=shopkeeper_account(user.pk, "available"), currency="CNY")


def test_twenty_parallel_requests_by_one_shopkeeper_let_exactly_one_through():
    # Given a shopkeeper with 1,500 available
    shopkeeper = UserFactory()
    fund(shopkeeper, 1_500)

    # When 20 requests of 1,000, each with its own key, arrive at once
    jobs = [
        lambda i=i: withdrawal_request(user=shopkeeper, amount=1_000, idempotency_key=f"tap-{i}") for i in range(20)
    ]
    results, errors = run_at_once(jobs)

    # Then exactly one succeeds; the rest are refused without writing anything
    assert len(results) == 1
    assert len(errors) == 19
    assert all(isinstance(error, Conflict) and error.code == "withdrawal_in_flight" for error in errors), errors
    assert Withdrawal.objects.count() == 1
    assert WithdrawalStatusChange.objects.count() == 1
    assert JournalEntry.objects.filter(kind="withdrawal_request").count() == 1
    assert available(shopkeeper) == 500
    assert ledger_problems() == []


def test_parallel_retries_of_one_key_make_one_withdrawal():
    shopkeeper = UserFactory()
    fund(shopkeeper, 5_000)

    jobs = [lambda: withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="double-tap")] * 10
    results, errors = run_at_once(jobs)

    assert errors == []
    assert len({w.pk for w in results}) == 1
    assert Withdrawal.objects.count() == 1
    assert available(shopkeeper) == 3_000
    assert ledger_problems() == []


def test_request_approve_cycles_never_overdraw():
    # Given 3,500 available: three withdrawals of 1,000 fit, a fourth does not
    shopkeeper, curator = UserFactory(), CuratorFactory()
    fund(shopkeeper, 3_500)
    paid = 0
    for cycle in range(5):
        # When ten requests race in every cycle and the winner is paid out
        results, errors = run_at_once(
            [
                lambda i=i, cycle=cycle: withdrawal_request(
                    user=shopkeeper, amount=1_000, idempotency_key=f"c{cycle}-{i}"
                )
                for i in range(10)
            ]
        )
        assert len(results) <= 1
        assert all(getattr(e, "code", "") in {"withdrawal_in_flight", "insufficient_balance"} for e in errors), errors
        for withdrawal in results:
            withdrawal_approve(actor=curator, withdrawal=withdrawal)
            paid += 1

    # Then exactly three were paid and the available balance never went below zero
    assert paid == 3
    assert available(shopkeeper) == 500
    assert account_balance(code=GATEWAY_CASH, currency="CNY") == -3_000
    assert ledger_problems() == []


def test_parallel_approvals_pay_once():
    shopkeeper = UserFactory()
    curators = [CuratorFactory() for _ in range(6)]
    fund(shopkeeper, 5_000)
    withdrawal = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="k")

    results, errors = run_at_once([lambda c=c: withdrawal_approve(actor=c, withdrawal=withdrawal) for c in curators])

    # Losers of the approve race may see it changed under them; none pays a second time.
    assert all(getattr(e, "code", "") == "withdrawal_changed" for e in errors), errors
    assert results and all(w.status == "paid" for w in results)
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paid"
    assert JournalEntry.objects.filter(kind="withdrawal_paid").count() == 1
    assert [c.action for c in withdrawal.status_changes.order_by("id")] == ["request", "approve", "pay"]
    assert account_balance(code=GATEWAY_CASH, currency="CNY") == -2_000
    assert ledger_problems() == []


def test_approve_racing_reject_settles_one_way():
    shopkeeper, one, two = UserFactory(), CuratorFactory(), CuratorFactory()
    fund(shopkeeper, 5_000)
    withdrawal = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="k")

    _results, _errors = run_at_once(
        [
            lambda: withdrawal_approve(actor=one, withdrawal=withdrawal),
            lambda: withdrawal_reject(actor=two, withdrawal=withdrawal, reason="No"),
        ]
    )

    withdrawal.refresh_from_db()
    assert withdrawal.status in {"paid", "rejected"}
    cash = account_balance(code=GATEWAY_CASH, currency="CNY")
    if withdrawal.status == "paid":
        assert (available(shopkeeper), cash) == (3_000, -2_000)
    else:
        assert (available(shopkeeper), cash) == (5_000, 0)
    assert account_balance(code=shopkeeper_account(shopkeeper.pk, "withdrawing"), currency="CNY") == 0
    assert ledger_problems() == []
