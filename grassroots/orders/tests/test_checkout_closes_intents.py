"""A checkout closed unpaid (the buyer cancels, or the payment window runs out) closes its payment
intent too, unless the provider still has the card: then a late capture is refunded in full."""

from __future__ import annotations

from typing import Any

import pytest

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.models import Sku
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.core.errors import Conflict
from grassroots.ledger.selectors import account_balance, ledger_problems
from grassroots.orders import services
from grassroots.orders.models import Checkout, Order, UnappliedPayment
from grassroots.orders.tests.factories import AddressFactory
from grassroots.payments.gateways import CARD_DECLINED, CARD_SUCCEEDS
from grassroots.payments.models import PaymentIntent, PaymentStatusChange
from grassroots.payments.services import payment_intent_confirm, payment_intent_create

pytestmark = pytest.mark.django_db


def placed(*, price: int = 5000) -> tuple[Any, Checkout, Sku]:
    buyer = UserFactory()
    sku = SkuFactory(product=ProductFactory(), price_amount=price, stock=5)
    checkout = services.checkout_place(buyer=buyer, address_id=AddressFactory(owner=buyer).pk, items=[(sku.pk, 1)])
    return buyer, checkout, sku


def declined(capture: Any, buyer: Any, checkout: Checkout) -> PaymentIntent:
    intent, _created = payment_intent_create(payer=buyer, kind="checkout", payable_id=checkout.pk)
    with capture(execute=True):
        payment_intent_confirm(payer=buyer, intent_id=intent.pk, card_number=CARD_DECLINED)
    intent.refresh_from_db()
    assert intent.status == PaymentIntent.Status.FAILED
    return intent


def close(buyer: Any, checkout: Checkout, how: str) -> None:
    if how == "cancel":
        services.checkout_cancel(buyer=buyer, checkout_id=checkout.pk)
    else:
        Checkout.objects.filter(pk=checkout.pk).update(expires_at="2000-01-01T00:00:00Z")
        assert services.checkout_expire(checkout_id=checkout.pk)


def counters(sku: Sku) -> tuple[int, int, int]:
    sku.refresh_from_db()
    return sku.stock, sku.reserved, sku.sold


@pytest.mark.parametrize("how", ["cancel", "expire"])
def test_closing_a_checkout_after_a_declined_card_cancels_its_intent(
    how: str, django_capture_on_commit_callbacks: Any
) -> None:
    buyer, checkout, sku = placed()
    intent = declined(django_capture_on_commit_callbacks, buyer, checkout)

    close(buyer, checkout, how)

    intent.refresh_from_db()
    assert intent.status == PaymentIntent.Status.CANCELLED
    change = PaymentStatusChange.objects.filter(intent=intent).last()
    assert change is not None
    assert (change.from_status, change.to_status, change.action, change.note) == (
        "failed",
        "cancelled",
        "cancel",
        f"checkout {how}",
    )
    assert change.actor_id == (buyer.pk if how == "cancel" else None)
    assert counters(sku) == (5, 0, 0)
    # Nothing is left to pay, and no new intent is opened for it.
    with pytest.raises(Conflict) as error:
        payment_intent_create(payer=buyer, kind="checkout", payable_id=checkout.pk)
    assert error.value.code == "not_payable"
    assert PaymentIntent.objects.count() == 1
    # Closing again changes nothing.
    services.checkout_cancel(buyer=buyer, checkout_id=checkout.pk)
    assert PaymentStatusChange.objects.filter(intent=intent, action="cancel").count() == 1


def test_an_intent_never_confirmed_is_cancelled_with_its_checkout() -> None:
    buyer, checkout, _sku = placed()
    intent, _created = payment_intent_create(payer=buyer, kind="checkout", payable_id=checkout.pk)

    services.checkout_cancel(buyer=buyer, checkout_id=checkout.pk)

    intent.refresh_from_db()
    assert intent.status == PaymentIntent.Status.CANCELLED


def test_intents_of_other_checkouts_are_left_alone(django_capture_on_commit_callbacks: Any) -> None:
    buyer, checkout, _sku = placed()
    other_buyer, other, _other_sku = placed()
    mine = declined(django_capture_on_commit_callbacks, buyer, checkout)
    theirs = declined(django_capture_on_commit_callbacks, other_buyer, other)

    services.checkout_cancel(buyer=buyer, checkout_id=checkout.pk)

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, theirs.status) == (PaymentIntent.Status.CANCELLED, PaymentIntent.Status.FAILED)


@pytest.mark.parametrize("retried", [False, True])
def test_a_capture_after_the_buyer_cancelled_is_refunded_in_full(
    retried: bool, django_capture_on_commit_callbacks: Any
) -> None:
    """The card is with the provider (processing) when the buyer cancels: the intent stays open for
    its answer, and the money that then comes in goes straight back."""
    buyer, checkout, sku = placed()
    if retried:
        intent = declined(django_capture_on_commit_callbacks, buyer, checkout)
    else:
        intent, _created = payment_intent_create(payer=buyer, kind="checkout", payable_id=checkout.pk)
    with django_capture_on_commit_callbacks(execute=False) as webhooks:
        payment_intent_confirm(payer=buyer, intent_id=intent.pk, card_number=CARD_SUCCEEDS)

    services.checkout_cancel(buyer=buyer, checkout_id=checkout.pk)
    intent.refresh_from_db()
    assert intent.status == PaymentIntent.Status.PROCESSING
    for callback in webhooks:
        callback()

    intent.refresh_from_db()
    assert (intent.status, intent.amount_refunded) == (PaymentIntent.Status.SUCCEEDED, 5000)
    late = UnappliedPayment.objects.get()
    assert (late.intent_id, late.amount, late.checkout_status, late.refunded_at is not None) == (
        intent.pk,
        5000,
        "cancelled",
        True,
    )
    assert Checkout.objects.get(pk=checkout.pk).status == Checkout.Status.CANCELLED
    assert Order.objects.get(checkout=checkout).status == Order.Status.CANCELLED
    assert counters(sku) == (5, 0, 0)
    assert account_balance(code="buyer:clearing", currency="CNY") == 0
    assert account_balance(code="gateway:cash", currency="CNY") == 0
    assert ledger_problems() == []
