"""Random sequences of checkout, pay, cancel, expiry, shipping, returns and (partial) refunds, run
against an exact model of the money and the stock, through the real services.

After every step: every journal entry sums to zero and every cached balance equals its replay
(`ledger_problems`), each ledger balance equals the model's, stock + reserved + sold equals the
initial stock of each SKU, refunds never exceed captures (per intent, per order, per line), no
counter is negative, and every status and audit count is what the model expects. A refused step
must change nothing.

The simulated gateway delivers its webhook in an on-commit callback. Each example runs inside a
savepoint of the test transaction (rolled back at the end), so nothing commits: every step runs its
on-commit callbacks as a commit would (`TestCase.captureOnCommitCallbacks(execute=True)`), except
"pay_later", which keeps the webhook to deliver in a later step, so cancel or expiry can happen
while a payment is in flight.

Time: checkouts are placed, expired and completed against a fake clock (`self.now`); a "time
passes" step may or may not run the expiry or auto-complete job, so a checkout can be paid or
cancelled after its deadline but before the job has run, as with a cron job.

Steps: one rule draws the step itself (see `step`), favouring the later stages of an order; a
"misuse" step aims any step at any object (ship an unpaid order, receive a refunded return, ...)
and expects the right refusal with nothing written.

Reproducible: both tests are derandomized (a fixed seed derived from the test, no example
database), so CI and a laptop run the same examples. To explore new sequences locally:

    GRASSROOTS_HYPOTHESIS_EXPLORE=1 GRASSROOTS_HYPOTHESIS_EXAMPLES=500 .venv/bin/pytest \
        grassroots/orders/tests/test_money_stock_state_machine.py -p no:xdist

(random seeds; a failure is printed as a step-by-step program and saved in .hypothesis/ so the next
run replays it first).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Sum
from django.test import TestCase, override_settings
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.models import Sku
from grassroots.catalog.stock import OutOfStock
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.core.errors import Conflict, ValidationFailed
from grassroots.core.state_machine import InvalidTransition
from grassroots.coupons.models import Coupon, CouponRedemption
from grassroots.coupons.tests.factories import percent_coupon
from grassroots.ledger.models import JournalEntry, LedgerAccount, Posting
from grassroots.ledger.selectors import accounts_with_replay, ledger_problems
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.orders import services
from grassroots.orders.models import (
    Checkout,
    Order,
    OrderLine,
    OrderStatusChange,
    ReturnLine,
    ReturnRequest,
    ReturnStatusChange,
    UnappliedPayment,
)
from grassroots.orders.tests.factories import AddressFactory, ShippingRuleFactory
from grassroots.orders.tests.test_aftersale import delivered, paid_order
from grassroots.payments.gateways import CARD_DECLINED, CARD_SUCCEEDS
from grassroots.payments.models import PaymentAttempt, PaymentIntent, PaymentStatusChange, Refund, WebhookEvent
from grassroots.payments.services import payment_intent_confirm, payment_intent_create

EXPLORE = os.environ.get("GRASSROOTS_HYPOTHESIS_EXPLORE") == "1"
MAX_EXAMPLES = int(os.environ.get("GRASSROOTS_HYPOTHESIS_EXAMPLES", "40"))
STEPS = 25


def hypothesis_settings(*, max_examples: int, **kwargs: Any) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=not EXPLORE,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        **kwargs,
    )


# What the model assumes, pinned whatever the environment configures.
FEE_BPS = 500
PAYMENT_TIMEOUT = timedelta(minutes=30)
RETURN_WINDOW = timedelta(days=7)
AUTO_COMPLETE_AFTER = timedelta(days=10)
PINNED = {
    "PLATFORM_FEE_BPS": FEE_BPS,
    "ORDER_PAYMENT_TIMEOUT_MINUTES": 30,
    "RETURN_WINDOW_DAYS": 7,
    "ORDER_AUTO_COMPLETE_DAYS": 10,
    "REFUND_ONLY_AUTO_APPROVE": True,
    "PAYMENT_GATEWAY": "simulated",
}


def pinned_settings() -> override_settings:
    return override_settings(GRASSROOTS={**django_settings.GRASSROOTS, **PINNED})


# 1 gives lines whose units are worth 0 or 1 (zero-amount refunds, coupons that cannot apply).
PRICES = [1, 999, 1234, 3000, 4999, 12345]
SHIPPING_FEE, FREE_OVER = 800, 20000  # the first merchant's rule; the second ships free
COUPON_CODE, COUPON_BPS, COUPON_LIMIT = "TENOFF", 1000, 2
N_SKUS = 4  # two per merchant
CARRIER, TRACKING = "SF Express", "SF1234567"

PENDING, PAID, SHIPPED, DELIVERED, COMPLETED, CANCELLED, EXPIRED = (
    "pending_payment",
    "paid",
    "shipped",
    "delivered",
    "completed",
    "cancelled",
    "expired",
)
REQUESTED, APPROVED, SHIPPED_BACK, REFUNDED = "requested", "approved", "shipped_back", "refunded"
OPEN_RETURNS = (REQUESTED, APPROVED, SHIPPED_BACK, "returned")
# The moves the buyer's and merchant's return services make, per kind: the refund follows
# "receive" (a return) or "approve" (a refund before shipping) in the same transaction.
RETURN_EDGES = {
    "return": {
        (REQUESTED, "approve"): APPROVED,
        (REQUESTED, "reject"): "rejected",
        (REQUESTED, "cancel"): "cancelled",
        (APPROVED, "cancel"): "cancelled",
        (APPROVED, "ship_back"): SHIPPED_BACK,
        (APPROVED, "receive"): REFUNDED,
        (SHIPPED_BACK, "receive"): REFUNDED,
    },
    "refund_only": {
        (REQUESTED, "approve"): REFUNDED,
        (REQUESTED, "reject"): "rejected",
        (REQUESTED, "cancel"): "cancelled",
    },
}
RETURN_ACTIONS = ("approve", "receive", "ship_back", "reject", "cancel")


def committing(execute: bool = True) -> AbstractContextManager[list[Callable[[], Any]]]:
    """Run (or keep) the on-commit callbacks of the block, as a real commit would."""
    return TestCase.captureOnCommitCallbacks(execute=execute)


@contextmanager
def rolled_back() -> Iterator[None]:
    """One hypothesis example: everything it writes is undone afterwards."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


# --- the model's own arithmetic (written independently of the services) -------------------------


def fee_of(paid: int) -> int:
    """FEE_BPS of `paid`, to the nearest unit, ties toward the merchant."""
    quotient, remainder = divmod(paid * FEE_BPS, 10_000)
    return quotient + (1 if 2 * remainder > 10_000 else 0)


def units_slice(amount: int, units: int, start: int, count: int) -> int:
    """Units start .. start+count-1 of `amount` spread evenly over `units`, the odd minor units
    going to the earliest units."""
    base, extra = divmod(amount, units)
    return sum(base + (1 if index < extra else 0) for index in range(start, start + count))


def spread(total: int, weights: Sequence[int]) -> list[int]:
    """Largest remainder, ties to the earlier weight."""
    weight_sum = sum(weights)
    shares = [total * w // weight_sum for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % weight_sum), i))
    for index in order[: total - sum(shares)]:
        shares[index] += 1
    return shares


def coupon_discounts(amounts: Sequence[int]) -> list[int]:
    """The percent coupon's discount per line amount: every line keeps at least one unit."""
    wanted = sum(amounts) * COUPON_BPS // 10_000
    discount = max(0, min(wanted, sum(max(0, a - 1) for a in amounts)))
    if discount == 0:
        return [0] * len(amounts)
    shares = spread(discount, amounts)
    if all(share <= amount - 1 for share, amount in zip(shares, amounts, strict=True)):
        return shares
    return spread(discount, [max(0, a - 1) for a in amounts])


# --- the model ----------------------------------------------------------------------------------


@dataclass
class SkuModel:
    pk: int
    merchant: int
    price: int
    initial: int
    stock: int
    reserved: int = 0
    sold: int = 0


@dataclass
class LineModel:
    pk: int
    order: int
    sku: int
    quantity: int
    paid: int
    subsidy: int = 0  # the platform coupon's share of the discount: paid to the merchant by the platform
    fee: int = 0
    refunded_quantity: int = 0
    refunded_amount: int = 0


@dataclass
class OrderModel:
    pk: int
    checkout: int
    merchant: int
    total: int
    shipping: int
    lines: list[int]
    status: str = PENDING
    delivered_at: datetime | None = None


@dataclass
class CheckoutModel:
    pk: int
    total: int
    expires_at: datetime
    orders: list[int]
    coupon: bool
    status: str = PENDING
    intent: int | None = None


@dataclass
class IntentModel:
    pk: int
    checkout: int
    amount: int
    status: str = "requires_payment"
    refunded: int = 0


@dataclass
class ReturnModel:
    pk: int
    order: int
    kind: str
    lines: dict[int, int]
    status: str = REQUESTED
    refund_amount: int = 0
    shipping_refund: int = 0
    fee_reversed: int = 0


@dataclass
class Delivery:
    """A webhook the simulated gateway has not delivered yet (or delivered, for replays)."""

    checkout: int
    intent: int
    card: str
    callbacks: list[Callable[[], Any]] = field(repr=False)


class MoneyStockMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.now = timezone.now()
        self.skus: dict[int, SkuModel] = {}
        self.checkouts: dict[int, CheckoutModel] = {}
        self.orders: dict[int, OrderModel] = {}
        self.lines: dict[int, LineModel] = {}
        self.intents: dict[int, IntentModel] = {}
        self.returns: dict[int, ReturnModel] = {}
        self.in_flight: list[Delivery] = []
        self.delivered: list[Delivery] = []
        self.owners: dict[int, Any] = {}
        self.shipping_rules: dict[int, tuple[int, int]] = {}
        # Ledger, credit positive for the payables and revenue.
        self.cash = 0
        self.revenue = 0
        self.promotions = 0  # platform:promotions:expense, debit positive
        self.payable: dict[int, int] = {}
        self.coupon_used = 0
        self.order_audit = 0
        self.return_audit = 0
        self.unapplied = 0
        self.any_target = False
        self.auto_approve = True
        self._settings: override_settings | None = None

    def teardown(self) -> None:
        if self._settings is not None:
            self._settings.disable()
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- set up -----------------------------------------------------------------------------------

    @initialize(
        stocks=st.lists(st.integers(min_value=3, max_value=9), min_size=N_SKUS, max_size=N_SKUS),
        prices=st.lists(st.sampled_from(PRICES), min_size=N_SKUS, max_size=N_SKUS),
        auto_approve=st.booleans(),
    )
    def set_up(self, stocks: list[int], prices: list[int], auto_approve: bool) -> None:
        # Refunds before shipping: paid at once, or requested and approved by the merchant.
        self.auto_approve = auto_approve
        self._settings = override_settings(
            GRASSROOTS={**django_settings.GRASSROOTS, "REFUND_ONLY_AUTO_APPROVE": auto_approve}
        )
        self._settings.enable()
        merchants = [MerchantFactory(), MerchantFactory()]
        ShippingRuleFactory(merchant=merchants[0], flat_fee=SHIPPING_FEE, free_over=FREE_OVER)
        self.shipping_rules[merchants[0].pk] = (SHIPPING_FEE, FREE_OVER)
        for merchant in merchants:
            self.owners[merchant.pk] = merchant.owner
            self.payable[merchant.pk] = 0
        for index, (stock, price) in enumerate(zip(stocks, prices, strict=True)):
            merchant = merchants[index * len(merchants) // N_SKUS]
            sku = SkuFactory(product=ProductFactory(merchant=merchant), price_amount=price, stock=stock)
            self.skus[sku.pk] = SkuModel(pk=sku.pk, merchant=merchant.pk, price=price, initial=stock, stock=stock)
        self.buyer = UserFactory()
        self.address = AddressFactory(owner=self.buyer)
        self.coupon = percent_coupon(
            COUPON_BPS,
            code=COUPON_CODE,
            total_limit=COUPON_LIMIT,
            per_user_limit=0,
            valid_until=self.now + timedelta(days=365),
        )

    # --- helpers ----------------------------------------------------------------------------------

    def _pick(self, data: st.DataObject, valid: Sequence[int], anything: Sequence[int], label: str) -> int:
        """Something the step applies to; anything at all in a "misuse" step, to check refusals."""
        return data.draw(st.sampled_from(sorted(anything if self.any_target or not valid else valid)), label=label)

    def _snapshot(self) -> tuple[Any, ...]:
        """Everything a step may write."""
        tables = (
            Checkout,
            Order,
            OrderLine,
            OrderStatusChange,
            ReturnRequest,
            ReturnLine,
            ReturnStatusChange,
            JournalEntry,
            Posting,
            LedgerAccount,
            PaymentIntent,
            PaymentAttempt,
            PaymentStatusChange,
            Refund,
            WebhookEvent,
            UnappliedPayment,
            CouponRedemption,
        )
        return (
            [table.objects.count() for table in tables],  # type: ignore[attr-defined]
            list(Sku.objects.order_by("pk").values_list("stock", "reserved", "sold")),
            list(Checkout.objects.order_by("pk").values_list("status", "intent_id")),
            list(Order.objects.order_by("pk").values_list("status", "platform_fee")),
            list(OrderLine.objects.order_by("pk").values_list("refunded_quantity", "refunded_amount")),
            list(ReturnRequest.objects.order_by("pk").values_list("status", "refund_amount")),
            list(PaymentIntent.objects.order_by("pk").values_list("status", "amount_refunded")),
            list(LedgerAccount.objects.order_by("pk").values_list("cached_balance", flat=True)),
            list(Coupon.objects.order_by("pk").values_list("used_count", flat=True)),
        )

    @contextmanager
    def _refused(self, error: type[Exception], code: str | None = None) -> Iterator[None]:
        before = self._snapshot()
        with pytest.raises(error) as caught:
            yield
        event(f"refused: {getattr(caught.value, 'code', error.__name__)}")
        if code is not None:
            assert getattr(caught.value, "code", None) == code
        assert self._snapshot() == before, "a refused step wrote something"

    def _open_return_on(self, line_ids: Sequence[int]) -> bool:
        return any(r.status in OPEN_RETURNS and set(r.lines) & set(line_ids) for r in self.returns.values())

    def _set_order_status(self, order: OrderModel, status: str) -> None:
        order.status = status
        self.order_audit += 1

    def _close(self, checkout: CheckoutModel, status: str) -> None:
        """An unpaid checkout is cancelled or expires: its orders are cancelled, stock released."""
        checkout.status = status
        for intent in self.intents.values():
            # Nothing is left to pay: an intent waiting for a card, or declined, closes with it; one
            # still processing stays open for the provider's answer.
            if intent.checkout == checkout.pk and intent.status in ("requires_payment", "failed"):
                intent.status = "cancelled"
        for order_id in checkout.orders:
            order = self.orders[order_id]
            self._set_order_status(order, CANCELLED)
            for line_id in order.lines:
                line = self.lines[line_id]
                sku = self.skus[line.sku]
                sku.reserved -= line.quantity
                sku.stock += line.quantity
        if checkout.coupon:
            self.coupon_used -= 1

    def _mark_paid(self, checkout: CheckoutModel) -> None:
        checkout.status = PAID
        for order_id in checkout.orders:
            order = self.orders[order_id]
            self._set_order_status(order, PAID)
            fee = subsidy = 0
            for line_id in order.lines:
                line = self.lines[line_id]
                line.fee = fee_of(line.paid)
                fee += line.fee
                subsidy += line.subsidy
                sku = self.skus[line.sku]
                sku.reserved -= line.quantity
                sku.sold += line.quantity
            self.payable[order.merchant] += order.total - fee + subsidy
            self.revenue += fee
            self.promotions += subsidy

    def _deliver(self, delivery: Delivery) -> None:
        """What the webhook does, in the model."""
        intent = self.intents[delivery.intent]
        if delivery.card == CARD_DECLINED:
            intent.status = "failed"
            event("webhook: declined")
            return
        intent.status = "succeeded"
        self.cash += intent.amount
        checkout = self.checkouts[delivery.checkout]
        if checkout.status == PENDING:
            checkout.intent = intent.pk
            self._mark_paid(checkout)
            event("webhook: checkout paid")
        else:
            # Captured after the checkout closed: recorded and given back in full.
            intent.refunded = intent.amount
            self.cash -= intent.amount
            self.unapplied += 1
            event("webhook: captured after close, refunded in full")

    def _refund(self, ret: ReturnModel) -> None:
        """What a refund gives back, in the model (see orders/services/aftersale.py's doc)."""
        order = self.orders[ret.order]
        goods = fee = subsidy = 0
        for line_id, quantity in sorted(ret.lines.items()):
            line = self.lines[line_id]
            amount = units_slice(line.paid, line.quantity, line.refunded_quantity, quantity)
            fee += units_slice(line.fee, line.quantity, line.refunded_quantity, quantity)
            subsidy += units_slice(line.subsidy, line.quantity, line.refunded_quantity, quantity)
            goods += amount
            line.refunded_quantity += quantity
            line.refunded_amount += amount
            sku = self.skus[line.sku]
            sku.sold -= quantity
            sku.stock += quantity
        everything = all(self.lines[pk].refunded_quantity == self.lines[pk].quantity for pk in order.lines)
        cancels = order.status == PAID and everything
        shipping = order.shipping if cancels else 0
        total = goods + shipping
        ret.status = REFUNDED
        ret.refund_amount, ret.shipping_refund, ret.fee_reversed = total, shipping, fee
        self.payable[order.merchant] -= total - fee + subsidy
        self.revenue -= fee
        self.promotions -= subsidy
        self.cash -= total
        checkout = self.checkouts[order.checkout]
        assert checkout.intent is not None
        self.intents[checkout.intent].refunded += total
        if cancels:
            self._set_order_status(order, CANCELLED)
        event(f"refund: {ret.kind}{', cancels the order' if cancels else ''}{', zero amount' if not total else ''}")

    def _eligibility_error(self, order: OrderModel, kind: str) -> str | None:
        """The 422 code return_request_create gives for `kind` on this order now, or None."""
        shipped = order.status in (SHIPPED, DELIVERED, COMPLETED)
        if kind == "refund_only":
            if order.status == PAID:
                return None
            return "refund_only_not_allowed" if shipped else "not_returnable"
        if order.status in (DELIVERED, COMPLETED):
            assert order.delivered_at is not None
            return "return_window_closed" if self.now > order.delivered_at + RETURN_WINDOW else None
        return "not_delivered" if order.status == SHIPPED else "not_returnable"

    # --- checkout ---------------------------------------------------------------------------------

    def place(self, data: st.DataObject) -> None:
        items = data.draw(
            st.lists(
                st.tuples(st.integers(min_value=0, max_value=N_SKUS - 1), st.integers(min_value=1, max_value=3)),
                min_size=1,
                max_size=3,
            ),
            label="items (SKU index, quantity)",
        )
        with_coupon = data.draw(st.sampled_from([False, False, True]), label="with coupon")
        sku_ids = sorted(self.skus)
        wanted: dict[int, int] = {}
        for index, quantity in items:
            wanted[sku_ids[index]] = wanted.get(sku_ids[index], 0) + quantity
        # Lines in the order the checkout lists them: by merchant, then by SKU.
        keys = sorted(wanted, key=lambda pk: (self.skus[pk].merchant, pk))
        amounts = [self.skus[pk].price * wanted[pk] for pk in keys]
        discounts = coupon_discounts(amounts) if with_coupon else [0] * len(keys)
        coupon_error = None
        if with_coupon and self.coupon_used >= COUPON_LIMIT:
            coupon_error = "coupon_exhausted"
        elif with_coupon and sum(discounts) == 0:
            coupon_error = "coupon_not_applicable"
        short = {str(pk): self.skus[pk].stock for pk, quantity in wanted.items() if quantity > self.skus[pk].stock}

        def submit() -> Checkout:
            with committing():
                return services.checkout_place(
                    buyer=self.buyer,
                    address_id=self.address.pk,
                    items=[(sku_ids[index], quantity) for index, quantity in items],
                    coupon_code=COUPON_CODE if with_coupon else None,
                    now=self.now,
                )

        if coupon_error:
            with self._refused(ValidationFailed, coupon_error):
                submit()
            return
        if short:
            before = self._snapshot()
            with pytest.raises(OutOfStock) as caught:
                submit()
            assert caught.value.fields == short
            event("refused: out_of_stock")
            assert self._snapshot() == before
            return

        checkout = submit()
        checkout.refresh_from_db()
        goods_by_merchant: dict[int, int] = {}
        for pk in keys:
            goods_by_merchant[self.skus[pk].merchant] = goods_by_merchant.get(self.skus[pk].merchant, 0) + (
                self.skus[pk].price * wanted[pk]
            )
        shipping_by_merchant = {}
        for merchant_id, goods in goods_by_merchant.items():
            flat_fee, free_over = self.shipping_rules.get(merchant_id, (0, 0))
            shipping_by_merchant[merchant_id] = 0 if goods >= free_over else flat_fee
        assert (checkout.status, checkout.expires_at) == (PENDING, self.now + PAYMENT_TIMEOUT)
        assert checkout.goods_total == sum(amounts)
        assert checkout.shipping_total == sum(shipping_by_merchant.values())
        assert checkout.discount_total == sum(discounts)
        assert checkout.total == sum(amounts) + sum(shipping_by_merchant.values()) - sum(discounts)

        model = CheckoutModel(
            pk=checkout.pk, total=checkout.total, expires_at=checkout.expires_at, orders=[], coupon=with_coupon
        )
        discount_of = dict(zip(keys, discounts, strict=True))
        orders = list(Order.objects.filter(checkout=checkout).order_by("pk").prefetch_related("lines"))
        assert sorted(o.merchant_id for o in orders) == sorted(goods_by_merchant)
        for order in orders:
            shipping = shipping_by_merchant[order.merchant_id]
            assert order.status == PENDING
            assert order.shipping_total == shipping
            order_model = OrderModel(
                pk=order.pk,
                checkout=checkout.pk,
                merchant=order.merchant_id,
                total=order.total,
                shipping=shipping,
                lines=[],
            )
            line_sum = 0
            for line in order.lines.all():
                sku = self.skus[line.sku_id]
                assert sku.merchant == order.merchant_id
                assert (line.quantity, line.unit_price) == (wanted[sku.pk], sku.price)
                assert line.discount_amount == discount_of[sku.pk]
                assert line.paid_amount == sku.price * line.quantity - discount_of[sku.pk] >= 1
                # The model's coupon is a platform coupon: the platform funds its whole discount.
                assert line.platform_discount == discount_of[sku.pk]
                line_sum += line.paid_amount
                self.lines[line.pk] = LineModel(
                    pk=line.pk,
                    order=order.pk,
                    sku=sku.pk,
                    quantity=line.quantity,
                    paid=line.paid_amount,
                    subsidy=line.platform_discount,
                )
                order_model.lines.append(line.pk)
                sku.stock -= line.quantity
                sku.reserved += line.quantity
            assert order.total == line_sum + shipping
            self.orders[order.pk] = order_model
            model.orders.append(order.pk)
            self.order_audit += 1
        assert sum(o.total for o in orders) == checkout.total
        self.checkouts[checkout.pk] = model
        if with_coupon:
            self.coupon_used += 1
        event(f"placed: {len(orders)} order(s){' with the coupon' if with_coupon else ''}")

    def _checkouts_in(self, *statuses: str) -> list[int]:
        return [c.pk for c in self.checkouts.values() if c.status in statuses]

    def _orders_in(self, *statuses: str) -> list[int]:
        return [o.pk for o in self.orders.values() if o.status in statuses]

    def _due(self) -> list[int]:
        return [c.pk for c in self.checkouts.values() if c.status == PENDING and c.expires_at <= self.now]

    def _pending_unpaid(self) -> list[int]:
        """Pending checkouts with no payment in flight."""
        return [
            c.pk
            for c in self.checkouts.values()
            if c.status == PENDING and not any(d.checkout == c.pk for d in self.in_flight)
        ]

    def _pay(self, checkout_id: int, card: str, *, deliver_now: bool) -> None:
        checkout = self.checkouts[checkout_id]
        live = [i for i in self.intents.values() if i.checkout == checkout_id]
        intent = live[0] if live else None

        def pay() -> tuple[int, list[Callable[[], Any]]]:
            with committing(execute=deliver_now) as callbacks:
                created, _new = payment_intent_create(payer=self.buyer, kind="checkout", payable_id=checkout_id)
                payment_intent_confirm(payer=self.buyer, intent_id=created.pk, card_number=card)
            return created.pk, callbacks

        if checkout.status != PENDING or (intent is not None and intent.status == "processing"):
            # Closed, paid, or a payment in flight: a processing or succeeded intent is returned
            # by create and refuses a second confirm; otherwise there is nothing to pay.
            busy = intent is not None and intent.status in ("processing", "succeeded")
            with self._refused(InvalidTransition if busy else Conflict):
                pay()
            return
        intent_id, callbacks = pay()
        if intent is None:
            intent = self.intents[intent_id] = IntentModel(pk=intent_id, checkout=checkout_id, amount=checkout.total)
        assert intent.pk == intent_id
        delivery = Delivery(checkout=checkout_id, intent=intent_id, card=card, callbacks=callbacks)
        if deliver_now:
            self._deliver(delivery)
            self.delivered.append(delivery)
        else:
            intent.status = "processing"
            self.in_flight.append(delivery)
            event("pay later: in flight")

    def pay(self, data: st.DataObject) -> None:
        """Pay with a test card; the gateway's webhook arrives at once."""
        card = data.draw(st.sampled_from([CARD_SUCCEEDS, CARD_SUCCEEDS, CARD_DECLINED]), label="card")
        self._pay(self._pick(data, self._pending_unpaid(), list(self.checkouts), "checkout"), card, deliver_now=True)

    def pay_later(self, data: st.DataObject) -> None:
        """Confirm a card; its webhook is delivered by a later step."""
        card = data.draw(st.sampled_from([CARD_SUCCEEDS, CARD_DECLINED]), label="card")
        self._pay(data.draw(st.sampled_from(self._pending_unpaid()), label="checkout"), card, deliver_now=False)

    def webhook_arrives(self, data: st.DataObject) -> None:
        delivery = self.in_flight.pop(data.draw(st.integers(min_value=0, max_value=len(self.in_flight) - 1)))
        with committing():
            for callback in delivery.callbacks:
                callback()
        self._deliver(delivery)
        self.delivered.append(delivery)

    def webhook_replayed(self, data: st.DataObject) -> None:
        delivery = self.delivered[data.draw(st.integers(min_value=0, max_value=len(self.delivered) - 1))]
        before = self._snapshot()
        with committing():
            for callback in delivery.callbacks:
                callback()
        assert self._snapshot() == before, "a replayed webhook changed something"
        event("webhook: replayed")

    def cancel(self, data: st.DataObject) -> None:
        checkout = self.checkouts[self._pick(data, self._checkouts_in(PENDING), list(self.checkouts), "checkout")]

        def cancel() -> Checkout:
            with committing():
                return services.checkout_cancel(buyer=self.buyer, checkout_id=checkout.pk, now=self.now)

        if checkout.status == PAID:
            with self._refused(InvalidTransition, "already_paid"):
                cancel()
        elif checkout.status == PENDING:
            assert cancel().status == CANCELLED
            self._close(checkout, CANCELLED)
            event("cancel: cancelled")
        else:
            before = self._snapshot()
            assert cancel().status == checkout.status  # cancelling again changes nothing
            assert self._snapshot() == before

    def time_passes(self, data: st.DataObject) -> None:
        """The clock moves on; then perhaps a periodic job runs (or not yet: jobs lag)."""
        minutes = data.draw(st.sampled_from([5, 31, 45, 8 * 24 * 60, 11 * 24 * 60]), label="minutes")
        self.now += timedelta(minutes=minutes)
        job = data.draw(st.sampled_from(["expiry_job_runs", "auto_complete_job_runs", None]), label="job")
        if job is not None:
            getattr(self, job)(data)

    def expiry_job_runs(self, data: st.DataObject) -> None:
        due = [c for c in self.checkouts.values() if c.status == PENDING and c.expires_at <= self.now]
        with committing():
            assert services.checkouts_expire(now=self.now) == len(due)
        for checkout in due:
            self._close(checkout, EXPIRED)
        if due:
            event("expiry job: expired some")

    def expire_one(self, data: st.DataObject) -> None:
        checkout = self.checkouts[self._pick(data, self._due(), list(self.checkouts), "checkout")]
        expected = checkout.status == PENDING and checkout.expires_at <= self.now
        before = self._snapshot()
        with committing():
            assert services.checkout_expire(checkout_id=checkout.pk, now=self.now) is expected
        if expected:
            self._close(checkout, EXPIRED)
            event("expire one: expired")
        else:
            assert self._snapshot() == before

    # --- fulfilment -------------------------------------------------------------------------------

    def ship(self, data: st.DataObject) -> None:
        order = self.orders[self._pick(data, self._orders_in(PAID), list(self.orders), "order")]

        def ship() -> None:
            with committing():
                services.order_ship(
                    actor=self.owners[order.merchant],
                    order=Order.objects.get(pk=order.pk),
                    carrier=CARRIER,
                    tracking_number=TRACKING,
                )

        if order.status != PAID:
            with self._refused(InvalidTransition):
                ship()
            return
        if any(
            r.order == order.pk and r.kind == "refund_only" and r.status in OPEN_RETURNS for r in self.returns.values()
        ):
            # The buyer asked for a refund before shipping: the merchant decides that first.
            with self._refused(Conflict, "refund_requested"):
                ship()
            return
        ship()
        self._set_order_status(order, SHIPPED)
        event("ship: shipped")

    def confirm_receipt(self, data: st.DataObject) -> None:
        order = self.orders[self._pick(data, self._orders_in(SHIPPED), list(self.orders), "order")]

        def confirm() -> Order:
            with committing():
                return services.order_confirm_receipt(buyer=self.buyer, order=Order.objects.get(pk=order.pk))

        if order.status != SHIPPED:
            with self._refused(InvalidTransition):
                confirm()
            return
        order.delivered_at = confirm().delivered_at
        self._set_order_status(order, DELIVERED)
        event("confirm receipt: delivered")

    def auto_complete_job_runs(self, data: st.DataObject) -> None:
        due = [
            o
            for o in self.orders.values()
            if o.status == DELIVERED
            and o.delivered_at is not None
            and o.delivered_at <= self.now - AUTO_COMPLETE_AFTER
            and not self._open_return_on(o.lines)
        ]
        with committing():
            assert services.orders_auto_complete(now=self.now) == len(due)
        for order in due:
            self._set_order_status(order, COMPLETED)
        if due:
            event("auto-complete job: completed some")

    # --- after-sale -------------------------------------------------------------------------------

    def _ask(self, data: st.DataObject, kind: str, valid: Sequence[int]) -> None:
        order = self.orders[self._pick(data, valid, list(self.orders), "order")]
        free = [pk for pk in order.lines if self._left(pk) and not self._open_return_on([pk])]
        lines = order.lines if self.any_target or not free else free
        chosen = data.draw(
            st.lists(st.sampled_from(lines), min_size=1, max_size=len(lines), unique=True), label="lines"
        )
        wanted = {
            pk: data.draw(
                # One more than is left, sometimes: refused.
                st.integers(min_value=1, max_value=self._left(pk) + 1),
                label=f"quantity of line {pk}",
            )
            for pk in chosen
        }

        def ask() -> ReturnRequest:
            with committing():
                return services.return_request_create(
                    buyer=self.buyer, order_id=order.pk, kind=kind, lines=list(wanted.items()), now=self.now
                )

        error = self._eligibility_error(order, kind)
        if error is not None:
            with self._refused(ValidationFailed, error):
                ask()
            return
        if self._open_return_on(chosen):
            with self._refused(Conflict, "return_already_open"):
                ask()
            return
        if any(q > self.lines[pk].quantity - self.lines[pk].refunded_quantity for pk, q in wanted.items()):
            with self._refused(ValidationFailed, "refund_exceeds_paid"):
                ask()
            return
        request = ask()
        ret = self.returns[request.pk] = ReturnModel(pk=request.pk, order=order.pk, kind=kind, lines=wanted)
        self.return_audit += 1
        event(f"asked: {kind}")
        if kind == "refund_only" and self.auto_approve:
            self.return_audit += 2  # approved, refunded
            self._refund(ret)

    def _left(self, line_id: int) -> int:
        return self.lines[line_id].quantity - self.lines[line_id].refunded_quantity

    def _refundable(self, kind: str) -> list[int]:
        """Orders where the buyer may ask for `kind` on some unit not held by an open return."""
        return [
            o.pk
            for o in self.orders.values()
            if self._eligibility_error(o, kind) is None
            and any(self._left(pk) and not self._open_return_on([pk]) for pk in o.lines)
        ]

    def refund_before_shipping(self, data: st.DataObject) -> None:
        self._ask(data, "refund_only", self._refundable("refund_only"))

    def request_return(self, data: st.DataObject) -> None:
        self._ask(data, "return", self._refundable("return"))

    def _return_actions(self) -> dict[str, list[int]]:
        """{action: returns it applies to} for the actions that apply to some return."""
        actions: dict[str, list[int]] = {}
        for action in RETURN_ACTIONS:
            returns = [r.pk for r in self.returns.values() if (r.status, action) in RETURN_EDGES[r.kind]]
            if returns:
                actions[action] = returns
        return actions

    def return_step(self, data: st.DataObject) -> None:
        """The merchant approves, rejects or receives; the buyer withdraws or sends back."""
        actions = self._return_actions()
        action = data.draw(st.sampled_from(RETURN_ACTIONS if self.any_target else list(actions)), label="action")
        ret = self.returns[self._pick(data, actions.get(action, []), list(self.returns), "return")]
        owner = self.owners[self.orders[ret.order].merchant]

        def act() -> ReturnRequest:
            with committing():
                if action == "approve":
                    return services.return_approve(actor=owner, return_id=ret.pk, now=self.now)
                if action == "reject":
                    return services.return_reject(actor=owner, return_id=ret.pk, reason="Not as described")
                if action == "cancel":
                    return services.return_cancel(buyer=self.buyer, return_id=ret.pk, now=self.now)
                if action == "ship_back":
                    return services.return_ship_back(
                        buyer=self.buyer, return_id=ret.pk, carrier=CARRIER, tracking_number=TRACKING, now=self.now
                    )
                return services.return_receive(actor=owner, return_id=ret.pk, now=self.now)

        edges = RETURN_EDGES[ret.kind]
        if (ret.status, action) not in edges:
            with self._refused(InvalidTransition):
                act()
            return
        if (
            edges[(ret.status, action)] == REFUNDED
            and ret.kind == "refund_only"
            and self.orders[ret.order].status != PAID
        ):
            # Shipped while the request waited (shipping now refuses that, so not reached through
            # the services): the merchant must reject it instead.
            with self._refused(Conflict, "order_shipped"):
                act()
            return
        request = act()
        if edges[(ret.status, action)] == REFUNDED:
            self.return_audit += 2  # received or approved, then refunded
            self._refund(ret)
        else:
            ret.status = edges[(ret.status, action)]
            self.return_audit += 1
        event(f"{ret.kind}: {action}")
        assert request.status == ret.status

    # --- one step ---------------------------------------------------------------------------------

    def _possible(self) -> list[str]:
        """The steps that have something to act on now, later stages of an order first: Hypothesis
        favours the first choices, and the later stages need the earlier ones to have happened."""
        steps = {
            "return_step": bool(self._return_actions()),
            "request_return": bool(self._refundable("return")),
            "confirm_receipt": bool(self._orders_in(SHIPPED)),
            "ship": bool(self._orders_in(PAID)),
            "webhook_arrives": bool(self.in_flight),
            "pay": bool(self._pending_unpaid()),
            "refund_before_shipping": bool(self._refundable("refund_only")),
            "pay_later": bool(self._pending_unpaid()),
            "place": True,
            "cancel": bool(self._checkouts_in(PENDING)),
            "expire_one": bool(self._due()),
            "misuse": bool(self.checkouts),
            "webhook_replayed": bool(self.delivered),
            "time_passes": True,
        }
        return [name for name, possible in steps.items() if possible]

    def misuse(self, data: st.DataObject) -> None:
        """A step on anything at all (an unpaid order shipped, a paid checkout cancelled, a closed
        return received...): refused with the right error and nothing written, or done if it
        happened to apply."""
        steps = ["pay", "cancel", "expire_one"]
        if self.orders:
            steps += ["ship", "confirm_receipt", "refund_before_shipping", "request_return"]
        if self.returns:
            steps.append("return_step")
        name = data.draw(st.sampled_from(steps), label="misused step")
        self.any_target = True
        try:
            getattr(self, name)(data)
        finally:
            self.any_target = False

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        # One rule that picks the step itself: with a rule per step, Hypothesis's swarm testing
        # switches off a random subset of rules in each example, and the long chains (place, pay,
        # ship, confirm receipt, return, receive) almost never have all their rules on.
        name = data.draw(st.sampled_from(self._possible()), label="step")
        getattr(self, name)(data)

    # --- invariants -------------------------------------------------------------------------------

    @invariant()
    def money_and_stock_add_up(self) -> None:
        if not self.skus:
            return
        self._books_add_up()
        self._stock_is_conserved()
        self._refunds_never_exceed_captures()
        self._lines_stay_within_what_was_paid()
        self._statuses_follow_the_model()

    def _books_add_up(self) -> None:
        assert ledger_problems() == []
        balances = {
            code: int(replay)
            for code, replay in accounts_with_replay().filter(currency="CNY").values_list("code", "replay")
        }
        assert balances.get("buyer:clearing", 0) == 0
        assert balances.get("gateway:cash", 0) == self.cash
        assert -balances.get("platform:revenue", 0) == self.revenue
        assert balances.get("platform:promotions:expense", 0) == self.promotions
        for merchant_id, owed in self.payable.items():
            assert -balances.get(f"merchant:{merchant_id}:payable", 0) == owed

    def _stock_is_conserved(self) -> None:
        for pk, stock, reserved, sold in Sku.objects.filter(pk__in=list(self.skus)).values_list(
            "pk", "stock", "reserved", "sold"
        ):
            model = self.skus[pk]
            assert min(stock, reserved, sold) >= 0
            assert stock + reserved + sold == model.initial
            assert (stock, reserved, sold) == (model.stock, model.reserved, model.sold)

    def _refunds_never_exceed_captures(self) -> None:
        refunded = dict(
            Refund.objects.filter(status=Refund.Status.SUCCEEDED)
            .values("intent_id")
            .annotate(total=Sum("amount"))
            .values_list("intent_id", "total")
            .order_by()
        )
        intents = {i.pk: i for i in PaymentIntent.objects.all()}
        assert set(intents) == set(self.intents)
        for pk, intent in intents.items():
            model = self.intents[pk]
            assert 0 <= intent.amount_refunded <= intent.amount
            if intent.status != PaymentIntent.Status.SUCCEEDED:
                assert intent.amount_refunded == 0
            assert intent.amount_refunded == refunded.get(pk, 0)
            assert (intent.status, intent.amount, intent.amount_refunded) == (
                model.status,
                model.amount,
                model.refunded,
            )
        assert not Refund.objects.exclude(status=Refund.Status.SUCCEEDED).exists()
        by_order = dict(
            ReturnRequest.objects.filter(status=REFUNDED)
            .values("order_id")
            .annotate(total=Sum("refund_amount"))
            .values_list("order_id", "total")
            .order_by()
        )
        for order_id, total in Order.objects.values_list("pk", "total"):
            assert by_order.get(order_id, 0) <= total
        assert UnappliedPayment.objects.filter(refunded_at__isnull=False).count() == self.unapplied
        assert not UnappliedPayment.objects.filter(refunded_at__isnull=True).exists()

    def _lines_stay_within_what_was_paid(self) -> None:
        rows = OrderLine.objects.values_list(
            "pk", "quantity", "paid_amount", "platform_fee", "refunded_quantity", "refunded_amount"
        )
        assert {row[0] for row in rows} == set(self.lines)
        for pk, quantity, paid, fee, refunded_quantity, refunded_amount in rows:
            assert 0 <= refunded_quantity <= quantity
            assert 0 <= refunded_amount <= paid
            model = self.lines[pk]
            assert (quantity, paid, fee, refunded_quantity, refunded_amount) == (
                model.quantity,
                model.paid,
                model.fee,
                model.refunded_quantity,
                model.refunded_amount,
            )

    def _statuses_follow_the_model(self) -> None:
        assert dict(Checkout.objects.values_list("pk", "status")) == {pk: c.status for pk, c in self.checkouts.items()}
        assert dict(Order.objects.values_list("pk", "status")) == {pk: o.status for pk, o in self.orders.items()}
        returns = {
            pk: (status, amount, shipping, fee)
            for pk, status, amount, shipping, fee in ReturnRequest.objects.values_list(
                "pk", "status", "refund_amount", "shipping_refund", "platform_fee_reversed"
            )
        }
        assert returns == {
            pk: (r.status, r.refund_amount, r.shipping_refund, r.fee_reversed) for pk, r in self.returns.items()
        }
        assert OrderStatusChange.objects.count() == self.order_audit
        assert ReturnStatusChange.objects.count() == self.return_audit
        used = Coupon.objects.values_list("used_count", flat=True).get(pk=self.coupon.pk)
        active = CouponRedemption.objects.filter(status=CouponRedemption.Status.ACTIVE).count()
        assert used == active == self.coupon_used <= COUPON_LIMIT


@pytest.mark.django_db
def test_money_and_stock_hold_over_random_order_lifecycles() -> None:
    with pinned_settings():
        run_state_machine_as_test(
            MoneyStockMachine, settings=hypothesis_settings(max_examples=MAX_EXAMPLES, stateful_step_count=STEPS)
        )


# --- one line, many partial refunds ---------------------------------------------------------------


def ledger_balances() -> dict[str, int]:
    """Every non-zero balance, from postings."""
    return {code: int(replay) for code, replay in accounts_with_replay().values_list("code", "replay") if replay}


@pytest.mark.django_db
@hypothesis_settings(max_examples=MAX_EXAMPLES)
@given(
    price=st.integers(min_value=1, max_value=100_000),
    quantity=st.integers(min_value=1, max_value=6),
    shipping_fee=st.sampled_from([0, 800]),
    after_delivery=st.booleans(),
    parts=st.lists(st.integers(min_value=1, max_value=4), max_size=6),
)
def test_partial_refunds_of_one_line_add_up_to_what_was_paid(
    price: int, quantity: int, shipping_fee: int, after_delivery: bool, parts: list[int]
) -> None:
    with pinned_settings(), rolled_back():
        before_payment = ledger_balances()
        order, [sku] = paid_order(committing, lines=((price, quantity),), shipping_fee=shipping_fee, stock=quantity)
        line = order.lines.get()
        intent = PaymentIntent.objects.get()
        owner = order.merchant.memberships.get().user
        if after_delivery:
            order = delivered(order)

        def refund(units: int) -> ReturnRequest:
            lines = [(line.pk, units)]
            with committing():
                if not after_delivery:
                    return services.return_request_create(
                        buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=lines
                    )
                request = services.return_request_create(
                    buyer=order.buyer, order_id=order.pk, kind="return", lines=lines
                )
                services.return_approve(actor=owner, return_id=request.pk)
                return services.return_receive(actor=owner, return_id=request.pk)

        # The parts asked for, then whatever is left.
        for units in [*parts, None]:
            line.refresh_from_db()
            left = quantity - line.refunded_quantity
            if units is None:
                if left == 0:
                    break
                units = left
            if units > left:
                before = (ReturnRequest.objects.count(), Refund.objects.count(), JournalEntry.objects.count())
                with pytest.raises(ValidationFailed) as caught:
                    refund(units)
                # Refunding every unit before shipping cancelled the order: nothing is left to ask for.
                cancelled = left == 0 and not after_delivery
                assert caught.value.code == ("not_returnable" if cancelled else "refund_exceeds_paid")
                assert (ReturnRequest.objects.count(), Refund.objects.count(), JournalEntry.objects.count()) == before
                continue
            refund(units)
            line.refresh_from_db()
            intent.refresh_from_db()
            refunds = ReturnRequest.objects.filter(status=REFUNDED).aggregate(
                total=Sum("refund_amount"), shipping=Sum("shipping_refund")
            )
            assert line.refunded_amount <= line.paid_amount
            assert refunds["total"] - refunds["shipping"] == line.refunded_amount
            assert refunds["total"] == intent.amount_refunded <= intent.amount
            assert ledger_problems() == []

        line.refresh_from_db()
        order.refresh_from_db()
        intent.refresh_from_db()
        assert (line.refunded_quantity, line.refunded_amount) == (quantity, line.paid_amount)
        sku.refresh_from_db()
        assert (sku.stock, sku.reserved, sku.sold) == (quantity, 0, 0)
        assert ledger_problems() == []
        balances = ledger_balances()
        if after_delivery:
            # The goods came back after the carrier was paid: the merchant keeps the shipping.
            assert order.status == DELIVERED
            assert intent.amount_refunded == intent.amount - shipping_fee
            kept = {"gateway:cash": shipping_fee, f"merchant:{order.merchant_id}:payable": -shipping_fee}
            assert balances == {**before_payment, **{k: v for k, v in kept.items() if v}}
        else:
            # Nothing left the warehouse: everything is given back and the books are as before.
            assert order.status == CANCELLED
            assert intent.amount_refunded == intent.amount
            assert balances == before_payment
