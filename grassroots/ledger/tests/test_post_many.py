"""journal_entries_post_many: many balanced entries in a few statements, with the guarantees of
journal_entry_post (validation first, idempotency, account creation and locking, cached balances)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grassroots.core.errors import Conflict, ValidationFailed
from grassroots.ledger.models import JournalEntry, LedgerAccount, Posting
from grassroots.ledger.selectors import ledger_problems
from grassroots.ledger.services import (
    EntrySpec,
    PostingSpec,
    journal_entries_post_many,
    journal_entry_post,
    ledger_accounts_lock,
)
from grassroots.ledger.tests.test_ledger_properties import balanced_postings, merged

pytestmark = pytest.mark.django_db

Books = tuple[dict[str, tuple[str, str, str, list[tuple[str, str, int]]]], dict[tuple[str, str], tuple[str, int]]]


def books() -> Books:
    """Every entry by key (kind, memo, reference, postings) and every account (kind, cached balance)."""
    postings: dict[int, list[tuple[str, str, int]]] = {}
    for entry_id, code, currency, amount in Posting.objects.values_list(
        "entry_id", "account__code", "account__currency", "amount"
    ):
        postings.setdefault(entry_id, []).append((code, currency, amount))
    entries = {
        e.idempotency_key: (e.kind, e.memo, e.reference, sorted(postings.get(e.pk, [])))
        for e in JournalEntry.objects.all()
    }
    accounts = {(a.code, a.currency): (a.kind, a.cached_balance) for a in LedgerAccount.objects.all()}
    return entries, accounts


def in_rollback(write: Callable[[], Any]) -> Books:
    with transaction.atomic():
        write()
        assert ledger_problems() == []
        result = books()
        transaction.set_rollback(True)
    return result


def spec(key: str, postings: list[PostingSpec], kind: str = "test") -> EntrySpec:
    return EntrySpec(idempotency_key=key, kind=kind, postings=postings, memo=f"memo {key}", reference=f"ref:{key}")


def capture(amount: int, currency: str = "CNY") -> list[PostingSpec]:
    return [PostingSpec("gateway:cash", amount, currency), PostingSpec("buyer:clearing", -amount, currency)]


def counts() -> tuple[int, int, int]:
    return JournalEntry.objects.count(), Posting.objects.count(), LedgerAccount.objects.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batch=st.lists(balanced_postings(), min_size=1, max_size=8).map(
        lambda lists: [spec(f"key-{i}", postings) for i, postings in enumerate(lists) if merged(postings)]
    ),
    already=st.integers(min_value=0, max_value=8),
)
def test_posting_many_at_once_books_exactly_what_posting_them_one_by_one_does(batch, already):
    # Given random balanced entries, the first `already` of them posted before (replays in the batch)
    before = batch[:already]

    def one_by_one() -> None:
        for entry in [*before, *batch]:
            journal_entry_post(
                idempotency_key=entry.idempotency_key,
                kind=entry.kind,
                postings=entry.postings,
                memo=entry.memo,
                reference=entry.reference,
            )

    def at_once() -> None:
        for entry in before:
            journal_entry_post(
                idempotency_key=entry.idempotency_key,
                kind=entry.kind,
                postings=entry.postings,
                memo=entry.memo,
                reference=entry.reference,
            )
        posted = journal_entries_post_many(entries=batch)
        assert [e.idempotency_key for e in posted] == [s.idempotency_key for s in batch]

    # Then both write the same entries, postings and accounts, and the cached balances equal the replay
    assert in_rollback(at_once) == in_rollback(one_by_one)


def test_replaying_a_batch_returns_the_first_entries_and_writes_nothing():
    batch = [spec("a", capture(100)), spec("b", capture(250, "USD"))]
    first = journal_entries_post_many(entries=batch)
    before = (counts(), books())

    again = journal_entries_post_many(entries=[*batch, spec("a", list(reversed(capture(100))))])

    assert [e.pk for e in again] == [first[0].pk, first[1].pk, first[0].pk]
    assert (counts(), books()) == before
    assert ledger_problems() == []


def test_a_replayed_key_with_other_postings_is_a_conflict_and_nothing_is_written():
    journal_entries_post_many(entries=[spec("a", capture(100))])
    before = (counts(), books())

    with pytest.raises(Conflict) as error:
        journal_entries_post_many(entries=[spec("new", capture(5)), spec("a", capture(101))])

    assert error.value.code == "idempotency_conflict"
    assert (counts(), books()) == before


def test_the_same_key_twice_with_other_postings_in_one_batch_is_a_conflict():
    with pytest.raises(Conflict):
        journal_entries_post_many(entries=[spec("a", capture(100)), spec("a", capture(7))])
    assert counts() == (0, 0, 0)


def test_one_unbalanced_entry_rejects_the_whole_batch_before_anything_is_written():
    unbalanced = [PostingSpec("gateway:cash", 100, "CNY"), PostingSpec("buyer:clearing", -99, "CNY")]

    with pytest.raises(ValidationFailed) as error:
        journal_entries_post_many(entries=[spec("a", capture(100)), spec("b", unbalanced), spec("c", capture(3))])

    assert error.value.code == "unbalanced_entry"
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    "bad",
    [
        spec("", [PostingSpec("gateway:cash", 1, "CNY"), PostingSpec("buyer:clearing", -1, "CNY")]),
        spec("k", [PostingSpec("gateway:cash", 1, "XXX"), PostingSpec("buyer:clearing", -1, "XXX")]),
        spec("k", [PostingSpec("gateway:cash", 1, "CNY"), PostingSpec("gateway:cash", -1, "CNY")]),
        spec("k", []),
        "not a spec",
    ],
)
def test_invalid_entries_are_rejected_with_nothing_written(bad):
    with pytest.raises(ValidationFailed):
        journal_entries_post_many(entries=[spec("ok", capture(100)), bad])
    assert counts() == (0, 0, 0)


def test_an_empty_batch_writes_nothing():
    assert journal_entries_post_many(entries=[]) == []
    assert counts() == (0, 0, 0)


def test_accounts_are_created_with_the_kind_of_their_code_and_cached_balances_add_up():
    journal_entries_post_many(
        entries=[
            spec(
                f"k{i}",
                [*capture(10 + i), PostingSpec("platform:revenue", -1, "CNY"), PostingSpec("x:1:pending", 1, "CNY")],
            )
            for i in range(30)
        ]
    )
    kinds = dict(LedgerAccount.objects.values_list("code", "kind"))
    assert kinds == {
        "gateway:cash": "asset",
        "buyer:clearing": "liability",
        "platform:revenue": "revenue",
        "x:1:pending": "liability",
    }
    assert LedgerAccount.objects.get(code="gateway:cash").cached_balance == sum(10 + i for i in range(30))
    assert ledger_problems() == []


def test_ledger_accounts_lock_creates_missing_accounts_and_reads_balances_under_the_lock():
    journal_entry_post(idempotency_key="a", kind="test", postings=capture(100))
    with transaction.atomic():
        locked = ledger_accounts_lock(accounts=[("gateway:cash", "CNY"), ("shopkeeper:1:available", "CNY")])
    assert locked[("gateway:cash", "CNY")].balance == 100
    assert locked[("shopkeeper:1:available", "CNY")].balance == 0
    assert LedgerAccount.objects.filter(code="shopkeeper:1:available", cached_balance=0).exists()
    assert ledger_problems() == []
