"""The card-form pages, driven like a browser without JavaScript: plain forms, POST, redirect."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from grassroots.accounts.tests.factories import UserFactory
from grassroots.payments.gateways import CARD_DECLINED, CARD_SUCCEEDS
from grassroots.payments.models import PaymentAttempt, PaymentIntent

from .conftest import KIND, FakePayables


def _client(user: Any) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


def _start_url(payable_id: int) -> str:
    return f"/payments/pay/start/{KIND}/{payable_id}/"


@pytest.mark.django_db
def test_start_creates_one_intent_and_redirects_to_the_card_form(payables: FakePayables) -> None:
    buyer = UserFactory()
    client = _client(buyer)
    payable_id = payables.add(buyer.pk, amount=12990)

    first = client.post(_start_url(payable_id))
    second = client.post(_start_url(payable_id))

    intent = PaymentIntent.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/payments/pay/{intent.pk}/"
    page = client.get(first["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "¥129.90" in html
    assert CARD_SUCCEEDS in html and CARD_DECLINED in html
    assert 'name="card_number"' in html


@pytest.mark.django_db
def test_start_is_post_only_and_needs_a_login(payables: FakePayables) -> None:
    buyer = UserFactory()
    payable_id = payables.add(buyer.pk)

    assert _client(buyer).get(_start_url(payable_id)).status_code == 405
    anonymous = Client().post(_start_url(payable_id))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login")
    assert PaymentIntent.objects.count() == 0


@pytest.mark.django_db
def test_start_for_someone_elses_payable_is_404(payables: FakePayables) -> None:
    response = _client(UserFactory()).post(_start_url(payables.add(UserFactory().pk)))

    assert response.status_code == 404
    assert PaymentIntent.objects.count() == 0


@pytest.mark.django_db
def test_start_for_an_unpayable_payable_explains_why(payables: FakePayables) -> None:
    buyer = UserFactory()

    response = _client(buyer).post(_start_url(payables.add(buyer.pk, payable=False, reason="Order cancelled.")))

    assert response.status_code == 409
    assert "Order cancelled." in response.content.decode()
    assert PaymentIntent.objects.count() == 0


@pytest.mark.django_db
def test_paying_with_the_success_card_shows_the_result_and_the_way_back(
    payables: FakePayables, django_capture_on_commit_callbacks: Any
) -> None:
    buyer = UserFactory()
    client = _client(buyer)
    payable_id = payables.add(buyer.pk)
    pay_url = client.post(_start_url(payable_id))["Location"]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(pay_url, {"card_number": CARD_SUCCEEDS})
    page = client.get(response["Location"])

    html = page.content.decode()
    assert response.status_code == 302
    assert "Paid" in html
    assert f'href="/test-return/{payable_id}/"' in html
    assert 'name="card_number"' not in html
    assert PaymentIntent.objects.get().status == "succeeded"


@pytest.mark.django_db
def test_a_declined_card_shows_the_failure_and_the_form_again(
    payables: FakePayables, django_capture_on_commit_callbacks: Any
) -> None:
    buyer = UserFactory()
    client = _client(buyer)
    pay_url = client.post(_start_url(payables.add(buyer.pk)))["Location"]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(pay_url, {"card_number": CARD_DECLINED})
    html = client.get(pay_url).content.decode()

    assert "Your card was declined." in html
    assert 'name="card_number"' in html
    assert "•••• 0002" in html


@pytest.mark.django_db
def test_an_invalid_card_is_shown_on_the_form_with_422(payables: FakePayables) -> None:
    buyer = UserFactory()
    client = _client(buyer)
    pay_url = client.post(_start_url(payables.add(buyer.pk)))["Location"]

    response = client.post(pay_url, {"card_number": "1234 5678"})

    assert response.status_code == 422
    assert "The card number is not valid." in response.content.decode()
    assert PaymentAttempt.objects.count() == 0


@pytest.mark.django_db
def test_the_card_form_is_owner_only(payables: FakePayables) -> None:
    buyer = UserFactory()
    pay_url = _client(buyer).post(_start_url(payables.add(buyer.pk)))["Location"]
    stranger = _client(UserFactory())

    assert stranger.get(pay_url).status_code == 404
    assert stranger.post(pay_url, {"card_number": CARD_SUCCEEDS}).status_code == 404
    assert PaymentAttempt.objects.count() == 0


@pytest.mark.django_db
def test_forms_carry_a_csrf_token(payables: FakePayables) -> None:
    buyer = UserFactory()
    client = _client(buyer)
    pay_url = client.post(_start_url(payables.add(buyer.pk)))["Location"]

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(buyer)
    html = strict.get(pay_url).content.decode()

    assert 'name="csrfmiddlewaretoken"' in html
    assert strict.post(pay_url, {"card_number": CARD_SUCCEEDS}).status_code == 403
