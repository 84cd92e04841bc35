"""Real parallel connections: refunds of one line never add up to more than was paid, and a
return is refunded once however many members press "received" at the same time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from grassroots.core.errors import ServiceError
from grassroots.ledger.selectors import ledger_problems
from grassroots.merchants.tests.factories import MerchantMemberFactory
from grassroots.orders import services
from grassroots.orders.models import Order, ReturnRequest
from grassroots.orders.tests.test_aftersale import counters, delivered, line_of, owner_of, paid_order
from grassroots.payments.models import PaymentIntent, Refund

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

WORKERS = 8


def _race(jobs: list[Callable[[], Any]]) -> list[str]:
    """Run each job in its own thread and connection, all released at once; returns "ok" or the
    error code of each."""
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(jobs))

    def worker(job: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            try:
                job()
                outcome = "ok"
            except ServiceError as error:
                outcome = error.code
            with lock:
                outcomes.append(outcome)
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return outcomes


def test_parallel_refunds_of_one_line_never_exceed_what_was_paid(django_capture_on_commit_callbacks: Any) -> None:
    order, [sku] = paid_order(django_capture_on_commit_callbacks, lines=((3000, 2),))
    line = line_of(order)

    outcomes = _race(
        [
            lambda: services.return_request_create(
                buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line.pk, 1)]
            )
            for _ in range(WORKERS)
        ]
    )

    # the two units are refunded, the second refund cancels the order, the rest find it cancelled
    assert sorted(outcomes) == ["not_returnable"] * (WORKERS - 2) + ["ok"] * 2
    line.refresh_from_db()
    assert (line.refunded_quantity, line.refunded_amount) == (2, 6000)
    assert sorted(ReturnRequest.objects.values_list("refund_amount", flat=True)) == [3000, 3800]
    assert Refund.objects.count() == 2
    assert PaymentIntent.objects.get().amount_refunded == 6800
    assert Order.objects.get(pk=order.pk).status == "cancelled"
    assert counters(sku) == (10, 0, 0)
    assert ledger_problems() == []


def test_parallel_partial_refunds_stop_at_the_units_bought(django_capture_on_commit_callbacks: Any) -> None:
    # 3 x 33.33 and another line that stays, so the order is never cancelled
    order, [sku, _other] = paid_order(django_capture_on_commit_callbacks, lines=((3333, 3), (1000, 1)))
    line = line_of(order)

    outcomes = _race(
        [
            lambda: services.return_request_create(
                buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line.pk, 1)]
            )
            for _ in range(WORKERS)
        ]
    )

    assert sorted(outcomes) == ["ok"] * 3 + ["refund_exceeds_paid"] * (WORKERS - 3)
    line.refresh_from_db()
    assert (line.refunded_quantity, line.refunded_amount) == (3, 9999)
    assert sorted(ReturnRequest.objects.values_list("refund_amount", flat=True)) == [3333, 3333, 3333]
    assert PaymentIntent.objects.get().amount_refunded == 9999
    assert Order.objects.get(pk=order.pk).status == "paid"
    assert counters(sku) == (10, 0, 0)
    assert ledger_problems() == []


def test_parallel_receipts_refund_once(django_capture_on_commit_callbacks: Any) -> None:
    order, [sku] = paid_order(django_capture_on_commit_callbacks)
    order = delivered(order)
    request = services.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order).pk, 2)]
    )
    services.return_approve(actor=owner_of(order), return_id=request.pk)
    members = [owner_of(order)] + [MerchantMemberFactory(merchant=order.merchant).user for _ in range(WORKERS - 1)]

    outcomes = _race([lambda user=user: services.return_receive(actor=user, return_id=request.pk) for user in members])

    assert outcomes.count("ok") == 1
    assert set(outcomes) - {"ok"} <= {"invalid_transition", "return_changed"}
    request.refresh_from_db()
    assert (request.status, request.refund_amount) == ("refunded", 6000)
    assert Refund.objects.count() == 1
    assert counters(sku) == (10, 0, 0)
    assert ledger_problems() == []


@pytest.mark.parametrize("seed", range(3))
def test_a_refund_request_and_the_shipment_racing_never_both_win(
    seed: int, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """With manual approval, the buyer asks for a refund while the merchant ships: either the order
    ships and the request is refused, or the request is open and the shipment is refused."""
    settings.GRASSROOTS = {**settings.GRASSROOTS, "REFUND_ONLY_AUTO_APPROVE": False}
    order, _skus = paid_order(django_capture_on_commit_callbacks)
    line = line_of(order)
    owner = owner_of(order)

    outcomes = _race(
        [
            lambda: services.return_request_create(
                buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=[(line.pk, 1)]
            ),
            lambda: services.order_ship(actor=owner, order=order, carrier="SF", tracking_number="SF1234567"),
        ]
    )

    shipped = Order.objects.get(pk=order.pk).status == Order.Status.SHIPPED
    requested = ReturnRequest.objects.filter(order=order, status="requested").exists()
    assert shipped != requested, (outcomes, seed)
    expected = ["ok", "refund_only_not_allowed"] if shipped else ["ok", "refund_requested"]
    assert sorted(outcomes) == sorted(expected)
