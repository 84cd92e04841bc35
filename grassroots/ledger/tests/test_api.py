from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.ledger.codes import merchant_payable
from grassroots.ledger.models import JournalEntry, LedgerAccount
from grassroots.ledger.selectors import account_balance
from grassroots.ledger.tests.factories import fund_merchant
from grassroots.merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def statement_url(merchant_id: int) -> str:
    return f"/api/v1/ledger/merchants/{merchant_id}/statement"


def settle(client, merchant_id: int, amount: int, key: str | None = "s-1", currency: str = "CNY"):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        f"/api/v1/ledger/merchants/{merchant_id}/settlements",
        {"amount": amount, "currency": currency},
        content_type="application/json",
        headers=headers,
    )


def test_member_reads_the_statement(client):
    merchant = MerchantFactory()
    fund_merchant(merchant.pk, 1_000)
    fund_merchant(merchant.pk, 250)
    client.force_login(merchant.owner)

    response = client.get(statement_url(merchant.pk), {"limit": 1})

    assert response.status_code == 200
    body = response.json()
    assert body["account"] == merchant_payable(merchant.pk)
    assert body["currency"] == "CNY"
    assert body["balance"] == 1_250
    assert [(line["kind"], line["amount"], line["balance"]) for line in body["lines"]] == [("order_paid", 250, 1_250)]
    assert body["next_cursor"]

    older = client.get(statement_url(merchant.pk), {"limit": 1, "cursor": body["next_cursor"]}).json()

    assert [(line["amount"], line["balance"]) for line in older["lines"]] == [(1_000, 1_000)]
    assert older["next_cursor"] is None


def test_a_stranger_gets_404_for_the_statement_and_balance(client):
    merchant = MerchantFactory()
    fund_merchant(merchant.pk, 1_000)
    client.force_login(UserFactory())

    for url in (statement_url(merchant.pk), f"/api/v1/ledger/merchants/{merchant.pk}/balance"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    # The same answer as for a merchant that does not exist.
    assert client.get(statement_url(merchant.pk + 1000)).status_code == 404


def test_anonymous_callers_are_refused(client):
    merchant = MerchantFactory()

    response = client.get(statement_url(merchant.pk))

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_a_curator_reads_any_merchants_statement(client):
    merchant = MerchantFactory()
    fund_merchant(merchant.pk, 1_000)
    client.force_login(CuratorFactory())

    response = client.get(statement_url(merchant.pk))

    assert response.status_code == 200
    assert response.json()["balance"] == 1_000


def test_statement_rejects_a_bad_currency_cursor_or_limit(client):
    merchant = MerchantFactory()
    client.force_login(merchant.owner)

    for params in ({"currency": "XXX"}, {"cursor": "%%%"}, {"limit": 0}, {"limit": 101}):
        response = client.get(statement_url(merchant.pk), params)
        assert response.status_code == 422, params
        assert set(response.json()) == {"code", "message", "fields"}


def test_statement_query_count_does_not_grow_with_postings(client):
    merchant = MerchantFactory()
    client.force_login(merchant.owner)
    fund_merchant(merchant.pk, 100)

    with CaptureQueriesContext(connection) as few:
        assert client.get(statement_url(merchant.pk)).status_code == 200
    for _ in range(30):
        fund_merchant(merchant.pk, 100)
    with CaptureQueriesContext(connection) as many:
        response = client.get(statement_url(merchant.pk))

    assert len(response.json()["lines"]) == 20
    assert len(many.captured_queries) == len(few.captured_queries)
    # session, user, curator check (2), merchant, account, page, balances
    assert len(many.captured_queries) <= 8


def test_balance_lists_the_merchants_accounts(client):
    merchant = MerchantFactory()
    fund_merchant(merchant.pk, 1_000)
    fund_merchant(merchant.pk, 20, currency="USD")
    client.force_login(merchant.owner)

    response = client.get(f"/api/v1/ledger/merchants/{merchant.pk}/balance")

    assert response.status_code == 200
    assert response.json() == {
        "merchant_id": merchant.pk,
        "balances": [
            {
                "account": merchant_payable(merchant.pk),
                "currency": "CNY",
                "kind": "liability",
                "balance": -1_000,
                "normal_balance": 1_000,
            },
            {
                "account": merchant_payable(merchant.pk),
                "currency": "USD",
                "kind": "liability",
                "balance": -20,
                "normal_balance": 20,
            },
        ],
    }


def test_curator_settles_and_a_retry_returns_the_same_settlement(client):
    merchant = MerchantFactory()
    fund_merchant(merchant.pk, 1_000)
    curator = CuratorFactory()
    client.force_login(curator)

    first = settle(client, merchant.pk, 600)
    again = settle(client, merchant.pk, 600)

    assert first.status_code == 201
    assert first.json()["amount"] == 600
    assert first.json()["idempotency_key"] == "s-1"
    assert again.status_code == 201
    assert again.json()["entry_id"] == first.json()["entry_id"]
    entry = JournalEntry.objects.get(kind="settlement")
    assert entry.created_by_id == curator.pk
    assert entry.idempotency_key == f"settlement:{merchant.pk}:s-1"
    assert account_balance(code=merchant_payable(merchant.pk), currency="CNY") == -400


def test_settlement_with_a_reused_key_and_another_amount_is_409_and_writes_nothing(client):
    merchant = MerchantFactory()
    fund_merchant(merchant.pk, 1_000)
    client.force_login(CuratorFactory())
    settle(client, merchant.pk, 600)

    response = settle(client, merchant.pk, 300)

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"
    assert JournalEntry.objects.filter(kind="settlement").count() == 1
    assert account_balance(code=merchant_payable(merchant.pk), currency="CNY") == -400


def test_settlement_above_the_balance_is_422_and_writes_nothing(client):
    merchant = MerchantFactory()
    fund_merchant(merchant.pk, 1_000)
    client.force_login(CuratorFactory())

    response = settle(client, merchant.pk, 1_001)

    assert response.status_code == 422
    assert response.json()["code"] == "insufficient_balance"
    assert response.json()["fields"]["available"] == 1_000
    assert not JournalEntry.objects.filter(kind="settlement").exists()
    assert LedgerAccount.objects.get(code=merchant_payable(merchant.pk)).cached_balance == -1_000


def test_settlement_needs_an_idempotency_key(client):
    merchant = MerchantFactory()
    fund_merchant(merchant.pk, 1_000)
    client.force_login(CuratorFactory())

    response = settle(client, merchant.pk, 100, key=None)

    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert not JournalEntry.objects.filter(kind="settlement").exists()


@pytest.mark.parametrize("body", [{"amount": 0, "currency": "CNY"}, {"amount": 5, "currency": "XXX"}, {"amount": "x"}])
def test_settlement_input_is_validated(client, body):
    merchant = MerchantFactory()
    fund_merchant(merchant.pk, 1_000)
    client.force_login(CuratorFactory())

    response = client.post(
        f"/api/v1/ledger/merchants/{merchant.pk}/settlements",
        body,
        content_type="application/json",
        headers={"Idempotency-Key": "k"},
    )

    assert response.status_code == 422
    assert not JournalEntry.objects.filter(kind="settlement").exists()


def test_members_and_strangers_cannot_settle(client):
    merchant = MerchantFactory()
    fund_merchant(merchant.pk, 1_000)

    client.force_login(merchant.owner)
    assert settle(client, merchant.pk, 100).status_code == 403
    client.force_login(UserFactory())
    assert settle(client, merchant.pk, 100).status_code == 404
    client.force_login(CuratorFactory())
    assert settle(client, merchant.pk + 1000, 100).status_code == 404

    assert not JournalEntry.objects.filter(kind="settlement").exists()


def test_verify_is_for_curators(client):
    merchant = MerchantFactory()
    fund_merchant(merchant.pk, 1_000)

    client.force_login(merchant.owner)
    assert client.get("/api/v1/ledger/verify").status_code == 403

    client.force_login(CuratorFactory())
    assert client.get("/api/v1/ledger/verify").json() == {"ok": True, "problems": []}

    LedgerAccount.objects.filter(code="gateway:cash").update(cached_balance=1)
    assert client.get("/api/v1/ledger/verify").json() == {
        "ok": False,
        "problems": ["account gateway:cash [CNY] cache 1 != replay 1000"],
    }
