from __future__ import annotations

import pytest
from django.urls import reverse

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.ledger.models import JournalEntry, LedgerAccount, Posting
from grassroots.ledger.services import merchant_settlement_post
from grassroots.ledger.tests.factories import fund_merchant
from grassroots.merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def test_member_sees_the_statement_page(client):
    merchant = MerchantFactory()
    fund_merchant(merchant.pk, 12_990)
    merchant_settlement_post(merchant_id=merchant.pk, amount=10_000, currency="CNY", idempotency_key="s1", actor=None)
    client.force_login(merchant.owner)

    response = client.get(reverse("ledger:merchant_statement", args=[merchant.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "¥29.90" in html  # owed now
    assert "¥129.90" in html  # the sale
    assert "-¥100.00" in html  # the settlement
    assert "Settlement" in html
    assert "Order paid" in html
    assert html.index("Settlement") < html.index("Order paid")  # newest first


def test_statement_page_paginates_without_javascript(client, monkeypatch):
    monkeypatch.setattr("grassroots.ledger.views.STATEMENT_PAGE_SIZE", 1)
    merchant = MerchantFactory()
    fund_merchant(merchant.pk, 100)
    fund_merchant(merchant.pk, 200)
    client.force_login(merchant.owner)
    url = reverse("ledger:merchant_statement", args=[merchant.pk])

    first = client.get(url)
    cursor = first.context["statement"].next_cursor
    second = client.get(url, {"cursor": cursor})

    assert [line.amount for line in first.context["statement"].lines] == [200]
    assert "cursor=" in first.content.decode()
    assert [line.amount for line in second.context["statement"].lines] == [100]
    assert client.get(url, {"cursor": "%%%"}).status_code == 400


def test_strangers_get_404_and_anonymous_users_are_sent_to_sign_in(client):
    merchant = MerchantFactory()
    url = reverse("ledger:merchant_statement", args=[merchant.pk])

    assert client.get(url).status_code == 302
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    client.force_login(CuratorFactory())
    assert client.get(url).status_code == 200


def test_admin_is_read_only(client):
    merchant = MerchantFactory()
    entry = fund_merchant(merchant.pk, 100)
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)

    assert client.get(reverse("admin:ledger_journalentry_changelist")).status_code == 200
    assert client.get(reverse("admin:ledger_journalentry_change", args=[entry.pk])).status_code == 200
    assert client.get(reverse("admin:ledger_ledgeraccount_changelist")).status_code == 200
    assert client.get(reverse("admin:ledger_posting_changelist")).status_code == 200
    assert client.get(reverse("admin:ledger_journalentry_add")).status_code == 403
    assert client.post(reverse("admin:ledger_journalentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    account = LedgerAccount.objects.order_by("pk").first()
    before = account.cached_balance
    client.post(reverse("admin:ledger_ledgeraccount_change", args=[account.pk]), {"cached_balance": 5})

    assert JournalEntry.objects.filter(pk=entry.pk).exists()
    assert Posting.objects.filter(entry=entry).count() == 2
    account.refresh_from_db()
    assert account.cached_balance == before
