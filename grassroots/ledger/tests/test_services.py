from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from grassroots.accounts.tests.factories import CuratorFactory
from grassroots.core.errors import Conflict, ValidationFailed
from grassroots.ledger.codes import BUYER_CLEARING, GATEWAY_CASH, PLATFORM_REVENUE, merchant_payable
from grassroots.ledger.flows import (
    Allocation,
    allocation_postings,
    allocation_reversal_postings,
    capture_postings,
    refund_allocations,
    refund_payout_postings,
)
from grassroots.ledger.models import JournalEntry, LedgerAccount, Posting
from grassroots.ledger.selectors import account_balance, account_statement, ledger_problems, merchant_balances
from grassroots.ledger.services import (
    CacheFix,
    PostingSpec,
    journal_entry_post,
    journal_entry_reverse,
    ledger_cache_rebuild,
    merchant_settlement_post,
)
from grassroots.ledger.tests.factories import fund_merchant, next_key, post_entry

pytestmark = pytest.mark.django_db


def capture(amount: int = 1000) -> list[PostingSpec]:
    return capture_postings(amount=amount, currency="CNY")


def nothing_written() -> bool:
    return not JournalEntry.objects.exists() and not Posting.objects.exists() and not LedgerAccount.objects.exists()


def test_post_writes_postings_and_updates_cached_balances():
    entry = journal_entry_post(idempotency_key="k1", kind="capture", postings=capture(1000), memo="m", reference="r")

    assert sorted(entry.postings.values_list("account__code", "amount")) == [
        (BUYER_CLEARING, -1000),
        (GATEWAY_CASH, 1000),
    ]
    assert account_balance(code=GATEWAY_CASH, currency="CNY") == 1000
    assert account_balance(code=BUYER_CLEARING, currency="CNY") == -1000
    assert LedgerAccount.objects.get(code=GATEWAY_CASH).kind == LedgerAccount.Kind.ASSET
    assert LedgerAccount.objects.get(code=BUYER_CLEARING).cached_balance == -1000
    assert ledger_problems() == []


def test_unbalanced_entry_is_refused_and_nothing_is_written():
    with pytest.raises(ValidationFailed) as error:
        journal_entry_post(
            idempotency_key="k1",
            kind="capture",
            postings=[
                PostingSpec(account=GATEWAY_CASH, amount=1000, currency="CNY"),
                PostingSpec(account=BUYER_CLEARING, amount=-999, currency="CNY"),
            ],
        )

    assert error.value.code == "unbalanced_entry"
    assert error.value.fields == {"CNY": 1}
    assert nothing_written()


def test_each_currency_must_balance_on_its_own():
    with pytest.raises(ValidationFailed) as error:
        journal_entry_post(
            idempotency_key="k1",
            kind="fx",
            postings=[
                PostingSpec(account=GATEWAY_CASH, amount=100, currency="CNY"),
                PostingSpec(account=GATEWAY_CASH, amount=-100, currency="USD"),
            ],
        )

    assert error.value.code == "unbalanced_entry"
    assert nothing_written()


@pytest.mark.parametrize(
    ("postings", "code"),
    [
        ([], "empty_entry"),
        ([PostingSpec(GATEWAY_CASH, 5, "CNY"), PostingSpec(GATEWAY_CASH, -5, "CNY")], "empty_entry"),
        ([PostingSpec(GATEWAY_CASH, 0, "CNY")], "invalid_posting"),
        ([PostingSpec(GATEWAY_CASH, True, "CNY"), PostingSpec(BUYER_CLEARING, -1, "CNY")], "invalid_posting"),
        ([PostingSpec(GATEWAY_CASH, 10**16, "CNY"), PostingSpec(BUYER_CLEARING, -(10**16), "CNY")], "invalid_posting"),
        ([PostingSpec(GATEWAY_CASH, 5, "XXX"), PostingSpec(BUYER_CLEARING, -5, "XXX")], "invalid_posting"),
        ([PostingSpec("", 5, "CNY"), PostingSpec(BUYER_CLEARING, -5, "CNY")], "invalid_posting"),
        ([PostingSpec("x" * 81, 5, "CNY"), PostingSpec(BUYER_CLEARING, -5, "CNY")], "invalid_posting"),
    ],
)
def test_invalid_postings_are_refused_and_nothing_is_written(postings, code):
    with pytest.raises(ValidationFailed) as error:
        journal_entry_post(idempotency_key="k1", kind="test", postings=postings)

    assert error.value.code == code
    assert nothing_written()


@pytest.mark.parametrize(("key", "kind"), [("", "capture"), ("k" * 201, "capture"), ("k1", ""), ("k1", "x" * 41)])
def test_invalid_key_or_kind_is_refused(key, kind):
    with pytest.raises(ValidationFailed) as error:
        journal_entry_post(idempotency_key=key, kind=kind, postings=capture())

    assert error.value.code == "invalid_entry"
    assert nothing_written()


def test_postings_to_one_account_are_merged():
    entry = journal_entry_post(
        idempotency_key="k1",
        kind="capture",
        postings=[
            PostingSpec(GATEWAY_CASH, 600, "CNY"),
            PostingSpec(GATEWAY_CASH, 400, "CNY"),
            PostingSpec(BUYER_CLEARING, -1000, "CNY"),
        ],
    )

    assert sorted(entry.postings.values_list("account__code", "amount")) == [
        (BUYER_CLEARING, -1000),
        (GATEWAY_CASH, 1000),
    ]


def test_repost_with_the_same_key_and_postings_returns_the_first_entry():
    first = journal_entry_post(idempotency_key="k1", kind="capture", postings=capture(1000))

    again = journal_entry_post(idempotency_key="k1", kind="capture", postings=list(reversed(capture(1000))))

    assert again.pk == first.pk
    assert JournalEntry.objects.count() == 1
    assert Posting.objects.count() == 2
    assert account_balance(code=GATEWAY_CASH, currency="CNY") == 1000
    assert LedgerAccount.objects.get(code=GATEWAY_CASH).cached_balance == 1000


def test_repost_with_the_same_key_and_other_postings_is_a_conflict_and_writes_nothing():
    journal_entry_post(idempotency_key="k1", kind="capture", postings=capture(1000))

    with pytest.raises(Conflict) as error:
        journal_entry_post(idempotency_key="k1", kind="capture", postings=capture(999))

    assert error.value.code == "idempotency_conflict"
    assert error.value.status == 409
    assert JournalEntry.objects.count() == 1
    assert Posting.objects.count() == 2
    assert account_balance(code=GATEWAY_CASH, currency="CNY") == 1000
    assert LedgerAccount.objects.get(code=GATEWAY_CASH).cached_balance == 1000


def test_reversal_zeroes_the_balances_and_links_the_original():
    fund_merchant(7, 800, fee=200)
    allocation = JournalEntry.objects.get(kind="order_paid")

    reversal = journal_entry_reverse(entry=allocation, idempotency_key="undo")

    assert reversal.reverses_id == allocation.pk
    assert reversal.kind == "reversal:order_paid"
    assert account_balance(code=merchant_payable(7), currency="CNY") == 0
    assert account_balance(code=PLATFORM_REVENUE, currency="CNY") == 0
    assert account_balance(code=BUYER_CLEARING, currency="CNY") == -1000  # the capture stays
    assert LedgerAccount.objects.get(code=merchant_payable(7)).cached_balance == 0
    assert ledger_problems() == []


def test_an_entry_is_reversed_only_once():
    entry = post_entry()
    first = journal_entry_reverse(entry=entry, idempotency_key="undo-1")

    assert journal_entry_reverse(entry=entry, idempotency_key="undo-1").pk == first.pk
    with pytest.raises(Conflict) as error:
        journal_entry_reverse(entry=entry, idempotency_key="undo-2")

    assert error.value.code == "already_reversed"
    assert JournalEntry.objects.count() == 2
    assert account_balance(code=GATEWAY_CASH, currency="CNY") == 0


def test_the_platform_flows_add_up():
    # Given a buyer pays 10,000 for two merchants' goods
    journal_entry_post(idempotency_key="capture:1", kind="capture", postings=capture(10_000))
    allocations = [
        Allocation(merchant_id=1, merchant_amount=5_700, platform_fee=300),
        Allocation(merchant_id=2, merchant_amount=3_800, platform_fee=200),
    ]
    journal_entry_post(
        idempotency_key="order-paid:1",
        kind="order_paid",
        postings=allocation_postings(allocations=allocations, currency="CNY"),
    )
    assert account_balance(code=BUYER_CLEARING, currency="CNY") == 0

    # When 3,333 and then the remaining 6,667 are refunded
    remaining = allocations
    for index, amount in enumerate([3_333, 6_667]):
        reversed_parts = refund_allocations(remaining=remaining, refund_amount=amount)
        assert sum(a.total for a in reversed_parts) == amount
        journal_entry_post(
            idempotency_key=f"refund-reversal:{index}",
            kind="refund_reversal",
            postings=allocation_reversal_postings(allocations=reversed_parts, currency="CNY"),
        )
        journal_entry_post(
            idempotency_key=f"refund:{index}",
            kind="refund",
            postings=refund_payout_postings(amount=amount, currency="CNY"),
        )
        by_merchant = {a.merchant_id: a for a in reversed_parts}
        remaining = [
            Allocation(
                merchant_id=a.merchant_id,
                merchant_amount=a.merchant_amount - by_merchant[a.merchant_id].merchant_amount,
                platform_fee=a.platform_fee - by_merchant[a.merchant_id].platform_fee,
            )
            for a in remaining
        ]

    # Then every account is back to zero exactly
    for code in (GATEWAY_CASH, BUYER_CLEARING, PLATFORM_REVENUE, merchant_payable(1), merchant_payable(2)):
        assert account_balance(code=code, currency="CNY") == 0, code
    assert ledger_problems() == []


def test_a_refund_larger_than_what_is_left_is_refused():
    with pytest.raises(ValidationFailed) as error:
        refund_allocations(remaining=[Allocation(1, 90, 10)], refund_amount=101)

    assert error.value.code == "refund_exceeds_allocation"


def test_settlement_moves_the_payable_to_cash():
    fund_merchant(7, 1_000)
    curator = CuratorFactory()

    entry = merchant_settlement_post(merchant_id=7, amount=600, currency="CNY", idempotency_key="s1", actor=curator)

    assert entry.kind == "settlement"
    assert entry.created_by_id == curator.pk
    assert entry.reference == "merchant:7"
    assert account_balance(code=merchant_payable(7), currency="CNY") == -400
    assert account_balance(code=GATEWAY_CASH, currency="CNY") == 400
    assert ledger_problems() == []


def test_settlement_replay_returns_the_first_entry_even_when_the_balance_is_spent():
    fund_merchant(7, 1_000)
    first = merchant_settlement_post(merchant_id=7, amount=1_000, currency="CNY", idempotency_key="s1", actor=None)

    again = merchant_settlement_post(merchant_id=7, amount=1_000, currency="CNY", idempotency_key="s1", actor=None)

    assert again.pk == first.pk
    assert account_balance(code=merchant_payable(7), currency="CNY") == 0


def test_settlement_above_the_balance_is_refused_and_writes_nothing():
    fund_merchant(7, 1_000)
    entries = JournalEntry.objects.count()

    with pytest.raises(ValidationFailed) as error:
        merchant_settlement_post(merchant_id=7, amount=1_001, currency="CNY", idempotency_key="s1", actor=None)

    assert error.value.code == "insufficient_balance"
    assert error.value.fields["available"] == 1_000
    assert JournalEntry.objects.count() == entries
    assert account_balance(code=merchant_payable(7), currency="CNY") == -1_000
    assert LedgerAccount.objects.get(code=merchant_payable(7)).cached_balance == -1_000


def test_settlement_of_another_merchant_or_currency_has_no_balance():
    fund_merchant(7, 1_000)

    for merchant_id, currency in [(70, "CNY"), (7, "USD")]:
        with pytest.raises(ValidationFailed) as error:
            merchant_settlement_post(
                merchant_id=merchant_id, amount=1, currency=currency, idempotency_key=next_key(), actor=None
            )
        assert error.value.code == "insufficient_balance"


@pytest.mark.parametrize(("amount", "currency"), [(0, "CNY"), (-5, "CNY"), (True, "CNY"), (5, "XXX")])
def test_settlement_input_is_validated(amount, currency):
    fund_merchant(7, 1_000)

    with pytest.raises(ValidationFailed):
        merchant_settlement_post(merchant_id=7, amount=amount, currency=currency, idempotency_key="s1", actor=None)

    assert not JournalEntry.objects.filter(kind="settlement").exists()


def test_merchant_balances_are_per_currency_and_only_that_merchants():
    fund_merchant(1, 500)
    fund_merchant(1, 70, currency="USD")
    fund_merchant(12, 999)

    balances = merchant_balances(merchant_id=1)

    assert [(b.code, b.currency, b.balance, b.normal_balance) for b in balances] == [
        (merchant_payable(1), "CNY", -500, 500),
        (merchant_payable(1), "USD", -70, 70),
    ]


def test_statement_is_newest_first_with_a_running_balance_across_pages():
    fund_merchant(7, 1_000)
    fund_merchant(7, 250)
    merchant_settlement_post(merchant_id=7, amount=400, currency="CNY", idempotency_key="s1", actor=None)
    fund_merchant(7, 30)

    first = account_statement(code=merchant_payable(7), currency="CNY", cursor=None, limit=2)
    second = account_statement(code=merchant_payable(7), currency="CNY", cursor=first.next_cursor, limit=2)

    assert first.balance == 880
    assert [(line.kind, line.amount, line.balance) for line in first.lines] == [
        ("order_paid", 30, 880),
        ("settlement", -400, 850),
    ]
    assert [(line.kind, line.amount, line.balance) for line in second.lines] == [
        ("order_paid", 250, 1_250),
        ("order_paid", 1_000, 1_000),
    ]
    assert second.next_cursor is None
    assert second.lines[0].memo == "Order paid"
    assert second.lines[0].reference == "order:1"


def test_statement_of_an_account_without_postings_is_empty():
    statement = account_statement(code=merchant_payable(5), currency="CNY", cursor=None, limit=20)

    assert statement.lines == []
    assert statement.balance == 0
    assert statement.next_cursor is None


def test_statement_refuses_a_bad_cursor_or_limit():
    fund_merchant(7, 1_000)

    with pytest.raises(ValidationFailed):
        account_statement(code=merchant_payable(7), currency="CNY", cursor="not-a-cursor", limit=20)
    with pytest.raises(ValidationFailed):
        account_statement(code=merchant_payable(7), currency="CNY", cursor=None, limit=0)


def test_problems_are_found_and_the_cache_rebuilt():
    post_entry()
    # A cache drifted, e.g. by a hand edit in the database.
    LedgerAccount.objects.filter(code=GATEWAY_CASH).update(cached_balance=5)

    assert ledger_problems() == ["account gateway:cash [CNY] cache 5 != replay 1000"]

    fixes = ledger_cache_rebuild()

    assert fixes == [CacheFix(code=GATEWAY_CASH, currency="CNY", was=5, now=1000)]
    assert ledger_problems() == []
    assert ledger_cache_rebuild() == []


def test_problems_report_unbalanced_and_empty_entries():
    entry = post_entry()
    Posting.objects.filter(entry=entry, amount__lt=0).update(amount=-999)
    empty = JournalEntry.objects.create(idempotency_key="empty", kind="test")

    problems = ledger_problems()

    assert f"entry {entry.pk} sums to 1 CNY" in problems
    assert f"entry {empty.pk} has no postings" in problems
    assert "account buyer:clearing [CNY] cache -1000 != replay -999" in problems


def test_ledger_verify_command_exits_non_zero_on_problems():
    post_entry()
    out = io.StringIO()
    call_command("ledger_verify", stdout=out)
    assert "ledger ok" in out.getvalue()

    LedgerAccount.objects.filter(code=GATEWAY_CASH).update(cached_balance=5)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_verify", stdout=out)
    assert "account gateway:cash [CNY] cache 5 != replay 1000" in out.getvalue()

    out = io.StringIO()
    call_command("ledger_verify", "--rebuild-cache", stdout=out)
    assert "rebuilt gateway:cash [CNY]: 5 -> 1000" in out.getvalue()
    assert "ledger ok" in out.getvalue()
