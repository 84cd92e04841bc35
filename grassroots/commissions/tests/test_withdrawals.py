"""Withdrawals: request, approve and pay out, payout failure, reject; every refusal writes nothing."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.commissions.models import Withdrawal, WithdrawalStatusChange
from grassroots.commissions.payouts import (
    PayoutResult,
    PayoutUnavailable,
    SimulatedPayoutProvider,
    payout_provider,
    payout_provider_register,
    payout_provider_unregister,
)
from grassroots.commissions.selectors import shopkeeper_account
from grassroots.commissions.withdrawals import (
    WITHDRAWAL_MACHINE,
    amount_from_major,
    withdrawal_approve,
    withdrawal_balance,
    withdrawal_reject,
    withdrawal_request,
)
from grassroots.core.errors import ServiceError
from grassroots.core.state_machine import InvalidTransition
from grassroots.ledger.codes import GATEWAY_CASH, PLATFORM_REVENUE
from grassroots.ledger.models import JournalEntry
from grassroots.ledger.selectors import account_balance, ledger_problems
from grassroots.ledger.services import PostingSpec, journal_entry_post

pytestmark = pytest.mark.django_db

_keys = itertools.count(1)


def fund(user: Any, amount: int, *, part: str = "available") -> None:
    """Commission the shopkeeper earned, posted straight to the ledger (Dr platform:revenue)."""
    journal_entry_post(
        idempotency_key=f"test-fund:{next(_keys)}",
        kind="test_commission",
        postings=[
            PostingSpec(PLATFORM_REVENUE, amount, "CNY"),
            PostingSpec(shopkeeper_account(user.pk, part), -amount, "CNY"),
        ],
    )


def owe(user: Any, amount: int) -> None:
    """A clawback after a refund of withdrawn commission: the shopkeeper owes the platform."""
    journal_entry_post(
        idempotency_key=f"test-owe:{next(_keys)}",
        kind="test_clawback",
        postings=[
            PostingSpec(shopkeeper_account(user.pk, "receivable"), amount, "CNY"),
            PostingSpec(PLATFORM_REVENUE, -amount, "CNY"),
        ],
    )


def available(user: Any) -> int:
    return -account_balance(code=shopkeeper_account(user.pk, "available"), currency="CNY")


def withdrawing(user: Any) -> int:
    return -account_balance(code=shopkeeper_account(user.pk, "withdrawing"), currency="CNY")


def cash() -> int:
    return account_balance(code=GATEWAY_CASH, currency="CNY")


def snapshot() -> tuple[int, int, int]:
    return Withdrawal.objects.count(), WithdrawalStatusChange.objects.count(), JournalEntry.objects.count()


def history(withdrawal: Withdrawal) -> list[tuple[str, str, str]]:
    return [(c.from_status, c.to_status, c.action) for c in withdrawal.status_changes.order_by("id")]


def refused(call: Any) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call()
    return caught.value


class DownProvider:
    name = "down"

    def pay(self, withdrawal: Withdrawal) -> PayoutResult:
        raise PayoutUnavailable("timeout")


# --- the table --------------------------------------------------------------------------------


def test_the_state_machine_allows_exactly_these_moves():
    assert WITHDRAWAL_MACHINE.transitions == {
        ("requested", "approve"): "approved",
        ("requested", "reject"): "rejected",
        ("approved", "pay"): "paid",
        ("approved", "fail"): "failed",
    }
    assert WITHDRAWAL_MACHINE.terminal == frozenset({"paid", "failed", "rejected"})


# --- request ----------------------------------------------------------------------------------


def test_a_request_moves_the_amount_from_available_to_withdrawing():
    shopkeeper = UserFactory()
    fund(shopkeeper, 5_000)

    withdrawal = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="k1")

    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.amount, withdrawal.currency) == ("requested", 2_000, "CNY")
    assert withdrawal.shopkeeper_id == shopkeeper.pk
    assert available(shopkeeper) == 3_000
    assert withdrawing(shopkeeper) == 2_000
    entry = JournalEntry.objects.get(idempotency_key=f"withdrawal-request:{withdrawal.pk}")
    assert entry.kind == "withdrawal_request"
    assert sorted(entry.postings.values_list("account__code", "amount")) == [
        (shopkeeper_account(shopkeeper.pk, "available"), 2_000),
        (shopkeeper_account(shopkeeper.pk, "withdrawing"), -2_000),
    ]
    assert history(withdrawal) == [("", "requested", "request")]
    assert ledger_problems() == []


def test_the_whole_available_balance_can_be_withdrawn():
    shopkeeper = UserFactory()
    fund(shopkeeper, 1_000)

    withdrawal_request(user=shopkeeper, amount=1_000, idempotency_key="all")

    assert available(shopkeeper) == 0
    assert withdrawing(shopkeeper) == 1_000
    assert ledger_problems() == []


def test_below_the_minimum_is_refused_and_nothing_is_written():
    shopkeeper = UserFactory()
    fund(shopkeeper, 5_000)
    before = snapshot()

    error = refused(lambda: withdrawal_request(user=shopkeeper, amount=999, idempotency_key="small"))

    assert (error.status, error.code) == (422, "below_minimum")
    assert error.fields["minimum"] == 1_000
    assert snapshot() == before
    assert available(shopkeeper) == 5_000
    assert ledger_problems() == []


def test_the_minimum_follows_the_setting(settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "WITHDRAWAL_MINIMUM": 5_000}
    shopkeeper = UserFactory()
    fund(shopkeeper, 10_000)

    error = refused(lambda: withdrawal_request(user=shopkeeper, amount=4_999, idempotency_key="a"))
    withdrawal = withdrawal_request(user=shopkeeper, amount=5_000, idempotency_key="b")

    assert error.code == "below_minimum"
    assert withdrawal.amount == 5_000


def test_more_than_available_is_refused_and_nothing_is_written():
    shopkeeper = UserFactory()
    fund(shopkeeper, 1_500)
    fund(shopkeeper, 9_000, part="pending")  # pending commission is not withdrawable yet
    before = snapshot()

    error = refused(lambda: withdrawal_request(user=shopkeeper, amount=1_501, idempotency_key="big"))

    assert (error.status, error.code) == (422, "insufficient_balance")
    assert error.fields["available"] == 1_500
    assert snapshot() == before
    assert available(shopkeeper) == 1_500
    assert withdrawing(shopkeeper) == 0
    assert ledger_problems() == []


def test_an_open_receivable_is_netted_before_withdrawing():
    shopkeeper = UserFactory()
    fund(shopkeeper, 3_000)
    owe(shopkeeper, 1_000)
    before = snapshot()

    error = refused(lambda: withdrawal_request(user=shopkeeper, amount=2_001, idempotency_key="a"))
    assert (error.code, error.fields["available"]) == ("insufficient_balance", 2_000)
    assert snapshot() == before

    withdrawal = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="b")

    assert withdrawal.status == "requested"
    assert withdrawal_balance(user=shopkeeper).withdrawable == 0
    assert ledger_problems() == []


def test_someone_else_s_balance_does_not_count():
    rich, poor = UserFactory(), UserFactory()
    fund(rich, 50_000)

    error = refused(lambda: withdrawal_request(user=poor, amount=1_000, idempotency_key="k"))

    assert error.code == "insufficient_balance"
    assert not Withdrawal.objects.exists()


def test_a_second_request_while_one_is_in_flight_is_a_conflict_and_writes_nothing():
    shopkeeper = UserFactory()
    fund(shopkeeper, 10_000)
    first = withdrawal_request(user=shopkeeper, amount=1_000, idempotency_key="first")
    before = snapshot()

    error = refused(lambda: withdrawal_request(user=shopkeeper, amount=1_000, idempotency_key="second"))

    assert (error.status, error.code) == (409, "withdrawal_in_flight")
    assert snapshot() == before
    assert list(Withdrawal.objects.values_list("pk", flat=True)) == [first.pk]
    assert available(shopkeeper) == 9_000
    assert ledger_problems() == []


def test_an_approved_withdrawal_whose_payout_is_pending_is_still_in_flight():
    shopkeeper, curator = UserFactory(), CuratorFactory()
    fund(shopkeeper, 10_000)
    first = withdrawal_request(user=shopkeeper, amount=1_000, idempotency_key="first")
    with pytest.raises(ServiceError):
        withdrawal_approve(actor=curator, withdrawal=first, provider=DownProvider())
    before = snapshot()

    error = refused(lambda: withdrawal_request(user=shopkeeper, amount=1_000, idempotency_key="second"))

    assert error.code == "withdrawal_in_flight"
    assert snapshot() == before


def test_the_same_key_and_amount_returns_the_first_withdrawal():
    shopkeeper = UserFactory()
    fund(shopkeeper, 10_000)
    first = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="same")
    before = snapshot()

    again = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="same")

    assert again.pk == first.pk
    assert snapshot() == before
    assert available(shopkeeper) == 8_000


def test_the_same_key_with_another_amount_is_refused():
    shopkeeper = UserFactory()
    fund(shopkeeper, 10_000)
    withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="same")
    before = snapshot()

    error = refused(lambda: withdrawal_request(user=shopkeeper, amount=3_000, idempotency_key="same"))

    assert (error.status, error.code) == (422, "idempotency_key_reused")
    assert snapshot() == before


def test_keys_are_per_shopkeeper():
    one, two = UserFactory(), UserFactory()
    fund(one, 5_000)
    fund(two, 5_000)

    first = withdrawal_request(user=one, amount=1_000, idempotency_key="shared")
    second = withdrawal_request(user=two, amount=1_000, idempotency_key="shared")

    assert first.pk != second.pk
    assert ledger_problems() == []


def test_a_very_long_key_is_hashed_and_still_idempotent():
    shopkeeper = UserFactory()
    fund(shopkeeper, 5_000)
    key = "k" * 200

    first = withdrawal_request(user=shopkeeper, amount=1_000, idempotency_key=key)
    again = withdrawal_request(user=shopkeeper, amount=1_000, idempotency_key=key)

    assert first.pk == again.pk
    assert len(first.idempotency_key) <= 200


@pytest.mark.parametrize("amount", [0, -1_000, True, 10.5, "1000", None, 10**16])
def test_amounts_that_are_not_positive_whole_minor_units_are_refused(amount: Any):
    shopkeeper = UserFactory()
    fund(shopkeeper, 5_000)
    before = snapshot()

    error = refused(lambda: withdrawal_request(user=shopkeeper, amount=amount, idempotency_key="k"))

    assert (error.status, error.code) == (422, "invalid_amount")
    assert snapshot() == before


@pytest.mark.parametrize("key", ["", "   ", None, "x" * 201])
def test_a_missing_or_oversized_key_is_refused(key: Any):
    shopkeeper = UserFactory()
    fund(shopkeeper, 5_000)

    error = refused(lambda: withdrawal_request(user=shopkeeper, amount=1_000, idempotency_key=key))

    assert error.code == "idempotency_key_required"
    assert not Withdrawal.objects.exists()


def test_anonymous_users_cannot_withdraw():
    from django.contrib.auth.models import AnonymousUser

    error = refused(lambda: withdrawal_request(user=AnonymousUser(), amount=1_000, idempotency_key="k"))

    assert error.status == 403
    assert not Withdrawal.objects.exists()


# --- approve and pay out ------------------------------------------------------------------------


def test_approval_pays_out_and_the_balances_follow():
    shopkeeper, curator = UserFactory(), CuratorFactory()
    fund(shopkeeper, 5_000)
    withdrawal = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="k")
    assert ledger_problems() == []

    paid = withdrawal_approve(actor=curator, withdrawal=withdrawal)

    paid.refresh_from_db()
    assert paid.status == "paid"
    assert paid.payout_ref == f"sim-{paid.pk}"
    assert paid.decided_by_id == curator.pk
    assert paid.decided_at is not None and paid.paid_at is not None
    assert available(shopkeeper) == 3_000
    assert withdrawing(shopkeeper) == 0
    assert withdrawal_balance(user=shopkeeper).available == 3_000
    assert cash() == -2_000
    entry = JournalEntry.objects.get(idempotency_key=f"withdrawal-paid:{paid.pk}")
    assert sorted(entry.postings.values_list("account__code", "amount")) == [
        (GATEWAY_CASH, -2_000),
        (shopkeeper_account(shopkeeper.pk, "withdrawing"), 2_000),
    ]
    assert entry.created_by_id == curator.pk
    assert history(paid) == [
        ("", "requested", "request"),
        ("requested", "approved", "approve"),
        ("approved", "paid", "pay"),
    ]
    assert ledger_problems() == []


def test_approving_again_pays_nothing_twice():
    shopkeeper, curator, other_curator = UserFactory(), CuratorFactory(), CuratorFactory()
    fund(shopkeeper, 5_000)
    withdrawal = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="k")
    withdrawal_approve(actor=curator, withdrawal=withdrawal)
    before = snapshot()

    again = withdrawal_approve(actor=other_curator, withdrawal=withdrawal)

    assert again.status == "paid"
    assert snapshot() == before
    assert cash() == -2_000
    assert ledger_problems() == []


def test_a_declined_payout_fails_and_returns_the_money():
    shopkeeper, curator = UserFactory(), CuratorFactory()
    fund(shopkeeper, 5_000)
    withdrawal = withdrawal_request(user=shopkeeper, amount=1_013, idempotency_key="k")  # ends in 13: declined
    assert available(shopkeeper) == 3_987

    failed = withdrawal_approve(actor=curator, withdrawal=withdrawal)

    failed.refresh_from_db()
    assert failed.status == "failed"
    assert failed.failure_reason == "simulated_declined"
    assert failed.payout_ref == ""
    assert available(shopkeeper) == 5_000
    assert withdrawing(shopkeeper) == 0
    assert cash() == 0
    entry = JournalEntry.objects.get(idempotency_key=f"withdrawal-failed:{failed.pk}")
    assert entry.kind == "withdrawal_failed"
    assert history(failed) == [
        ("", "requested", "request"),
        ("requested", "approved", "approve"),
        ("approved", "failed", "fail"),
    ]
    assert failed.status_changes.order_by("id").last().note == "simulated_declined"  # type: ignore[union-attr]
    assert ledger_problems() == []

    # The shopkeeper may ask again: a failed withdrawal is no longer in flight.
    retry = withdrawal_request(user=shopkeeper, amount=1_000, idempotency_key="k2")
    assert withdrawal_approve(actor=curator, withdrawal=retry).status == "paid"
    assert (available(shopkeeper), cash()) == (4_000, -1_000)
    assert ledger_problems() == []


def test_the_failure_switch_declines_every_payout(settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "PAYOUT_SIMULATE_FAILURE": True}
    shopkeeper, curator = UserFactory(), CuratorFactory()
    fund(shopkeeper, 5_000)
    withdrawal = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="k")

    failed = withdrawal_approve(actor=curator, withdrawal=withdrawal)

    assert failed.status == "failed"
    assert available(shopkeeper) == 5_000
    assert ledger_problems() == []


def test_an_unreachable_provider_leaves_it_approved_and_a_retry_pays():
    shopkeeper, curator = UserFactory(), CuratorFactory()
    fund(shopkeeper, 5_000)
    withdrawal = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="k")

    error = refused(lambda: withdrawal_approve(actor=curator, withdrawal=withdrawal, provider=DownProvider()))

    withdrawal.refresh_from_db()
    assert (error.status, error.code) == (503, "payout_unavailable")
    assert withdrawal.status == "approved"
    assert withdrawing(shopkeeper) == 2_000
    assert not JournalEntry.objects.filter(idempotency_key=f"withdrawal-paid:{withdrawal.pk}").exists()
    assert ledger_problems() == []

    paid = withdrawal_approve(actor=curator, withdrawal=withdrawal)

    assert paid.status == "paid"
    assert (available(shopkeeper), withdrawing(shopkeeper), cash()) == (3_000, 0, -2_000)
    assert [c.action for c in paid.status_changes.order_by("id")] == ["request", "approve", "pay"]
    assert ledger_problems() == []


def test_the_configured_provider_is_used(settings):
    calls: list[int] = []

    class Recording:
        name = "recording"

        def pay(self, withdrawal: Withdrawal) -> PayoutResult:
            calls.append(withdrawal.pk)
            return PayoutResult(ok=True, ref="rec-1")

    payout_provider_register("recording", Recording)
    settings.GRASSROOTS = {**settings.GRASSROOTS, "PAYOUT_PROVIDER": "recording"}
    try:
        shopkeeper, curator = UserFactory(), CuratorFactory()
        fund(shopkeeper, 5_000)
        withdrawal = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="k")

        paid = withdrawal_approve(actor=curator, withdrawal=withdrawal)
    finally:
        payout_provider_unregister("recording")

    assert calls == [withdrawal.pk]
    assert paid.payout_ref == "rec-1"


def test_an_unknown_provider_name_is_a_configuration_error(settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "PAYOUT_PROVIDER": "nope"}

    with pytest.raises(LookupError):
        payout_provider()
    assert isinstance(payout_provider("simulated"), SimulatedPayoutProvider)


def test_only_curators_approve_and_nothing_changes_otherwise():
    shopkeeper, stranger = UserFactory(), UserFactory()
    fund(shopkeeper, 5_000)
    withdrawal = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="k")
    before = snapshot()

    for actor in (stranger, shopkeeper):
        error = refused(lambda actor=actor: withdrawal_approve(actor=actor, withdrawal=withdrawal))
        assert error.status == 403

    withdrawal.refresh_from_db()
    assert withdrawal.status == "requested"
    assert snapshot() == before


def test_a_curator_cannot_approve_their_own_withdrawal():
    curator = CuratorFactory()
    fund(curator, 5_000)
    withdrawal = withdrawal_request(user=curator, amount=2_000, idempotency_key="k")
    before = snapshot()

    error = refused(lambda: withdrawal_approve(actor=curator, withdrawal=withdrawal))

    assert (error.status, error.code) == (403, "own_withdrawal")
    assert snapshot() == before


# --- reject -------------------------------------------------------------------------------------


def test_rejection_returns_the_money_with_the_reason():
    shopkeeper, curator = UserFactory(), CuratorFactory()
    fund(shopkeeper, 5_000)
    withdrawal = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="k")

    rejected = withdrawal_reject(actor=curator, withdrawal=withdrawal, reason="  Bank details <b>missing</b> ")

    rejected.refresh_from_db()
    assert rejected.status == "rejected"
    assert rejected.failure_reason == "Bank details missing"
    assert rejected.decided_by_id == curator.pk
    assert available(shopkeeper) == 5_000
    assert withdrawing(shopkeeper) == 0
    assert cash() == 0
    assert JournalEntry.objects.get(idempotency_key=f"withdrawal-rejected:{rejected.pk}").kind == "withdrawal_rejected"
    assert history(rejected) == [("", "requested", "request"), ("requested", "rejected", "reject")]
    assert ledger_problems() == []


def test_rejecting_again_changes_nothing():
    shopkeeper, curator = UserFactory(), CuratorFactory()
    fund(shopkeeper, 5_000)
    withdrawal = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="k")
    withdrawal_reject(actor=curator, withdrawal=withdrawal, reason="No")
    before = snapshot()

    again = withdrawal_reject(actor=curator, withdrawal=withdrawal, reason="No")

    assert again.status == "rejected"
    assert snapshot() == before
    assert available(shopkeeper) == 5_000


@pytest.mark.parametrize("reason", ["", "   ", "<b></b>", None])
def test_a_rejection_needs_a_reason(reason: Any):
    shopkeeper, curator = UserFactory(), CuratorFactory()
    fund(shopkeeper, 5_000)
    withdrawal = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="k")
    before = snapshot()

    error = refused(lambda: withdrawal_reject(actor=curator, withdrawal=withdrawal, reason=reason))

    assert (error.status, error.code) == (422, "reason_required")
    assert snapshot() == before


def test_a_paid_withdrawal_cannot_be_rejected_and_a_rejected_one_cannot_be_approved():
    shopkeeper, curator = UserFactory(), CuratorFactory()
    fund(shopkeeper, 10_000)
    paid = withdrawal_approve(
        actor=curator, withdrawal=withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="a")
    )
    rejected = withdrawal_reject(
        actor=curator, withdrawal=withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="b"), reason="No"
    )
    before = snapshot()

    with pytest.raises(InvalidTransition):
        withdrawal_reject(actor=curator, withdrawal=paid, reason="Too late")
    with pytest.raises(InvalidTransition):
        withdrawal_approve(actor=curator, withdrawal=rejected)

    assert snapshot() == before
    assert (available(shopkeeper), cash()) == (8_000, -2_000)
    assert ledger_problems() == []


def test_only_curators_reject():
    shopkeeper = UserFactory()
    fund(shopkeeper, 5_000)
    withdrawal = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="k")
    before = snapshot()

    error = refused(lambda: withdrawal_reject(actor=shopkeeper, withdrawal=withdrawal, reason="changed my mind"))

    assert error.status == 403
    assert snapshot() == before


# --- parsing what people type -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minor"),
    [("12.34", 1234), ("12", 1200), ("12.3", 1230), ("0.01", 1), ("12,34", 1234), (" 10.00 ", 1000), ("007", 700)],
)
def test_major_amounts_parse_exactly(text: str, minor: int):
    assert amount_from_major(text, currency="CNY") == minor


@pytest.mark.parametrize(
    "text", ["12.345", "-1", "1e3", "", " ", "12.", ".5", "١٢", "1 000", "12.3.4", "¥12", None, "99999999999999"]
)
def test_anything_else_is_not_an_amount(text: Any):
    error = refused(lambda: amount_from_major(text, currency="CNY"))

    assert (error.status, error.code) == (422, "invalid_amount")


def test_currencies_without_decimals_take_whole_numbers():
    assert amount_from_major("1200", currency="JPY") == 1200
    with pytest.raises(ServiceError):
        amount_from_major("12.5", currency="JPY")
