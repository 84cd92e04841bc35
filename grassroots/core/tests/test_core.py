from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grassroots.core.money import CurrencyMismatch, Money, format_minor
from grassroots.core.state_machine import InvalidTransition, build_machine
from grassroots.core.text import render_markdown


def test_money_refuses_mixed_currencies():
    with pytest.raises(CurrencyMismatch):
        Money(100, "CNY") + Money(100, "USD")


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        Money(1.5, "CNY")  # type: ignore[arg-type]


@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(min_value=-(10**12), max_value=10**12))
def test_money_addition_is_exact(a, b):
    assert (Money(a, "CNY") + Money(b, "CNY")).amount == a + b
    assert (Money(a, "CNY") - Money(b, "CNY") + Money(b, "CNY")).amount == a


def test_format_minor():
    assert format_minor(12990, "CNY") == "¥129.90"
    assert format_minor(-5, "USD") == "-$0.05"
    assert format_minor(1200, "JPY") == "¥1,200"


def test_state_machine_rejects_unknown_transition():
    machine = build_machine(
        "door", initial="closed", edges=[("closed", "open", "opened"), ("opened", "close", "closed")]
    )
    assert machine.next_state("closed", "open") == "opened"
    with pytest.raises(InvalidTransition):
        machine.next_state("closed", "close")


def test_state_machine_checks_reachability_at_definition():
    with pytest.raises(ValueError, match="unreachable"):
        build_machine("bad", initial="a", edges=[("a", "go", "b"), ("c", "go", "b")])


def test_markdown_is_sanitised():
    html = render_markdown("**hi** <script>alert(1)</script> [x](javascript:alert(1))")
    assert "<strong>hi</strong>" in html
    assert "<script" not in html
    assert "javascript:" not in html


@pytest.mark.django_db
def test_home_page_serves(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Grassroots" in response.content


@pytest.mark.django_db
def test_api_docs_and_schema_serve(client):
    assert client.get("/api/v1/docs").status_code == 200
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "Grassroots API"
