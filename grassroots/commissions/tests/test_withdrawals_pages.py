"""Withdrawal pages: the form (exact amounts, one withdrawal per rendering), history, curator review."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from django.test import Client

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.commissions.models import Withdrawal, WithdrawalStatusChange
from grassroots.commissions.selectors import shopkeeper_account
from grassroots.commissions.withdrawals import withdrawal_request
from grassroots.ledger.codes import PLATFORM_REVENUE
from grassroots.ledger.models import JournalEntry
from grassroots.ledger.selectors import account_balance, ledger_problems
from grassroots.ledger.services import PostingSpec, journal_entry_post

pytestmark = pytest.mark.django_db

_keys = itertools.count(1)


def fund(user: Any, amount: int) -> None:
    journal_entry_post(
        idempotency_key=f"test-fund:{next(_keys)}",
        kind="test_commission",
        postings=[
            PostingSpec(PLATFORM_REVENUE, amount, "CNY"),
            PostingSpec(shopkeeper_account(user.pk, "available"), -amount, "CNY"),
        ],
    )


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_token(html: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', html)
    assert match, "the form carries a token"
    return match.group(1)


def snapshot() -> tuple[int, int, int]:
    return Withdrawal.objects.count(), WithdrawalStatusChange.objects.count(), JournalEntry.objects.count()


def test_the_form_shows_what_is_available_and_the_minimum():
    shopkeeper = UserFactory()
    fund(shopkeeper, 12_345)

    page = signed_in(shopkeeper).get("/earnings/withdraw/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "¥123.45" in html
    assert "The minimum withdrawal is ¥10.00" in html
    assert form_token(html)


def test_withdrawing_12_34_makes_one_withdrawal_of_1234_even_when_sent_twice():
    shopkeeper = UserFactory()
    fund(shopkeeper, 5_000)
    client = signed_in(shopkeeper)
    token = form_token(client.get("/earnings/withdraw/").content.decode())

    first = client.post("/earnings/withdraw/", {"amount": "12.34", "form_token": token})
    second = client.post("/earnings/withdraw/", {"amount": "12.34", "form_token": token})

    assert first.status_code == 302 and first["Location"] == "/earnings/withdrawals/"
    assert second.status_code == 302
    withdrawal = Withdrawal.objects.get()
    assert (withdrawal.amount, withdrawal.status) == (1_234, "requested")
    assert -account_balance(code=shopkeeper_account(shopkeeper.pk, "available"), currency="CNY") == 3_766
    assert ledger_problems() == []


@pytest.mark.parametrize(
    ("amount", "status", "code"),
    [
        ("12.345", 422, "invalid_amount"),
        ("abc", 422, "invalid_amount"),
        ("", 422, "invalid_amount"),
        ("9.99", 422, "below_minimum"),
        ("50.01", 422, "insufficient_balance"),
    ],
)
def test_a_refused_form_is_shown_again_with_the_reason_and_writes_nothing(amount: str, status: int, code: str):
    shopkeeper = UserFactory()
    fund(shopkeeper, 5_000)
    client = signed_in(shopkeeper)
    before = snapshot()

    page = client.post("/earnings/withdraw/", {"amount": amount, "form_token": "t1"})

    assert page.status_code == status
    assert f'data-code="{code}"' in page.content.decode()
    assert snapshot() == before


def test_a_second_withdrawal_in_flight_is_refused_on_the_form():
    shopkeeper = UserFactory()
    fund(shopkeeper, 5_000)
    withdrawal_request(user=shopkeeper, amount=1_000, idempotency_key="first")
    client = signed_in(shopkeeper)
    before = snapshot()

    page = client.post("/earnings/withdraw/", {"amount": "10.00", "form_token": "t2"})

    assert page.status_code == 409
    assert 'data-code="withdrawal_in_flight"' in page.content.decode()
    assert "is in progress" in page.content.decode()
    assert snapshot() == before


def test_the_pages_ask_anonymous_visitors_to_sign_in():
    for url in ("/earnings/", "/earnings/withdraw/", "/earnings/withdrawals/", "/earnings/review/withdrawals/"):
        response = Client().get(url)
        assert response.status_code == 302
        assert "/login/" in response["Location"]


def test_the_history_shows_each_withdrawal_with_its_timeline():
    shopkeeper, curator = UserFactory(), CuratorFactory()
    fund(shopkeeper, 5_000)
    from grassroots.commissions.withdrawals import withdrawal_approve

    withdrawal = withdrawal_approve(
        actor=curator, withdrawal=withdrawal_request(user=shopkeeper, amount=1_013, idempotency_key="a")
    )

    html = signed_in(shopkeeper).get("/earnings/withdrawals/").content.decode()

    assert f'id="withdrawal-{withdrawal.pk}"' in html
    assert "¥10.13" in html
    assert "Requested" in html and "Approved" in html
    assert "Payout failed: the money is back in your balance" in html
    assert "simulated_declined" in html


def test_the_history_shows_only_my_own():
    me, other = UserFactory(), UserFactory()
    fund(other, 5_000)
    theirs = withdrawal_request(user=other, amount=1_000, idempotency_key="a")

    html = signed_in(me).get("/earnings/withdrawals/").content.decode()

    assert f"withdrawal-{theirs.pk}" not in html
    assert "You have not withdrawn anything yet." in html


def test_the_review_page_is_for_curators_only():
    shopkeeper = UserFactory()
    fund(shopkeeper, 5_000)
    withdrawal = withdrawal_request(user=shopkeeper, amount=1_000, idempotency_key="a")
    client = signed_in(UserFactory())

    assert client.get("/earnings/review/withdrawals/").status_code == 403
    assert client.post(f"/earnings/review/withdrawals/{withdrawal.pk}/approve/").status_code == 403
    assert client.post(f"/earnings/review/withdrawals/{withdrawal.pk}/reject/", {"reason": "x"}).status_code == 403
    withdrawal.refresh_from_db()
    assert withdrawal.status == "requested"


def test_a_curator_approves_from_the_review_page():
    shopkeeper, curator = UserFactory(display_name="Lin Wei"), CuratorFactory()
    fund(shopkeeper, 5_000)
    withdrawal = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="a")
    client = signed_in(curator)

    queue = client.get("/earnings/review/withdrawals/").content.decode()
    done = client.post(f"/earnings/review/withdrawals/{withdrawal.pk}/approve/", follow=True)

    assert "Lin Wei" in queue and f'id="withdrawal-{withdrawal.pk}"' in queue
    assert "Paid out ¥20.00." in done.content.decode()
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paid"
    assert ledger_problems() == []


def test_a_curator_rejects_from_the_review_page_and_needs_a_reason():
    shopkeeper, curator = UserFactory(), CuratorFactory()
    fund(shopkeeper, 5_000)
    withdrawal = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="a")
    client = signed_in(curator)

    empty = client.post(f"/earnings/review/withdrawals/{withdrawal.pk}/reject/", {"reason": ""}, follow=True)
    withdrawal.refresh_from_db()
    assert withdrawal.status == "requested"
    assert "Give the shopkeeper a reason." in empty.content.decode()

    client.post(f"/earnings/review/withdrawals/{withdrawal.pk}/reject/", {"reason": "Duplicate account"})

    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.failure_reason) == ("rejected", "Duplicate account")
    assert -account_balance(code=shopkeeper_account(shopkeeper.pk, "available"), currency="CNY") == 5_000
    assert ledger_problems() == []


def test_reviewing_a_missing_withdrawal_is_not_found():
    client = signed_in(CuratorFactory())

    assert client.post("/earnings/review/withdrawals/999999/approve/").status_code == 404
    assert client.post("/earnings/review/withdrawals/999999/reject/", {"reason": "x"}).status_code == 404
