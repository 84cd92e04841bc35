"""Numbers typed as text: odd digits and huge strings are refused, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client

from grassroots.accounts.tests.factories import UserFactory
from grassroots.core.numbers import digits_int
from grassroots.orders.tests.factories import AddressFactory


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        (" 7 ", 7),
        ("007", 7),
        ("9" * 18, 10**18 - 1),
        ("9" * 19, None),  # may not fit a 64-bit column
        ("\u00b2", None),  # superscript two: isdigit() says yes, int() says no
        ("\u0663", None),  # Arabic-Indic three: int() would take it; ids are ASCII
        ("1" * 5000, None),  # int() refuses over 4,300 digits
        ("", None),
        ("-1", None),
        ("1.5", None),
        ("1e3", None),
        (None, None),
        (12, None),
    ],
)
def test_digits_int(text: object, expected: int | None) -> None:
    assert digits_int(text) == expected


def test_max_digits() -> None:
    assert digits_int("12", max_digits=2) == 12
    assert digits_int("123", max_digits=2) is None


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["\u00b2", "1" * 5000])
def test_odd_digits_in_query_strings_and_forms_are_4xx(value: str) -> None:
    buyer = UserFactory()
    client = Client()
    client.force_login(buyer)
    AddressFactory(owner=buyer)

    responses = [
        client.get(f"/orders/checkout/?sku={value}&qty=1"),
        client.post("/orders/checkout/", {"address_id": value}),
        client.get(f"/merchants/console/?merchant={value}"),
    ]

    assert all(400 <= r.status_code < 500 or r.status_code in (200, 302) for r in responses), [
        r.status_code for r in responses
    ]
