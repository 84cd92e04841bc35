"""The withdrawals API: shopkeepers withdraw and see their own; curators review, approve, reject."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.test import Client

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory, bearer_headers
from grassroots.commissions.models import Withdrawal, WithdrawalStatusChange
from grassroots.commissions.selectors import shopkeeper_account
from grassroots.commissions.withdrawals import withdrawal_request
from grassroots.ledger.codes import PLATFORM_REVENUE
from grassroots.ledger.models import JournalEntry
from grassroots.ledger.selectors import account_balance, ledger_problems
from grassroots.ledger.services import PostingSpec, journal_entry_post

pytestmark = pytest.mark.django_db

BASE = "/api/v1/commissions"
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


def available(user: Any) -> int:
    return -account_balance(code=shopkeeper_account(user.pk, "available"), currency="CNY")


def snapshot() -> tuple[int, int, int]:
    return Withdrawal.objects.count(), WithdrawalStatusChange.objects.count(), JournalEntry.objects.count()


def withdraw(client: Client, headers: dict[str, str], amount: Any, key: str | None = "key-1") -> Any:
    extra = dict(headers)
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(f"{BASE}/withdrawals", {"amount": amount}, content_type="application/json", **extra)


def test_a_shopkeeper_withdraws_and_a_retry_returns_the_same_withdrawal():
    shopkeeper = UserFactory()
    fund(shopkeeper, 5_000)
    client, auth = Client(), bearer_headers(shopkeeper)

    first = withdraw(client, auth, 2_000)
    again = withdraw(client, auth, 2_000)

    assert first.status_code == 201
    body = first.json()
    assert (body["amount"], body["currency"], body["status"]) == (2_000, "CNY", "requested")
    assert [h["action"] for h in body["history"]] == ["request"]
    assert again.status_code == 201
    assert again.json() == body
    assert Withdrawal.objects.count() == 1
    assert available(shopkeeper) == 3_000
    assert ledger_problems() == []


def test_the_same_key_with_another_amount_is_refused():
    shopkeeper = UserFactory()
    fund(shopkeeper, 5_000)
    client, auth = Client(), bearer_headers(shopkeeper)
    withdraw(client, auth, 2_000)
    before = snapshot()

    response = withdraw(client, auth, 3_000)

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert snapshot() == before


@pytest.mark.parametrize(
    ("amount", "status", "code"),
    [
        (999, 422, "below_minimum"),
        (5_001, 422, "insufficient_balance"),
        (0, 422, "invalid"),
        ("ten", 422, "invalid"),
        (-5, 422, "invalid"),
    ],
)
def test_refused_withdrawals_write_nothing(amount: Any, status: int, code: str):
    shopkeeper = UserFactory()
    fund(shopkeeper, 5_000)
    client, auth = Client(), bearer_headers(shopkeeper)
    before = snapshot()

    response = withdraw(client, auth, amount)

    assert response.status_code == status
    assert response.json()["code"] == code
    assert snapshot() == before
    assert available(shopkeeper) == 5_000


def test_a_second_withdrawal_in_flight_is_a_conflict():
    shopkeeper = UserFactory()
    fund(shopkeeper, 5_000)
    client, auth = Client(), bearer_headers(shopkeeper)
    withdraw(client, auth, 1_000, key="one")
    before = snapshot()

    response = withdraw(client, auth, 1_000, key="two")

    assert response.status_code == 409
    assert response.json()["code"] == "withdrawal_in_flight"
    assert snapshot() == before


def test_the_idempotency_key_is_required():
    shopkeeper = UserFactory()
    fund(shopkeeper, 5_000)

    response = withdraw(Client(), bearer_headers(shopkeeper), 1_000, key=None)

    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert not Withdrawal.objects.exists()


def test_anonymous_callers_are_refused():
    response = Client().get(f"{BASE}/withdrawals")

    assert response.status_code == 401


def test_the_list_holds_only_my_withdrawals_newest_first():
    me, other = UserFactory(), UserFactory()
    for user in (me, other):
        fund(user, 10_000)
    curator = CuratorFactory()
    from grassroots.commissions.withdrawals import withdrawal_reject

    old = withdrawal_request(user=me, amount=1_000, idempotency_key="a")
    withdrawal_reject(actor=curator, withdrawal=old, reason="Try again")
    new = withdrawal_request(user=me, amount=2_000, idempotency_key="b")
    withdrawal_request(user=other, amount=3_000, idempotency_key="a")

    response = Client().get(f"{BASE}/withdrawals", **bearer_headers(me))

    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["id"], i["status"]) for i in items] == [(new.pk, "requested"), (old.pk, "rejected")]
    assert items[1]["failure_reason"] == "Try again"
    assert [h["to_status"] for h in items[1]["history"]] == ["requested", "rejected"]


def test_someone_else_s_withdrawal_is_not_found():
    me, other = UserFactory(), UserFactory()
    fund(other, 5_000)
    theirs = withdrawal_request(user=other, amount=1_000, idempotency_key="a")
    auth = bearer_headers(me)
    client = Client()

    responses = [
        client.get(f"{BASE}/withdrawals/{theirs.pk}", **auth),
        client.post(f"{BASE}/withdrawals/{theirs.pk}/approve", **auth),
        client.post(f"{BASE}/withdrawals/{theirs.pk}/reject", {"reason": "x"}, content_type="application/json", **auth),
        client.get(f"{BASE}/withdrawals/999999", **auth),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert all(r.json()["code"] == "not_found" for r in responses)
    theirs.refresh_from_db()
    assert theirs.status == "requested"


def test_a_shopkeeper_cannot_approve_their_own():
    me = UserFactory()
    fund(me, 5_000)
    mine = withdrawal_request(user=me, amount=1_000, idempotency_key="a")
    before = snapshot()

    response = Client().post(f"{BASE}/withdrawals/{mine.pk}/approve", **bearer_headers(me))

    assert response.status_code == 403
    assert snapshot() == before


def test_curators_review_then_approve_and_the_payout_runs():
    shopkeeper, curator = UserFactory(display_name="Lin"), CuratorFactory()
    fund(shopkeeper, 5_000)
    pending = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="a")
    client, auth = Client(), bearer_headers(curator)

    queue = client.get(f"{BASE}/withdrawals/review", **auth)
    approved = client.post(f"{BASE}/withdrawals/{pending.pk}/approve", **auth)
    again = client.post(f"{BASE}/withdrawals/{pending.pk}/approve", **auth)
    queue_after = client.get(f"{BASE}/withdrawals/review", **auth)
    paid_list = client.get(f"{BASE}/withdrawals/review?status=paid", **auth)

    assert queue.status_code == 200
    assert [(i["id"], i["shopkeeper_id"], i["shopkeeper_name"]) for i in queue.json()["items"]] == [
        (pending.pk, shopkeeper.pk, "Lin")
    ]
    assert approved.status_code == 200
    body = approved.json()
    assert (body["status"], body["payout_ref"]) == ("paid", f"sim-{pending.pk}")
    assert [h["action"] for h in body["history"]] == ["request", "approve", "pay"]
    assert again.status_code == 200 and again.json()["status"] == "paid"
    assert queue_after.json()["items"] == []
    assert [i["id"] for i in paid_list.json()["items"]] == [pending.pk]
    assert available(shopkeeper) == 3_000
    assert JournalEntry.objects.filter(kind="withdrawal_paid").count() == 1
    assert ledger_problems() == []


def test_a_declined_payout_is_reported_as_failed():
    shopkeeper, curator = UserFactory(), CuratorFactory()
    fund(shopkeeper, 5_000)
    pending = withdrawal_request(user=shopkeeper, amount=2_013, idempotency_key="a")

    response = Client().post(f"{BASE}/withdrawals/{pending.pk}/approve", **bearer_headers(curator))

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["failure_reason"]) == ("failed", "simulated_declined")
    assert available(shopkeeper) == 5_000
    assert ledger_problems() == []


def test_curators_reject_with_a_reason():
    shopkeeper, curator = UserFactory(), CuratorFactory()
    fund(shopkeeper, 5_000)
    pending = withdrawal_request(user=shopkeeper, amount=2_000, idempotency_key="a")
    client, auth = Client(), bearer_headers(curator)

    empty = client.post(
        f"{BASE}/withdrawals/{pending.pk}/reject", {"reason": ""}, content_type="application/json", **auth
    )
    rejected = client.post(
        f"{BASE}/withdrawals/{pending.pk}/reject",
        {"reason": "Unverified account"},
        content_type="application/json",
        **auth,
    )
    approve_after = client.post(f"{BASE}/withdrawals/{pending.pk}/approve", **auth)

    assert empty.status_code == 422
    assert rejected.status_code == 200
    assert (rejected.json()["status"], rejected.json()["failure_reason"]) == ("rejected", "Unverified account")
    assert approve_after.status_code == 409
    assert approve_after.json()["code"] == "invalid_transition"
    assert available(shopkeeper) == 5_000
    assert ledger_problems() == []


def test_the_review_queue_is_for_curators_only():
    response = Client().get(f"{BASE}/withdrawals/review", **bearer_headers(UserFactory()))

    assert response.status_code == 403


def test_an_unknown_review_status_is_refused():
    response = Client().get(f"{BASE}/withdrawals/review?status=lost", **bearer_headers(CuratorFactory()))

    assert response.status_code == 422
