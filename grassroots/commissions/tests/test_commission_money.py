"""Commission money over time: refunds before settlement, settlement after the return window,
claw-back of withdrawn money as a receivable, and the review of held lines. The books balance
(ledger_problems() == []) after every step."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grassroots.accounts.models import User
from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.commissions.models import CommissionLine, CommissionSettlement
from grassroots.commissions.services import (
    SettlementResult,
    commission_reject,
    commission_release,
    commissions_settle_due,
)
from grassroots.commissions.tasks import settle_commissions
from grassroots.commissions.tests.test_commission_helpers import (
    add_to_shop,
    balances,
    books_balance,
    buy,
    buyer_with_address,
    click,
    deliver,
    payable,
    product_with_rate,
    refund_before_shipping,
    return_after_delivery,
    revenue,
    shop_of,
)
from grassroots.core.errors import PermissionDenied, ValidationFailed
from grassroots.core.state_machine import InvalidTransition
from grassroots.ledger.models import JournalEntry
from grassroots.ledger.selectors import account_balance
from grassroots.ledger.services import journal_entry_post
from grassroots.ledger.splits import allocate_proportionally, split_line
from grassroots.ledger.types import PostingSpec
from grassroots.notifications.models import Notification
from grassroots.orders import services as orders
from grassroots.orders.models import Order, OrderLine, ReturnLine
from grassroots.orders.tests.factories import ShippingRuleFactory

pytestmark = pytest.mark.django_db

ZERO = {"pending": 0, "held": 0, "available": 0, "withdrawing": 0, "receivable": 0, "withdrawn_total": 0}


def owed(**amounts: int) -> dict[str, int]:
    return {**ZERO, **amounts}


def keeper_with_inviter() -> tuple[Any, Any]:
    inviter = UserFactory()
    shop_of(inviter)
    return UserFactory(invited_by=inviter), inviter


def sale(
    capture: Any, *, price: int = 10000, quantity: int = 2, rate_bps: int = 1000, shipping: int = 0, keeper: Any = None
) -> tuple[Order, Any]:
    """A paid order of one product bought through `keeper`'s (or a new shopkeeper's) shop link."""
    product, sku = product_with_rate(price=price, rate_bps=rate_bps)
    if shipping:
        ShippingRuleFactory(merchant=product.merchant, flat_fee=shipping)
    if keeper is None:
        keeper, _inviter = keeper_with_inviter()
    shop = keeper.shop if hasattr(keeper, "shop") else shop_of(keeper)
    add_to_shop(shop, product)
    device = f"device-{product.pk:019d}"
    click(shop, device=device)
    order = buy(buyer_with_address(), [(sku, quantity)], capture, device=device)
    return order, keeper


def line_of(order: Order) -> OrderLine:
    return OrderLine.objects.get(order=order)


def withdraw(user: Any, amount: int) -> None:
    """What the withdrawals flow books: available -> withdrawing, then paid out through the gateway."""
    code = f"shopkeeper:{user.pk}"
    journal_entry_post(
        idempotency_key=f"test-withdraw:{user.pk}:{amount}",
        kind="withdrawal_request",
        postings=[
            PostingSpec(account=f"{code}:available", amount=amount, currency="CNY"),
            PostingSpec(account=f"{code}:withdrawing", amount=-amount, currency="CNY"),
        ],
    )
    journal_entry_post(
        idempotency_key=f"test-withdraw-paid:{user.pk}:{amount}",
        kind="withdrawal_paid",
        postings=[
            PostingSpec(account=f"{code}:withdrawing", amount=amount, currency="CNY"),
            PostingSpec(account="gateway:cash", amount=-amount, currency="CNY"),
        ],
    )


# --- refunds before settlement --------------------------------------------------------------------


def test_a_full_refund_before_settlement_reverses_everything_exactly(django_capture_on_commit_callbacks: Any) -> None:
    # Given a paid sale with commission, override and shipping
    order, keeper = sale(django_capture_on_commit_callbacks, shipping=800)
    inviter = keeper.invited_by
    assert balances(keeper) == owed(pending=2000)
    assert balances(inviter) == owed(pending=100)
    assert payable(order.merchant_id) == 17000 + 800

    # When the buyer is refunded every unit before shipping
    request = refund_before_shipping(order, [(line_of(order).pk, 2)])

    # Then every account is back to zero, and the commission line says so
    assert request.refund_amount == 20800
    assert balances(keeper) == ZERO
    assert balances(inviter) == ZERO
    assert payable(order.merchant_id) == 0
    assert revenue() == 0
    assert account_balance(code="gateway:cash", currency="CNY") == 0
    commission = CommissionLine.objects.get(order=order)
    assert (commission.status, commission.commission_reversed, commission.override_reversed) == ("reversed", 2000, 100)
    assert ReturnLine.objects.get().platform_fee == request.platform_fee_reversed == 900
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    books_balance()


@pytest.mark.parametrize(
    ("price", "quantity", "rate_bps", "parts"),
    [
        (3333, 3, 1500, [1, 2]),
        (1, 3, 8000, [1, 1, 1]),
        (9999, 7, 100, [3, 1, 3]),
        (12345, 2, 2500, [1, 1]),
    ],
)
def test_partial_refunds_add_up_to_exactly_what_was_booked(
    django_capture_on_commit_callbacks: Any, price: int, quantity: int, rate_bps: int, parts: list[int]
) -> None:
    order, keeper = sale(django_capture_on_commit_callbacks, price=price, quantity=quantity, rate_bps=rate_bps)
    inviter = keeper.invited_by
    line = line_of(order)
    commission = CommissionLine.objects.get(order=order)
    booked = (commission.commission_amount, commission.override_amount)
    units = allocate_proportionally(line.paid_amount, [1] * quantity)
    done = 0
    for part in parts:
        refund_before_shipping(order, [(line.pk, part)])
        done += part
        # what was taken back is the split of what the refunded units cost
        whole = split_line(
            paid=sum(units[:done]),
            platform_fee_bps=commission.platform_fee_bps,
            commission_bps=rate_bps,
            override_bps_of_fee=commission.override_bps,
            has_shopkeeper=True,
            has_override=True,
        )
        commission.refresh_from_db()
        assert (commission.commission_reversed, commission.override_reversed) == (whole.commission, whole.override)
        assert balances(keeper)["pending"] == booked[0] - whole.commission
        assert balances(inviter)["pending"] == booked[1] - whole.override
        books_balance()
    assert balances(keeper) == ZERO
    assert balances(inviter) == ZERO
    assert payable(order.merchant_id) == 0
    assert revenue() == 0
    assert commission.status == "reversed"


def test_a_refund_of_a_held_line_comes_out_of_held(django_capture_on_commit_callbacks: Any) -> None:
    keeper = buyer_with_address(line1="3 Same Street")
    product, sku = product_with_rate(rate_bps=1000)
    shop = shop_of(keeper, product)
    click(shop)
    order = buy(buyer_with_address(line1="3 Same Street"), [(sku, 2)], django_capture_on_commit_callbacks)
    assert balances(keeper) == owed(held=2000)

    refund_before_shipping(order, [(line_of(order).pk, 1)])

    assert balances(keeper) == owed(held=1000)
    assert CommissionLine.objects.get().status == "held"
    books_balance()


# --- settlement -----------------------------------------------------------------------------------


def test_settlement_after_the_window_moves_pending_to_available_once(django_capture_on_commit_callbacks: Any) -> None:
    # Given a sale delivered 8 days ago (window: 7) and one delivered 6 days ago
    due, keeper = sale(django_capture_on_commit_callbacks)
    recent, _keeper = sale(django_capture_on_commit_callbacks, keeper=keeper)
    inviter = keeper.invited_by
    deliver(due, days_ago=8)
    deliver(recent, days_ago=6)
    now = timezone.now()

    # When settlement runs, twice
    with django_capture_on_commit_callbacks(execute=True):
        first = commissions_settle_due(now=now)
    books_balance()
    with django_capture_on_commit_callbacks(execute=True):
        second = commissions_settle_due(now=now)

    # Then only the due line moved, once, in one entry per beneficiary
    assert first == SettlementResult(lines=1, entries=2, amount=2100, netted=0)
    assert second == SettlementResult()
    assert balances(keeper) == owed(pending=2000, available=2000)
    assert balances(inviter) == owed(pending=100, available=100)
    settled = CommissionLine.objects.get(order=due)
    assert (settled.status, settled.settled_at, settled.available_at) == ("available", now, now)
    assert CommissionLine.objects.get(order=recent).status == "pending"
    assert JournalEntry.objects.filter(kind="commission_settlement").count() == 2
    assert CommissionSettlement.objects.count() == 1  # the empty second run wrote nothing
    books_balance()
    # Each beneficiary is told once that the money is available to withdraw
    told = Notification.objects.filter(kind="commission_available").order_by("recipient_id")
    assert sorted((n.recipient_id, n.data["amount"]) for n in told) == sorted([(keeper.pk, 2000), (inviter.pk, 100)])

    # And the recent one settles once its own window has passed
    assert commissions_settle_due(now=now + timedelta(days=2)).lines == 1
    assert balances(keeper) == owed(available=4000)
    books_balance()


def test_settlement_waits_for_an_open_return(django_capture_on_commit_callbacks: Any) -> None:
    order, keeper = sale(django_capture_on_commit_callbacks)
    deliver(order)
    orders.return_request_create(
        buyer=order.buyer, order_id=order.pk, kind="return", lines=[(line_of(order).pk, 1)], reason="Too small"
    )

    assert commissions_settle_due(now=timezone.now() + timedelta(days=30)) == SettlementResult()

    assert balances(keeper) == owed(pending=2000)
    assert CommissionLine.objects.get().status == "pending"


def test_settlement_runs_from_the_command_and_the_task(django_capture_on_commit_callbacks: Any) -> None:
    order, keeper = sale(django_capture_on_commit_callbacks)
    deliver(order, days_ago=8)
    out = StringIO()

    call_command("settle_commissions", stdout=out)
    settle_commissions.enqueue()

    assert out.getvalue().strip() == (
        "settled 1 commission lines in 2 entries: 2100 minor units, 0 of them against receivables"
    )
    assert balances(keeper) == owed(available=2000)
    books_balance()


def test_shards_settle_disjoint_shopkeepers_and_together_settle_everything(
    django_capture_on_commit_callbacks: Any,
) -> None:
    sales = [sale(django_capture_on_commit_callbacks) for _ in range(4)]
    for order, _keeper in sales:
        deliver(order, days_ago=8)
    keepers = [keeper for _order, keeper in sales]
    now = timezone.now()
    out = StringIO()

    first = commissions_settle_due(now=now, shard=(0, 2))
    settled_first = set(CommissionLine.objects.filter(status="available").values_list("shopkeeper_id", flat=True))
    call_command("settle_commissions", "--shard", "1/2", stdout=out)

    assert settled_first == {keeper.pk for keeper in keepers if keeper.pk % 2 == 0}
    assert first.lines == len(settled_first)
    assert CommissionLine.objects.filter(status="pending").count() == 0
    assert commissions_settle_due(now=now) == SettlementResult()
    assert out.getvalue().startswith(f"settled {4 - first.lines} commission lines")
    for keeper in keepers:
        assert balances(keeper)["available"] == 2000
    books_balance()


@pytest.mark.parametrize("value", ["2/2", "1", "a/b", "-1/2", "0/0"])
def test_a_bad_shard_is_refused_clearly(value: str) -> None:
    with pytest.raises(CommandError, match="--shard is i/n"):
        call_command("settle_commissions", f"--shard={value}")
    with pytest.raises(ValidationFailed):
        commissions_settle_due(shard=(2, 2))


def test_a_chunk_that_meets_a_deadlock_is_retried_and_other_errors_are_not(
    django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    from grassroots.commissions import services as commissions

    order, keeper = sale(django_capture_on_commit_callbacks)
    deliver(order, days_ago=8)
    real, calls = commissions._settle_chunk, []

    def failing_first(state: str) -> Any:
        def chunk(**kwargs: Any) -> Any:
            calls.append(state)
            if len(calls) == 1:
                cause = Exception(state)
                cause.sqlstate = state  # type: ignore[attr-defined]  # as psycopg's errors carry it
                raise OperationalError("simulated") from cause
            return real(**kwargs)

        return chunk

    monkeypatch.setattr(commissions, "_settle_chunk", failing_first("57014"))  # query cancelled: not retried
    with pytest.raises(OperationalError):
        commissions_settle_due(now=timezone.now())
    assert calls == ["57014"]
    calls.clear()
    monkeypatch.setattr(commissions, "_settle_chunk", failing_first("40P01"))  # deadlock: tried again

    assert commissions_settle_due(now=timezone.now()).lines == 1
    assert calls == ["40P01", "40P01"]
    assert balances(keeper) == owed(available=2000)
    books_balance()


def test_settlement_costs_the_same_queries_for_1_and_8_lines(django_capture_on_commit_callbacks: Any) -> None:
    keeper, _inviter = keeper_with_inviter()
    counts = []
    # The first run also creates the available accounts; compare the runs after it.
    for size in (1, 1, 8):
        orders_ = [sale(django_capture_on_commit_callbacks, keeper=keeper)[0] for _ in range(size)]
        for order in orders_:
            deliver(order, days_ago=8)
        with CaptureQueriesContext(connection) as captured:
            result = commissions_settle_due(now=timezone.now())
        assert result.lines == size
        counts.append(len(captured.captured_queries))
    assert counts[1] == counts[2], counts
    books_balance()


# --- refunds after settlement ---------------------------------------------------------------------


def test_a_refund_after_withdrawal_becomes_a_receivable_netted_by_the_next_settlement(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # Given a settled sale whose commission the shopkeeper withdrew
    order, keeper = sale(django_capture_on_commit_callbacks)
    inviter = keeper.invited_by
    deliver(order)
    later = timezone.now() + timedelta(days=8)
    commissions_settle_due(now=later)
    withdraw(keeper, 2000)
    books_balance()
    assert balances(keeper) == owed(withdrawn_total=2000)
    assert balances(inviter) == owed(available=100)

    # When one of the two units comes back inside the return window
    return_after_delivery(order, [(line_of(order).pk, 1)])

    # Then the shopkeeper owes what was withdrawn; the inviter's override comes out of available
    assert balances(keeper) == owed(receivable=1000, withdrawn_total=2000)
    assert balances(inviter) == owed(available=50)
    commission = CommissionLine.objects.get(order=order)
    assert (commission.status, commission.commission_reversed, commission.override_reversed) == ("available", 1000, 50)
    assert payable(order.merchant_id) == 17000 - 8500
    books_balance()

    # And the next settlement pays the receivable first
    second, _keeper = sale(django_capture_on_commit_callbacks, keeper=keeper)
    deliver(second, days_ago=8)
    result = commissions_settle_due(now=timezone.now())
    assert result == SettlementResult(lines=1, entries=2, amount=2100, netted=1000)
    assert balances(keeper) == owed(available=1000, withdrawn_total=2000)
    assert balances(inviter) == owed(available=150)
    books_balance()


def test_a_refund_after_settlement_comes_out_of_available_first(django_capture_on_commit_callbacks: Any) -> None:
    order, keeper = sale(django_capture_on_commit_callbacks)
    deliver(order)
    commissions_settle_due(now=timezone.now() + timedelta(days=8))

    return_after_delivery(order, [(line_of(order).pk, 2)])

    assert balances(keeper) == ZERO
    assert balances(keeper.invited_by) == ZERO
    assert CommissionLine.objects.get().status == "reversed"
    assert payable(order.merchant_id) == 0
    assert revenue() == 0
    books_balance()


# --- review of held lines -------------------------------------------------------------------------


def held_sale(capture: Any) -> tuple[Order, Any, Any]:
    """A sale shipped to the shopkeeper's own default address: held for review."""
    inviter = UserFactory()
    shop_of(inviter)
    keeper = buyer_with_address(line1="5 Shared Lane")
    keeper.invited_by = inviter
    keeper.save(update_fields=["invited_by"])
    product, sku = product_with_rate(rate_bps=1000)
    shop = shop_of(keeper, product)
    click(shop)
    order = buy(buyer_with_address(line1="5 Shared Lane"), [(sku, 2)], capture)
    return order, keeper, inviter


def test_held_lines_wait_for_release_before_they_settle(django_capture_on_commit_callbacks: Any) -> None:
    order, keeper, inviter = held_sale(django_capture_on_commit_callbacks)
    deliver(order, days_ago=8)
    assert balances(keeper) == owed(held=2000)
    assert balances(inviter) == owed(held=100)

    assert commissions_settle_due(now=timezone.now()) == SettlementResult()
    assert balances(keeper) == owed(held=2000)

    # A shopkeeper cannot release their own line, nor their inviter, even as curators
    with pytest.raises(PermissionDenied):
        commission_release(line=CommissionLine.objects.get().pk, actor=keeper)
    for earner in (keeper, inviter):
        earner.user_permissions.add(Permission.objects.get(codename="curator", content_type__app_label="accounts"))
        earner = User.objects.get(pk=earner.pk)  # a fresh permission cache
        for decide in (commission_release, commission_reject):
            with pytest.raises(PermissionDenied) as own:
                decide(line=CommissionLine.objects.get().pk, actor=earner)
            assert own.value.code == "own_commission"
    assert CommissionLine.objects.get().status == "held"

    curator = CuratorFactory()
    released = commission_release(line=CommissionLine.objects.get().pk, actor=curator)
    assert (released.status, released.decided_by_id) == ("pending", curator.pk)
    assert balances(keeper) == owed(pending=2000)
    assert balances(inviter) == owed(pending=100)
    books_balance()
    with pytest.raises(InvalidTransition):
        commission_release(line=released.pk, actor=curator)

    assert commissions_settle_due(now=timezone.now()).lines == 1
    assert balances(keeper) == owed(available=2000)
    assert balances(inviter) == owed(available=100)
    books_balance()


def test_a_rejected_line_pays_nobody_and_a_later_refund_still_adds_up(django_capture_on_commit_callbacks: Any) -> None:
    order, keeper, inviter = held_sale(django_capture_on_commit_callbacks)

    rejected = commission_reject(line=CommissionLine.objects.get().pk, actor=CuratorFactory())

    assert (rejected.status, rejected.commission_reversed, rejected.override_reversed) == ("rejected", 2000, 100)
    assert balances(keeper) == ZERO
    assert balances(inviter) == ZERO
    assert payable(order.merchant_id) == 19000  # the merchant gets its commission back
    assert revenue() == 1000  # the platform its override
    books_balance()
    assert commissions_settle_due(now=timezone.now() + timedelta(days=30)) == SettlementResult()

    refund_before_shipping(order, [(line_of(order).pk, 1)])
    assert payable(order.merchant_id) == 9500
    assert revenue() == 500
    books_balance()
    refund_before_shipping(order, [(line_of(order).pk, 1)])
    assert payable(order.merchant_id) == 0
    assert revenue() == 0
    assert balances(keeper) == ZERO
    books_balance()
