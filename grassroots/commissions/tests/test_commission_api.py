"""Commission API: my lines and balances, scoped to me; curators release or reject held lines."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory, bearer_headers
from grassroots.commissions.models import CommissionLine
from grassroots.commissions.tests.test_commission_helpers import (
    add_to_shop,
    balances,
    books_balance,
    buy,
    buyer_with_address,
    click,
    product_with_rate,
    shop_of,
)
from grassroots.core.pagination import encode_cursor

pytestmark = pytest.mark.django_db

BASE = "/api/v1/commissions"


def team_sale(capture: Any, *, held: bool = False) -> tuple[Any, Any, CommissionLine]:
    """keeper (invited by the shopkeeper inviter) sells two units at 10,000 with a 10% rate."""
    inviter = UserFactory()
    shop_of(inviter)
    keeper = buyer_with_address(line1="1 Keeper Road") if held else UserFactory()
    keeper.invited_by = inviter
    keeper.save(update_fields=["invited_by"])
    product, sku = product_with_rate(rate_bps=1000)
    shop = shop_of(keeper, product)
    device = f"api-device-{product.pk:013d}"
    click(shop, device=device)
    buyer = buyer_with_address(line1="1 Keeper Road" if held else "2 Buyer Road")
    order = buy(buyer, [(sku, 2)], capture, device=device)
    return keeper, inviter, CommissionLine.objects.get(order=order)


def test_a_shopkeeper_lists_their_lines_and_the_inviter_sees_the_override(
    django_capture_on_commit_callbacks: Any,
) -> None:
    keeper, inviter, line = team_sale(django_capture_on_commit_callbacks)
    client = Client()

    mine = client.get(f"{BASE}/lines", **bearer_headers(keeper))
    team = client.get(f"{BASE}/lines", **bearer_headers(inviter))

    assert mine.status_code == 200
    body = mine.json()
    assert body["next_cursor"] is None
    assert [(i["id"], i["role"], i["amount"], i["rate_bps"], i["status"]) for i in body["items"]] == [
        (line.pk, "shopkeeper", 2000, 1000, "pending")
    ]
    assert body["items"][0]["paid_amount"] == 20000
    assert [(i["id"], i["role"], i["amount"], i["rate_bps"]) for i in team.json()["items"]] == [
        (line.pk, "team", 100, 1000)
    ]


def test_lines_are_paginated_with_a_cursor(django_capture_on_commit_callbacks: Any) -> None:
    inviter = UserFactory()
    shop_of(inviter)
    keeper = UserFactory(invited_by=inviter)
    shop = shop_of(keeper)
    for n in range(3):
        product, sku = product_with_rate(rate_bps=1000)
        add_to_shop(shop, product)
        click(shop, device=f"page-device-{n:012d}")
        buy(buyer_with_address(), [(sku, 1)], django_capture_on_commit_callbacks, device=f"page-device-{n:012d}")
    client, auth = Client(), bearer_headers(keeper)
    ids = list(CommissionLine.objects.order_by("-id").values_list("pk", flat=True))

    first = client.get(f"{BASE}/lines?limit=2", **auth).json()
    second = client.get(f"{BASE}/lines?limit=2&cursor={first['next_cursor']}", **auth).json()

    assert [i["id"] for i in first["items"]] == ids[:2]
    assert [i["id"] for i in second["items"]] == ids[2:]
    assert second["next_cursor"] is None
    for cursor in ("not-a-cursor", encode_cursor(["abc"]), encode_cursor([1, 2]), encode_cursor([2**70])):
        bad = client.get(f"{BASE}/lines", {"cursor": cursor}, **auth)
        assert (bad.status_code, bad.json()["code"]) == (422, "invalid_cursor")
    assert client.get(f"{BASE}/lines?limit=101", **auth).status_code == 422


def test_someone_elses_line_is_not_found(django_capture_on_commit_callbacks: Any) -> None:
    keeper, _inviter, line = team_sale(django_capture_on_commit_callbacks)
    stranger = UserFactory()
    client = Client()

    assert client.get(f"{BASE}/lines/{line.pk}", **bearer_headers(keeper)).status_code == 200
    response = client.get(f"{BASE}/lines/{line.pk}", **bearer_headers(stranger))
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert client.get(f"{BASE}/lines", **bearer_headers(stranger)).json()["items"] == []
    assert client.get(f"{BASE}/lines/{line.pk + 1000}", **bearer_headers(keeper)).status_code == 404
    assert client.get(f"{BASE}/lines/{2**70}", **bearer_headers(keeper)).status_code == 404


def test_balances_are_mine_and_sign_normalised(django_capture_on_commit_callbacks: Any) -> None:
    keeper, inviter, _line = team_sale(django_capture_on_commit_callbacks)
    client = Client()

    response = client.get(f"{BASE}/balances", **bearer_headers(keeper))

    assert response.status_code == 200
    assert response.json() == {
        "currency": "CNY",
        "pending": 2000,
        "held": 0,
        "available": 0,
        "withdrawing": 0,
        "receivable": 0,
        "withdrawn_total": 0,
    }
    assert client.get(f"{BASE}/balances", **bearer_headers(inviter)).json()["pending"] == 100
    assert client.get(f"{BASE}/balances", **bearer_headers(UserFactory())).json()["pending"] == 0
    bad = client.get(f"{BASE}/balances?currency=XXX", **bearer_headers(keeper))
    assert bad.status_code == 422
    assert client.get(f"{BASE}/balances").status_code == 401


def test_a_curator_releases_a_held_line(django_capture_on_commit_callbacks: Any) -> None:
    keeper, inviter, line = team_sale(django_capture_on_commit_callbacks, held=True)
    curator = CuratorFactory()
    client = Client()

    queue = client.get(f"{BASE}/lines/held", **bearer_headers(curator)).json()
    response = client.post(f"{BASE}/lines/{line.pk}/release", **bearer_headers(curator))

    assert [(i["id"], i["hold_reason"]) for i in queue["items"]] == [(line.pk, "shared_address")]
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["decided_by_id"]) == ("pending", curator.pk)
    assert balances(keeper)["pending"] == 2000
    assert balances(inviter)["pending"] == 100
    again = client.post(f"{BASE}/lines/{line.pk}/release", **bearer_headers(curator))
    assert (again.status_code, again.json()["code"]) == (409, "not_held")
    books_balance()


def test_a_curator_rejects_a_held_line(django_capture_on_commit_callbacks: Any) -> None:
    keeper, _inviter, line = team_sale(django_capture_on_commit_callbacks, held=True)
    client = Client()

    response = client.post(f"{BASE}/lines/{line.pk}/reject", **bearer_headers(CuratorFactory()))

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["commission_reversed"]) == ("rejected", 2000)
    assert balances(keeper)["held"] == 0
    books_balance()


def test_only_curators_review_and_nothing_changes_otherwise(django_capture_on_commit_callbacks: Any) -> None:
    keeper, _inviter, line = team_sale(django_capture_on_commit_callbacks, held=True)
    client = Client()

    for user in (keeper, UserFactory()):
        for action in ("release", "reject"):
            response = client.post(f"{BASE}/lines/{line.pk}/{action}", **bearer_headers(user))
            assert (response.status_code, response.json()["code"]) == (403, "not_curator")
        assert client.get(f"{BASE}/lines/held", **bearer_headers(user)).status_code == 403
    curator = bearer_headers(CuratorFactory())
    assert client.post(f"{BASE}/lines/{line.pk + 1000}/release", **curator).status_code == 404
    assert client.post(f"{BASE}/lines/{2**70}/reject", **curator).status_code == 404
    line.refresh_from_db()
    assert line.status == "held"
    assert balances(keeper)["held"] == 2000
