"""Random balanced entries, replays and reversals against a model of the books, checking after every
step that the books add up and every balance equals the sum of its postings."""

from __future__ import annotations

from collections import defaultdict

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule, run_state_machine_as_test

from grassroots.core.errors import Conflict, ValidationFailed
from grassroots.ledger.models import JournalEntry, LedgerAccount, Posting
from grassroots.ledger.selectors import account_balance, ledger_problems
from grassroots.ledger.services import PostingSpec, journal_entry_post, journal_entry_reverse

ACCOUNTS = ["gateway:cash", "buyer:clearing", "merchant:1:payable", "merchant:2:payable", "platform:revenue"]
CURRENCIES = ["CNY", "USD"]
KEYS = [f"key-{i}" for i in range(8)]  # few, so keys are often replayed

amounts = st.integers(min_value=-(10**9), max_value=10**9).filter(bool)
legs = st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(CURRENCIES), amounts)


@st.composite
def balanced_postings(draw: st.DrawFn) -> list[PostingSpec]:
    postings = [
        PostingSpec(account, amount, currency)
        for account, currency, amount in draw(st.lists(legs, min_size=1, max_size=5))
    ]
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        totals[posting.currency] += posting.amount
    for currency, total in sorted(totals.items()):
        if total:
            postings.append(PostingSpec(draw(st.sampled_from(ACCOUNTS)), -total, currency))
    return draw(st.permutations(postings))


@st.composite
def unbalanced_postings(draw: st.DrawFn) -> list[PostingSpec]:
    postings = draw(balanced_postings())
    account, currency, amount = draw(legs)
    return [*postings, PostingSpec(account, amount, currency)]


def merged(postings: list[PostingSpec]) -> dict[tuple[str, str], int]:
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for posting in postings:
        sums[(posting.account, posting.currency)] += posting.amount
    return {key: amount for key, amount in sums.items() if amount}


class LedgerMachine(RuleBasedStateMachine):
    entries = Bundle("entries")

    def __init__(self) -> None:
        super().__init__()
        # Each run starts from empty books and is rolled back at the end.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.balances: dict[tuple[str, str], int] = defaultdict(int)
        self.by_key: dict[str, tuple[int, dict[tuple[str, str], int]]] = {}
        self.reversed: set[int] = set()
        self.entry_postings: dict[int, dict[tuple[str, str], int]] = {}

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _counts(self) -> tuple[int, int]:
        return JournalEntry.objects.count(), Posting.objects.count()

    def _apply(self, entry_id: int, sums: dict[tuple[str, str], int]) -> None:
        for key, amount in sums.items():
            self.balances[key] += amount
        self.entry_postings[entry_id] = sums

    @rule(target=entries, key=st.sampled_from(KEYS), postings=balanced_postings())
    def post(self, key: str, postings: list[PostingSpec]) -> int | None:
        sums = merged(postings)
        before = self._counts()
        if not sums:
            with pytest.raises(ValidationFailed):
                journal_entry_post(idempotency_key=key, kind="random", postings=postings)
            assert self._counts() == before
            return None
        if key in self.by_key:
            first_id, first_sums = self.by_key[key]
            if first_sums == sums:
                assert journal_entry_post(idempotency_key=key, kind="random", postings=postings).pk == first_id
            else:
                with pytest.raises(Conflict):
                    journal_entry_post(idempotency_key=key, kind="random", postings=postings)
            assert self._counts() == before
            return first_id
        entry = journal_entry_post(idempotency_key=key, kind="random", postings=postings)
        self.by_key[key] = (entry.pk, sums)
        self._apply(entry.pk, sums)
        assert self._counts() == (before[0] + 1, before[1] + len(sums))
        return entry.pk

    @rule(key=st.sampled_from(KEYS), postings=unbalanced_postings())
    def post_unbalanced(self, key: str, postings: list[PostingSpec]) -> None:
        before = self._counts()
        with pytest.raises(ValidationFailed):
            journal_entry_post(idempotency_key=key, kind="random", postings=postings)
        assert self._counts() == before

    @rule(target=entries, entry_id=consumes(entries))
    def reverse(self, entry_id: int | None) -> int | None:
        if entry_id is None:
            return None
        entry = JournalEntry.objects.get(pk=entry_id)
        if entry_id in self.reversed:
            with pytest.raises(Conflict):
                journal_entry_reverse(entry=entry, idempotency_key=f"other-reversal:{entry_id}")
            return None
        reversal = journal_entry_reverse(entry=entry, idempotency_key=f"reversal:{entry_id}")
        self.reversed.add(entry_id)
        self._apply(reversal.pk, {key: -amount for key, amount in self.entry_postings[entry_id].items()})
        # Replaying the reversal changes nothing.
        assert journal_entry_reverse(entry=entry, idempotency_key=f"reversal:{entry_id}").pk == reversal.pk
        return reversal.pk

    @invariant()
    def books_add_up(self) -> None:
        assert ledger_problems() == []
        posted: dict[tuple[str, str], int] = defaultdict(int)
        for code, currency, amount in Posting.objects.values_list("account__code", "account__currency", "amount"):
            posted[(code, currency)] += amount
        cached = {(a.code, a.currency): a.cached_balance for a in LedgerAccount.objects.all()}
        for (code, currency), balance in self.balances.items():
            assert account_balance(code=code, currency=currency) == balance
            assert posted[(code, currency)] == balance
            assert cached.get((code, currency), 0) == balance


@pytest.mark.django_db
def test_ledger_state_machine():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
