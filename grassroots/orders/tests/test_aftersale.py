"""After-sale through the services: refund-only before shipping, returns after delivery, exact
amounts, stock, ledger and payments in step, and nothing written on every refusal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.models import Sku
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.core.errors import Conflict, NotFound, ValidationFailed
from grassroots.core.state_machine import InvalidTransition
from grassroots.ledger.models import JournalEntry
from grassroots.ledger.selectors import account_balance, ledger_problems
from grassroots.merchants.tests.factories import MerchantFactory, MerchantMemberFactory
from grassroots.orders import services
from grassroots.orders.machine import RETURN_MACHINE
from grassroots.orders.models import (
    Order,
    OrderLine,
    OrderStatusChange,
    ReturnLine,
    ReturnRequest,
    ReturnStatusChange,
)
from grassroots.orders.tests.factories import AddressFactory, ShippingRuleFactory
from grassroots.payments.gateways import CARD_SUCCEEDS
from grassroots.payments.models import PaymentIntent, Refund
from grassroots.payments.services import payment_intent_confirm, payment_intent_create

pytestmark = pytest.mark.django_db


# --- helpers (also used by the API and page tests) -------------------------------------------------


def paid_order(
    capture: Any, *, lines: Sequence[tuple[int, int]] = ((3000, 2),), shipping_fee: int = 800, stock: int = 10
) -> tuple[Order, list[Sku]]:
    """A buyer's order of `lines` [(unit price, quantity)] from one merchant, paid with the
    simulated gateway's test card (its webhook runs on commit)."""
    buyer = UserFactory()
    merchant = MerchantFactory()
    if shipping_fee:
        ShippingRuleFactory(merchant=merchant, flat_fee=shipping_fee)
    skus = [
        SkuFactory(product=ProductFactory(merchant=merchant), price_amount=price, stock=stock) for price, _ in lines
    ]
    address = AddressFactory(owner=buyer)
    checkout = services.checkout_place(
        buyer=buyer,
        address_id=address.pk,
        items=[(sku.pk, quantity) for sku, (_price, quantity) in zip(skus, lines, strict=True)],
    )
    intent, _created = payment_intent_create(payer=buyer, kind="checkout", payable_id=checkout.pk)
    with capture(execute=True):
        payment_intent_confirm(payer=buyer, intent_id=intent.pk, card_number=CARD_SUCCEEDS)
    order = Order.objects.get(checkout=checkout)
    assert order.status == Order.Status.PAID
    return order, skus


def delivered(order: Order, *, days_ago: float = 0) -> Order:
    owner = order.merchant.memberships.get().user
    services.order_ship(actor=owner, order=order, carrier="SF Express", tracking_number="SF1234567")
    services.order_confirm_receipt(buyer=order.buyer, order=order)
    if days_ago:
        Order.objects.filter(pk=order.pk).update(delivered_at=timezone.now() - timedelta(days=days_ago))
    order.refresh_from_db()
    return order


def owner_of(order: Order) -> Any:
    return order.merchant.memberships.get().user


def counters(sku: Sku) -> tuple[int, int, int]:
    sku.refresh_from_db()
    return sku.stock, sku.reserved, sku.sold


def payable(order: Order) -> int:
    """What the platform owes the order's merchant (credit positive)."""
    return -account_balance(code=f"merchant:{order.merchant_id}:payable", currency=order.currency)


def revenue() -> int:
    return -account_balance(code="platform:revenue", currency="CNY")


def cash() -> int:
    return account_balance(code="gateway:cash", currency="CNY")


def snapshot() -> tuple[Any, ...]:
    """Everything an after-sale step may write."""
    return (
        ReturnRequest.objects.count(),
        ReturnLine.objects.count(),
        ReturnStatusChange.objects.count(),
        JournalEntry.objects.count(),
        Refund.objects.count(),
        list(OrderLine.objects.order_by("pk").values_list("refunded_quantity", "refunded_amount")),
        list(Sku.objects.order_by("pk").values_list("stock", "reserved", "sold")),
        list(Order.objects.order_by("pk").values_list("status", flat=True)),
        OrderStatusChange.objects.count(),
    )


def line_of(order: Order, index: int = 0) -> OrderLine:
    return list(order.lines.order_by("id"))[index]


# --- the machine ----------------------------------------------------------------------------------


def test_the_return_machine_allows_only_its_edges() -> None:
    assert RETURN_MACHINE.next_state("requested", "approve") == "approved"
    assert RETURN_MACHINE.next_state("approved", "ship_back") == "shipped_back"
    assert RETURN_MACHINE.next_state("shipped_back", "receive") == "returned"
    assert RETURN_MACHINE.next_state("returned", "refund") == "refunded"
    for state, action in [
        ("requested", "refund"),
        ("rejected", "approve"),
        ("refunded", "refund"),
        ("shipped_back", "cancel"),
    ]:
        with pytest.raises(InvalidTransition):
            RETURN_MACHINE.next_state(state, action)


def test_units_split_exactly_over_every_partial_refund() -> None:
    line = OrderLine(quantity=3, paid_amount=9999, platform_fee=500)

    parts = [
        services.line_refund_split(line, already=0, quantity=1),
        services.line_refund_split(line, already=1, quantity=2),
    ]

    assert parts == [(3333, 167), (6666, 333)]
    assert sum(a for a, _ in parts) == 9999
    assert sum(f for _, f in parts) == 500


# --- refund only, before shipping -----------------------------------------------------------------


def test_refund_only_before_shipping_refunds_everything_with_shipping_restocks_and_cancels(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # Given a paid order: 2 x 30.00 + 8.00 shipping, platform fee 5% of goods
    order, [sku] = paid_order(django_capture_on_commit_callbacks)
    line = line_of(order)
    assert (order.total, order.platform_fee) == (6800, 300)
    assert counters(sku) == (8, 0, 2)
    assert (payable(order), revenue(), cash()) == (6500, 300, 6800)
    assert ledger_problems() == []

    # When the buyer asks for a refund of every unit
    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line.pk, 2)], reason="Changed my mind"
    )

    # Then it is approved automatically and refunded in full, shipping included
    request.refresh_from_db()
    assert (request.status, request.refund_amount, request.shipping_refund, request.platform_fee_reversed) == (
        "refunded",
        6800,
        800,
        300,
    )
    assert list(request.status_changes.values_list("from_status", "to_status", "action", "actor")) == [
        ("", "requested", "request", order.buyer_id),
        ("requested", "approved", "approve", None),
        ("approved", "refunded", "refund", None),
    ]
    line.refresh_from_db()
    assert (line.refunded_quantity, line.refunded_amount) == (2, 6000)
    assert ReturnLine.objects.get().refund_amount == 6000
    # the sold units are back on sale
    assert counters(sku) == (10, 0, 0)
    # the order is cancelled by the refund
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert order.status_changes.last().action == "refund_cancel"  # type: ignore[union-attr]
    # the money went back through payments, and the books add up to nothing owed
    refund = Refund.objects.get()
    assert (refund.pk, refund.amount, refund.status) == (request.payment_refund_id, 6800, "succeeded")
    assert PaymentIntent.objects.get().amount_refunded == 6800
    assert (payable(order), revenue(), cash()) == (0, 0, 0)
    assert account_balance(code="buyer:clearing", currency="CNY") == 0
    assert ledger_problems() == []


def test_partial_refund_of_one_of_two_units_keeps_the_order_and_the_shipping(
    django_capture_on_commit_callbacks: Any,
) -> None:
    order, [sku] = paid_order(django_capture_on_commit_callbacks)
    line = line_of(order)

    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line.pk, 1)]
    )

    request.refresh_from_db()
    assert (request.status, request.refund_amount, request.shipping_refund, request.platform_fee_reversed) == (
        "refunded",
        3000,
        0,
        150,
    )
    line.refresh_from_db()
    assert (line.refunded_quantity, line.refunded_amount) == (1, 3000)
    assert counters(sku) == (9, 0, 1)
    order.refresh_from_db()
    assert order.status == "paid"
    # the merchant gives back its share (3000 - 150), the platform its fee (150)
    assert (payable(order), revenue(), cash()) == (6500 - 2850, 300 - 150, 6800 - 3000)
    assert ledger_problems() == []

    # When the second unit is refunded too, the order is cancelled and the shipping refunded
    second = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line.pk, 1)]
    )
    second.refresh_from_db()
    assert (second.refund_amount, second.shipping_refund) == (3800, 800)
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert (payable(order), revenue(), cash()) == (0, 0, 0)
    assert counters(sku) == (10, 0, 0)
    assert ledger_problems() == []


def test_a_refund_split_from_a_line_whose_fee_changed_meanwhile_is_a_409_and_writes_nothing(
    django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refund splits from the line as it read it; if a backlog run booked the line's commission
    (and so changed its fee) before the refund's own write, the refund must not go on with the old
    split, which would leave that commission unreversed."""
    from grassroots.orders.services import aftersale

    order, [sku] = paid_order(django_capture_on_commit_callbacks)
    line = line_of(order)
    split = aftersale.commission_refund_shares

    def split_then_backlog_books(**kwargs: Any) -> Any:
        shares = split(**kwargs)
        OrderLine.objects.filter(pk=line.pk).update(platform_fee=line.platform_fee - 100)  # committed meanwhile
        return shares

    monkeypatch.setattr(aftersale, "commission_refund_shares", split_then_backlog_books)
    before = snapshot()

    with pytest.raises(Conflict) as refused:
        services.return_request_create(buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line.pk, 1)])

    assert refused.value.code == "refund_changed"
    assert snapshot() == before
    assert counters(sku) == (8, 0, 2)


def test_odd_amounts_refund_exactly_over_three_partial_refunds(django_capture_on_commit_callbacks: Any) -> None:
    # 3 x 33.33 = 99.99, fee 5% = 5.00; no shipping
    order, _skus = paid_order(django_capture_on_commit_callbacks, lines=((3333, 3),), shipping_fee=0)
    line = line_of(order)
    assert (line.paid_amount, line.platform_fee) == (9999, 500)

    amounts = []
    for _ in range(3):
        request = services.return_request_create(
            buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line.pk, 1)]
        )
        request.refresh_from_db()
        amounts.append((request.refund_amount, request.platform_fee_reversed))
        assert ledger_problems() == []

    assert amounts == [(3333, 167), (3333, 167), (3333, 166)]
    line.refresh_from_db()
    assert (line.refunded_quantity, line.refunded_amount) == (3, 9999)
    assert (payable(order), revenue(), cash()) == (0, 0, 0)


def test_two_partial_refunds_cannot_exceed_what_was_paid(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    line = line_of(order)
    services.return_request_create(buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line.pk, 1)])
    before = snapshot()

    with pytest.raises(ValidationFailed) as error:
        services.return_request_create(buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line.pk, 2)])

    assert error.value.code == "refund_exceeds_paid"
    assert error.value.fields == {str(line.pk): 1}
    assert snapshot() == before
    assert ledger_problems() == []


def test_refund_only_with_manual_approval_waits_for_the_merchant(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.GRASSROOTS = {**settings.GRASSROOTS, "REFUND_ONLY_AUTO_APPROVE": False}
    order, [sku] = paid_order(django_capture_on_commit_callbacks)
    line = line_of(order)

    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line.pk, 2)]
    )
    assert (request.status, Refund.objects.count(), counters(sku)) == ("requested", 0, (8, 0, 2))

    services.return_approve(actor=owner_of(order), return_id=request.pk)

    request.refresh_from_db()
    assert (request.status, request.refund_amount) == ("refunded", 6800)
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert counters(sku) == (10, 0, 0)
    assert ledger_problems() == []


def test_refund_only_is_refused_once_shipped(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    owner = owner_of(order)
    services.order_ship(actor=owner, order=order, carrier="SF", tracking_number="SF1234567")
    before = snapshot()

    with pytest.raises(ValidationFailed) as error:
        services.return_request_create(
            buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line_of(order).pk, 1)]
        )

    assert error.value.code == "refund_only_not_allowed"
    assert snapshot() == before


def test_an_open_refund_only_request_keeps_the_order_from_shipping_until_it_is_decided(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.GRASSROOTS = {**settings.GRASSROOTS, "REFUND_ONLY_AUTO_APPROVE": False}
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line_of(order).pk, 1)]
    )
    before = snapshot()

    # The buyer asked for their money before shipping: the merchant decides that first.
    with pytest.raises(Conflict) as error:
        services.order_ship(actor=owner_of(order), order=order, carrier="SF", tracking_number="SF1234567")
    assert error.value.code == "refund_requested"
    assert snapshot() == before
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID

    # Rejected, the order ships as usual.
    services.return_reject(actor=owner_of(order), return_id=request.pk, reason="Already packed")
    shipped = services.order_ship(actor=owner_of(order), order=order, carrier="SF", tracking_number="SF1234567")
    assert shipped.status == Order.Status.SHIPPED


def test_a_withdrawn_or_refunded_refund_only_request_does_not_hold_the_shipment(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.GRASSROOTS = {**settings.GRASSROOTS, "REFUND_ONLY_AUTO_APPROVE": False}
    order, _skus = paid_order(django_capture_on_commit_callbacks, lines=((3000, 2),))
    withdrawn = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line_of(order).pk, 1)]
    )
    services.return_cancel(buyer=order.buyer, return_id=withdrawn.pk)
    approved = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line_of(order).pk, 1)]
    )
    assert services.return_approve(actor=owner_of(order), return_id=approved.pk).status == "refunded"

    shipped = services.order_ship(actor=owner_of(order), order=order, carrier="SF", tracking_number="SF1234567")
    assert shipped.status == Order.Status.SHIPPED
    assert line_of(order).refunded_quantity == 1


def test_a_refund_only_request_left_open_on_a_shipped_order_cannot_be_approved(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Shipping is refused while such a request is open; an order already shipped with one (data
    from before that rule) still cannot be refunded as if nothing had left."""
    settings.GRASSROOTS = {**settings.GRASSROOTS, "REFUND_ONLY_AUTO_APPROVE": False}
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line_of(order).pk, 1)]
    )
    Order.objects.filter(pk=order.pk).update(status=Order.Status.SHIPPED, shipped_at=timezone.now())
    before = snapshot()

    with pytest.raises(Conflict) as error:
        services.return_approve(actor=owner_of(order), return_id=request.pk)

    assert error.value.code == "order_shipped"
    assert snapshot() == before
    assert services.return_reject(actor=owner_of(order), return_id=request.pk, reason="Already shipped").status == (
        "rejected"
    )


# --- returns after delivery -----------------------------------------------------------------------


def test_a_return_after_delivery_is_approved_sent_back_received_and_refunded(
    django_capture_on_commit_callbacks: Any,
) -> None:
    order, [sku] = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order, days_ago=3)
    line = line_of(order)
    owner = owner_of(order)
    assert (payable(order), revenue()) == (6500, 300)

    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line.pk, 2)], reason="Too small"
    )
    assert (request.status, ledger_problems()) == ("requested", [])
    services.return_approve(actor=owner, return_id=request.pk)
    services.return_ship_back(buyer=order.buyer, return_id=request.pk, carrier="YTO", tracking_number="YT9876543")
    assert counters(sku) == (8, 0, 2)  # nothing back on sale before the merchant has it
    services.return_receive(actor=owner, return_id=request.pk)

    request.refresh_from_db()
    assert (request.status, request.refund_amount, request.shipping_refund, request.platform_fee_reversed) == (
        "refunded",
        6000,
        0,
        300,
    )
    assert (request.carrier, request.tracking_number) == ("YTO", "YT9876543")
    assert list(request.status_changes.values_list("to_status", "action")) == [
        ("requested", "request"),
        ("approved", "approve"),
        ("shipped_back", "ship_back"),
        ("returned", "receive"),
        ("refunded", "refund"),
    ]
    assert counters(sku) == (10, 0, 0)
    # the merchant's payable drops by exactly its share of the goods (6000 - 300); it keeps the shipping
    assert (payable(order), revenue(), cash()) == (800, 0, 800)
    assert Refund.objects.get().amount == 6000
    order.refresh_from_db()
    assert order.status == "delivered"  # a return does not cancel a delivered order
    assert ledger_problems() == []


def test_the_merchant_may_receive_without_tracking(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks, lines=((3000, 2), (1000, 1)))
    order = delivered(order)
    owner = owner_of(order)
    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order, 1).pk, 1)]
    )
    services.return_approve(actor=owner, return_id=request.pk)

    services.return_receive(actor=owner, return_id=request.pk)

    request.refresh_from_db()
    assert (request.status, request.refund_amount, request.platform_fee_reversed) == ("refunded", 1000, 50)
    assert ledger_problems() == []


def test_a_return_after_the_window_is_refused_and_writes_nothing(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order, days_ago=7.01)
    before = snapshot()

    with pytest.raises(ValidationFailed) as error:
        services.return_request_create(
            buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order).pk, 1)]
        )

    assert error.value.code == "return_window_closed"
    assert snapshot() == before


def test_an_eu_style_window_of_14_days_allows_a_later_return(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.GRASSROOTS = {**settings.GRASSROOTS, "RETURN_WINDOW_DAYS": 14}
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order, days_ago=13)

    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order).pk, 1)]
    )

    assert request.status == "requested"


def test_a_return_before_delivery_is_refused(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    services.order_ship(actor=owner_of(order), order=order, carrier="SF", tracking_number="SF1234567")

    with pytest.raises(ValidationFailed) as error:
        services.return_request_create(
            buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order).pk, 1)]
        )

    assert error.value.code == "not_delivered"
    assert ReturnRequest.objects.count() == 0


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ([], "no_items"),
        ([(999_999, 1)], "unknown_line"),
        ([("x", 1)], "invalid"),
        ([(1,)], "invalid"),
        ([1, 2], "invalid"),
        (None, "no_items"),
    ],
)
def test_bad_lines_are_refused(django_capture_on_commit_callbacks: Any, lines: Any, code: str) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    before = snapshot()

    with pytest.raises(ValidationFailed) as error:
        services.return_request_create(buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=lines)

    assert error.value.code == code
    assert snapshot() == before


@pytest.mark.parametrize("quantity", [0, -1, 100, "abc", 1.5, True, None])
def test_bad_quantities_are_refused(django_capture_on_commit_callbacks: Any, quantity: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    before = snapshot()

    with pytest.raises(ValidationFailed):
        services.return_request_create(
            buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line_of(order).pk, quantity)]
        )

    assert snapshot() == before


def test_one_open_return_per_line(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order)
    line = line_of(order)
    services.return_request_create(buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line.pk, 1)])
    before = snapshot()

    with pytest.raises(Conflict) as error:
        services.return_request_create(buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line.pk, 1)])

    assert error.value.code == "return_already_open"
    assert snapshot() == before


def test_someone_elses_order_or_return_is_not_found(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order)
    stranger = UserFactory()
    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order).pk, 1)]
    )
    before = snapshot()

    with pytest.raises(NotFound):
        services.return_request_create(buyer=stranger, order_id=order.pk, kind="return", lines=[(line_of(order).pk, 1)])
    with pytest.raises(NotFound):
        services.return_ship_back(buyer=stranger, return_id=request.pk, carrier="SF", tracking_number="SF1234567")
    with pytest.raises(NotFound):
        services.return_cancel(buyer=stranger, return_id=request.pk)

    assert snapshot() == before


def test_a_merchant_of_another_shop_cannot_decide(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order)
    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order).pk, 1)]
    )
    other = MerchantFactory().owner
    before = snapshot()

    for act in (
        lambda: services.return_approve(actor=other, return_id=request.pk),
        lambda: services.return_reject(actor=other, return_id=request.pk, reason="no"),
        lambda: services.return_receive(actor=other, return_id=request.pk),
        lambda: services.return_approve(actor=order.buyer, return_id=request.pk),
    ):
        with pytest.raises(NotFound):
            act()

    assert snapshot() == before
    # staff of the right merchant may decide
    staff = MerchantMemberFactory(merchant=order.merchant).user
    assert services.return_approve(actor=staff, return_id=request.pk).status == "approved"


def test_rejecting_needs_a_reason_and_frees_the_units(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order)
    line = line_of(order)
    request = services.return_request_create(buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line.pk, 2)])
    before = snapshot()

    with pytest.raises(ValidationFailed) as error:
        services.return_reject(actor=owner_of(order), return_id=request.pk, reason="  <b></b> ")
    assert (error.value.code, snapshot()) == ("reason_required", before)

    services.return_reject(actor=owner_of(order), return_id=request.pk, reason="Worn and washed")

    request.refresh_from_db()
    assert (request.status, request.reject_reason) == ("rejected", "Worn and washed")
    assert request.status_changes.last().note == "Worn and washed"  # type: ignore[union-attr]
    # a rejected request holds nothing: the buyer may ask again within the window
    again = services.return_request_create(buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line.pk, 2)])
    assert again.status == "requested"
    with pytest.raises(InvalidTransition):
        services.return_receive(actor=owner_of(order), return_id=request.pk)


def test_receiving_twice_refunds_once(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order)
    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order).pk, 1)]
    )
    services.return_approve(actor=owner_of(order), return_id=request.pk)
    services.return_receive(actor=owner_of(order), return_id=request.pk)
    before = snapshot()

    with pytest.raises(InvalidTransition):
        services.return_receive(actor=owner_of(order), return_id=request.pk)

    assert snapshot() == before
    assert Refund.objects.count() == 1
    assert ledger_problems() == []


def test_a_withdrawn_return_frees_the_units(django_capture_on_commit_callbacks: Any) -> None:
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order)
    line = line_of(order)
    request = services.return_request_create(buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line.pk, 2)])
    services.return_approve(actor=owner_of(order), return_id=request.pk)

    services.return_cancel(buyer=order.buyer, return_id=request.pk)

    request.refresh_from_db()
    assert request.status == "cancelled"
    assert services.open_quantities(order_line_ids=[line.pk]) == {}


# --- completion -----------------------------------------------------------------------------------


def test_auto_completion_waits_for_the_window_and_for_open_returns(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.GRASSROOTS = {**settings.GRASSROOTS, "ORDER_AUTO_COMPLETE_DAYS": 3, "RETURN_WINDOW_DAYS": 7}
    with_return, _ = paid_order(django_capture_on_commit_callbacks)
    with_return = delivered(with_return, days_ago=6)
    plain, _ = paid_order(django_capture_on_commit_callbacks)
    plain = delivered(plain, days_ago=6)
    request = services.return_request_create(
        buyer=with_return.buyer, order_id=with_return.pk, kind="return", lines=[(line_of(with_return).pk, 1)]
    )

    # Within the window nothing completes, though ORDER_AUTO_COMPLETE_DAYS has passed
    assert services.orders_auto_complete() == 0
    # After the window only the order without an open return completes
    later = timezone.now() + timedelta(days=2)
    assert services.orders_auto_complete(now=later) == 1
    assert Order.objects.get(pk=plain.pk).status == "completed"
    assert Order.objects.get(pk=with_return.pk).status == "delivered"

    # Once the return is decided and refunded, the order completes on the next sweep
    services.return_approve(actor=owner_of(with_return), return_id=request.pk)
    services.return_receive(actor=owner_of(with_return), return_id=request.pk)
    assert services.orders_auto_complete(now=later) == 1
    assert Order.objects.get(pk=with_return.pk).status == "completed"
    assert ledger_problems() == []
