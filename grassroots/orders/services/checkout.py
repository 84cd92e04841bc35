"""Checkout: one payment, one Order per merchant, stock reserved all or nothing."""

# SQL here interpolates only table and column names from model metadata and %s placeholders.
# ruff: noqa: S608

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Model, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.catalog.models import Product, Sku
from grassroots.catalog.stock import OutOfStock, merge_lines, stock_release, stock_reserve
from grassroots.commissions.services import NO_ATTRIBUTION, LineAttribution, checkout_attribution, member_discount
from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.core.money import CURRENCY_EXPONENT
from grassroots.core.rawsql import insert_rows, model_columns, model_from_row
from grassroots.core.state_machine import InvalidTransition
from grassroots.coupons.models import Coupon
from grassroots.coupons.services import CouponQuote, coupon_quote, coupon_redeem, coupon_release
from grassroots.merchants.models import Merchant, MerchantMember
from grassroots.orders.machine import CHECKOUT_MACHINE, ORDER_MACHINE
from grassroots.orders.models import CartItem, Checkout, Order, OrderLine, OrderStatusChange, ShippingRule
from grassroots.orders.services.addresses import owned_address
from grassroots.orders.services.common import (
    MAX_CHECKOUT_LINES,
    MAX_QUANTITY,
    audit_rows,
    check_id,
    check_quantity,
    orders_setting,
)
from grassroots.orders.services.common import _not_available as not_available


def shipping_fee(*, rule: ShippingRule | None, goods_total: int) -> int:
    if rule is None:
        return 0
    if rule.free_over is not None and goods_total >= rule.free_over:
        return 0
    return rule.flat_fee


MAX_FEE = 10**9


def shipping_rule_set(
    *, actor: Any, merchant_id: int, currency: str, flat_fee: int, free_over: int | None
) -> ShippingRule:
    """A merchant member sets the flat fee per order (and the goods total from which it is free)."""
    if not MerchantMember.objects.filter(merchant_id=merchant_id, user_id=getattr(actor, "pk", 0) or 0).exists():
        raise NotFound(_("Merchant not found."))
    errors = {}
    if currency not in CURRENCY_EXPONENT:
        errors["currency"] = "invalid"
    if not isinstance(flat_fee, int) or isinstance(flat_fee, bool) or not 0 <= flat_fee <= MAX_FEE:
        errors["flat_fee"] = "out_of_range"
    if free_over is not None and (
        not isinstance(free_over, int) or isinstance(free_over, bool) or not 0 < free_over <= MAX_FEE * 100
    ):
        errors["free_over"] = "out_of_range"
    if errors:
        raise ValidationFailed(_("Please check the shipping fee."), fields=errors)
    rule, _created = ShippingRule.objects.update_or_create(
        merchant_id=merchant_id, currency=currency, defaults={"flat_fee": flat_fee, "free_over": free_over}
    )
    return rule


@dataclass
class MerchantGroup:
    """One future order: a merchant's lines and totals (also what the checkout page previews)."""

    merchant: Merchant
    lines: list[tuple[Sku, int]]
    goods_total: int
    shipping_total: int

    @property
    def total(self) -> int:
        return self.goods_total + self.shipping_total


@dataclass
class CheckoutPlan:
    currency: str
    groups: list[MerchantGroup]
    quantities: dict[int, int]

    @property
    def goods_total(self) -> int:
        return sum(group.goods_total for group in self.groups)

    @property
    def shipping_total(self) -> int:
        return sum(group.shipping_total for group in self.groups)

    @property
    def total(self) -> int:
        return self.goods_total + self.shipping_total

    def shortages(self) -> dict[str, int]:
        """{sku_id: units free} for every line the SKU rows read by the plan cannot cover."""
        return {
            str(sku.pk): sku.stock for group in self.groups for sku, quantity in group.lines if sku.stock < quantity
        }

    def goods_by_merchant(self) -> dict[int, list[tuple[int, int]]]:
        """{merchant id: [(sku id, goods amount of the line)]}: what a coupon is quoted on."""
        return {
            group.merchant.pk: [(sku.pk, sku.price_amount * quantity) for sku, quantity in group.lines]
            for group in self.groups
        }


def _plan_read(sku_ids: Sequence[int]) -> tuple[dict[int, Sku], dict[int, ShippingRule]]:
    """The SKUs (each with its product and merchant) and each merchant's shipping rule in the SKU's
    currency, in ONE query; what `sellable_skus` plus a ShippingRule read would give, without the
    ORM's per-query compilation (about 1 ms of CPU per checkout saved, docs/benchmarks.md). Raises
    the same 422 not_available as `sellable_skus`."""
    quote = connection.ops.quote_name
    models_: list[type[Model]] = [Sku, Product, Merchant, ShippingRule]
    aliases = ["s", "p", "m", "r"]
    select = ", ".join(model_columns(model, alias) for model, alias in zip(models_, aliases, strict=True))
    table = {model: quote(model._meta.db_table) for model in models_}
    sql = (
        f"SELECT {select} FROM {table[Sku]} s "
        f"JOIN {table[Product]} p ON p.id = s.product_id "
        f"JOIN {table[Merchant]} m ON m.id = p.merchant_id "
        f"LEFT JOIN {table[ShippingRule]} r ON r.merchant_id = p.merchant_id AND r.currency = s.currency "
        f"WHERE s.id IN ({', '.join(['%s'] * len(sku_ids))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(sku_ids))
        rows = cursor.fetchall()
    skus: dict[int, Sku] = {}
    rules: dict[int, ShippingRule] = {}
    for row in rows:
        sku, at = model_from_row(Sku, row, 0)
        product, at = model_from_row(Product, row, at)
        merchant, at = model_from_row(Merchant, row, at)
        if row[at] is not None:
            rule, _at = model_from_row(ShippingRule, row, at)
            rules[rule.merchant_id] = rule
        product.merchant = merchant
        sku.product = product
        skus[sku.pk] = sku
    bad = [
        pk
        for pk in sku_ids
        if pk not in skus
        or not skus[pk].is_active
        or not skus[pk].product.is_listed
        or skus[pk].product.merchant.status != Merchant.Status.VERIFIED
    ]
    if bad:
        raise not_available(bad)
    return skus, rules


def checkout_plan(*, items: Sequence[tuple[Any, Any]]) -> CheckoutPlan:
    """Validate items and split them per merchant with shipping; reads only (1 query)."""
    checked = [(check_id(sku_id, field="sku_id"), check_quantity(quantity)) for sku_id, quantity in items]
    if not checked:
        raise ValidationFailed(_("Choose something to buy."), code="no_items", fields={"items": "required"})
    quantities = merge_lines(checked)
    if len(quantities) > MAX_CHECKOUT_LINES:
        raise ValidationFailed(
            _("At most %(max)s different items per checkout.") % {"max": MAX_CHECKOUT_LINES}, code="too_many_items"
        )
    for sku_id, quantity in quantities.items():
        if quantity > MAX_QUANTITY:
            raise ValidationFailed(
                _("Quantity must be a whole number from 1 to %(max)s.") % {"max": MAX_QUANTITY},
                code="invalid_quantity",
                fields={str(sku_id): "out_of_range"},
            )
    skus, rules = _plan_read(list(quantities))
    currencies = {sku.currency for sku in skus.values()}
    if len(currencies) != 1:
        raise ValidationFailed(_("Items in different currencies must be bought separately."), code="mixed_currency")
    currency = currencies.pop()
    by_merchant: dict[int, list[tuple[Sku, int]]] = defaultdict(list)
    for sku_id, quantity in quantities.items():
        sku = skus[sku_id]
        by_merchant[sku.product.merchant_id].append((sku, quantity))
    groups = []
    for merchant_id, lines in sorted(by_merchant.items()):
        goods = sum(sku.price_amount * quantity for sku, quantity in lines)
        groups.append(
            MerchantGroup(
                merchant=lines[0][0].product.merchant,
                lines=lines,
                goods_total=goods,
                shipping_total=shipping_fee(rule=rules.get(merchant_id), goods_total=goods),
            )
        )
    return CheckoutPlan(currency=currency, groups=groups, quantities=quantities)


def _check_purchase_limits(*, buyer: Any, plan: CheckoutPlan) -> None:
    """Units this buyer holds in orders that are not cancelled, this checkout's lines included
    (already inserted), within each SKU's max_per_user. Runs after stock_reserve has locked the SKU
    rows, so two checkouts of one buyer queue and the second one counts the first one's lines."""
    limits = {sku.pk: sku.max_per_user for group in plan.groups for sku, _quantity in group.lines if sku.max_per_user}
    if not limits:
        return
    held = dict(
        OrderLine.objects.filter(order__buyer=buyer, sku_id__in=list(limits))
        .exclude(order__status=Order.Status.CANCELLED)
        .values("sku_id")
        .annotate(units=Sum("quantity"))
        .values_list("sku_id", "units")
        .order_by()
    )
    over = {
        str(sku_id): max(0, limit - (held.get(sku_id, 0) - plan.quantities[sku_id]))
        for sku_id, limit in limits.items()
        if held.get(sku_id, 0) > limit
    }
    if over:
        raise ValidationFailed(
            _("You have reached the purchase limit for this item."), code="purchase_limit", fields=over
        )


def checkout_place(
    *,
    buyer: Any,
    address_id: int,
    items: Sequence[tuple[Any, Any]] | None = None,
    from_cart: bool = False,
    coupon_code: str | None = None,
    visitor_key: str | None = None,
    now: datetime | None = None,
    savepoint: bool = True,
) -> Checkout:
    """Reserve stock and create one Checkout with one Order per merchant, all or nothing.

    Built for a rush on one SKU (docs/benchmarks.md, "Flash sale"): reads and checks come first
    (a line already seen short is refused before anything is written), then the inserts, and the
    stock reservation (one conditional UPDATE, catalog.stock.stock_reserve) is the last write, so
    the hot SKU row is locked from that statement to COMMIT only; the purchase-limit count and the
    coupon redemption follow it when they apply (both need the SKU lock held). The checkout comes
    back with its orders and lines loaded: the caller needs no read-back.

    Inside a transaction, a failure rolls back to a savepoint, so the caller may go on; a caller
    that rolls its whole transaction back on any error anyway (the API's idempotency block) passes
    `savepoint=False` and saves two statements, one of them while the SKU row is locked.

    The number of queries does not depend on the number of lines: one read of all SKUs, one
    conditional UPDATE reserving all of them, bulk inserts; a coupon adds a constant 4 (5 with a
    per-user limit): quote (read, count) and redeem (conditional UPDATE, count, insert).

    With a coupon the buyer pays goods - discount + shipping: the discount is spread over the lines
    it applies to (OrderLine.discount_amount, paid_amount = goods - discount), and each order's and
    the checkout's discount_total and total follow. A coupon that fails any check is a 422 with its
    code and nothing is written.

    Attribution (grassroots.commissions.services.checkout_attribution) is resolved for every line
    with the buyer's device key (`visitor_key`, the "gr_vid" cookie) and snapshotted on the lines:
    one query when nothing could be attributed, at most eight otherwise, whatever the number of
    lines. A self purchase gets the member price: an extra line discount (OrderLine.member_discount,
    included in discount_amount and in the order's and checkout's discount_total).
    """
    now = now or timezone.now()
    code = coupon_code.strip() if isinstance(coupon_code, str) else ""
    address = owned_address(owner=buyer, address_id=address_id)
    cart_item_ids: list[int] = []
    if from_cart:
        if items:
            raise ValidationFailed(_("Send items or from_cart, not both."), fields={"items": "conflict"})
        rows = list(CartItem.objects.filter(cart__user=buyer).values_list("pk", "sku_id", "quantity"))
        if not rows:
            raise ValidationFailed(_("Your cart is empty."), code="empty_cart")
        cart_item_ids = [pk for pk, _sku, _quantity in rows]
        items = [(sku_id, quantity) for _pk, sku_id, quantity in rows]
    plan = checkout_plan(items=items or [])
    quote = None
    if code:
        quote = coupon_quote(
            code=code, buyer=buyer, lines_by_merchant=plan.goods_by_merchant(), currency=plan.currency, now=now
        )
    # A line the plan's read already sees short is refused before anything is written: a sold-out
    # rush costs reads only. The reservation below re-checks every line on the latest rows.
    if short := plan.shortages():
        raise OutOfStock(_("Some items are out of stock or short."), fields=short)

    snapshot = address.snapshot()
    attribution = checkout_attribution(
        buyer=buyer,
        visitor_key=visitor_key,
        product_ids=[sku.product_id for group in plan.groups for sku, _quantity in group.lines],
        address=snapshot,
        at=now,
    )
    with transaction.atomic(savepoint=savepoint):
        return _checkout_write(
            buyer=buyer,
            plan=plan,
            snapshot=snapshot,
            cart_item_ids=cart_item_ids,
            quote=quote,
            attribution=attribution,
            now=now,
        )


def _checkout_write(
    *,
    buyer: Any,
    plan: CheckoutPlan,
    snapshot: dict[str, str],
    cart_item_ids: list[int],
    quote: CouponQuote | None,
    attribution: dict[int, LineAttribution],
    now: datetime,
) -> Checkout:
    """Insert everything first, then take the hot rows: the stock reservation is the last write
    but the purchase-limit count and the coupon (both only when they apply), so the SKU rows are
    held from that UPDATE to COMMIT only. Returns the checkout with its orders, their merchant and
    lines already loaded (what `checkout.orders.all()` and `order.lines.all()` give), so the caller
    needs no read-back."""
    expires_at = now + timedelta(minutes=orders_setting("ORDER_PAYMENT_TIMEOUT_MINUTES"))
    line_discounts = quote.line_discounts if quote else {}
    coupon_total = quote.discount_total if quote else 0
    # A platform coupon's discount is the platform's expense; a merchant coupon's is the merchant's.
    platform_funded = quote is not None and quote.coupon.scope == Coupon.Scope.PLATFORM
    # The member price of a self purchase comes off what the line costs after the coupon.
    member = {
        sku.pk: member_discount(
            paid=sku.price_amount * quantity - line_discounts.get(sku.pk, 0),
            bps=attribution.get(sku.product_id, NO_ATTRIBUTION).member_discount_bps,
        )
        for group in plan.groups
        for sku, quantity in group.lines
    }
    order_discounts = [
        sum(line_discounts.get(sku.pk, 0) + member[sku.pk] for sku, _q in group.lines) for group in plan.groups
    ]
    discount_total = coupon_total + sum(member.values())
    checkout = Checkout(
        buyer=buyer,
        currency=plan.currency,
        goods_total=plan.goods_total,
        shipping_total=plan.shipping_total,
        discount_total=discount_total,
        total=plan.total - discount_total,
        coupon_code=quote.coupon.code if quote else "",
        expires_at=expires_at,
    )
    insert_rows([checkout])
    orders = [
        Order(
            checkout=checkout,
            merchant=group.merchant,
            buyer=buyer,
            address=snapshot,
            currency=plan.currency,
            goods_total=group.goods_total,
            shipping_total=group.shipping_total,
            discount_total=discount,
            total=group.total - discount,
            placed_at=now,
        )
        for group, discount in zip(plan.groups, order_discounts, strict=True)
    ]
    insert_rows(orders)
    lines = [
        _order_line(
            order=order,
            sku=sku,
            quantity=quantity,
            coupon_discount=line_discounts.get(sku.pk, 0),
            platform_funded=platform_funded,
            member=member[sku.pk],
            attribution=attribution.get(sku.product_id, NO_ATTRIBUTION),
        )
        for order, group in zip(orders, plan.groups, strict=True)
        for sku, quantity in group.lines
    ]
    insert_rows(lines)
    insert_rows(
        [
            OrderStatusChange(order=order, from_status="", to_status=order.status, action="place", actor=buyer)
            for order in orders
        ]
    )
    if cart_item_ids:
        CartItem.objects.filter(pk__in=cart_item_ids).delete()
    # The hot rows, last. Lock order: SKU rows, then the coupon row (as in _checkout_close).
    stock_reserve(lines=plan.quantities)
    _check_purchase_limits(buyer=buyer, plan=plan)
    if quote:
        coupon_redeem(coupon=quote.coupon, buyer=buyer, checkout_id=checkout.pk, amount=coupon_total, now=now)
    checkout_id = checkout.pk
    transaction.on_commit(lambda: _schedule_expiry(checkout_id, expires_at))
    by_order: dict[int, list[OrderLine]] = {order.pk: [] for order in orders}
    for line in lines:
        by_order[line.order_id].append(line)
    # What checkout.orders.all() / order.lines.all() return, without reading back what was written.
    checkout._prefetched_objects_cache = {"orders": orders}  # type: ignore[attr-defined]
    for order in orders:
        order._prefetched_objects_cache = {"lines": by_order[order.pk]}  # type: ignore[attr-defined]
    return checkout


def _order_line(
    *,
    order: Order,
    sku: Sku,
    quantity: int,
    coupon_discount: int,
    platform_funded: bool,
    member: int,
    attribution: LineAttribution,
) -> OrderLine:
    discount = coupon_discount + member
    return OrderLine(
        order=order,
        sku=sku,
        product=sku.product,
        product_title=sku.product.title[:160],
        sku_label=sku.label[:120],
        unit_price=sku.price_amount,
        quantity=quantity,
        discount_amount=discount,
        paid_amount=sku.price_amount * quantity - discount,
        member_discount=member,
        platform_discount=coupon_discount if platform_funded else 0,
        attribution_rule=attribution.rule,
        attributed_shop_id=attribution.shop_id,
        attributed_shopkeeper_id=attribution.shopkeeper_id,
        attribution_click_id=attribution.click_id,
        commission_rate_bps=attribution.rate_bps,
        attribution_held=attribution.held,
        attribution_hold_reason=attribution.hold_reason,
    )


def _schedule_expiry(checkout_id: int, expires_at: datetime) -> None:
    """With a worker backend, expire this checkout on time; otherwise the cron command does."""
    from django.tasks import default_task_backend

    if not default_task_backend.supports_defer:
        return
    from grassroots.orders.tasks import expire_checkout

    expire_checkout.using(run_after=expires_at).enqueue(checkout_id)


def _checkout_close(*, checkout_id: int, action: str, actor: Any, now: datetime) -> bool:
    """pending_payment -> cancelled/expired with its orders, releasing their stock. False when the
    checkout was no longer pending (someone else closed or paid it): nothing changed."""
    target = CHECKOUT_MACHINE.next_state(Checkout.Status.PENDING_PAYMENT, action)
    order_target = ORDER_MACHINE.next_state(Order.Status.PENDING_PAYMENT, action)
    with transaction.atomic():
        won = Checkout.objects.filter(pk=checkout_id, status=Checkout.Status.PENDING_PAYMENT).update(
            status=target, closed_at=now
        )
        if won != 1:
            return False
        # Winning the checkout row means no one else moves these orders out of pending_payment.
        pending = Order.objects.filter(checkout_id=checkout_id, status=Order.Status.PENDING_PAYMENT)
        orders = list(pending)
        pending.update(status=order_target, cancelled_at=now)
        lines = OrderLine.objects.filter(order__in=[o.pk for o in orders]).values_list("sku_id", "quantity")
        stock_release(lines=merge_lines(lines))
        coupon_release(checkout_id=checkout_id, now=now)
        audit_rows(orders, from_status=Order.Status.PENDING_PAYMENT, to_status=order_target, action=action, actor=actor)
        _payment_intents_close(checkout_id=checkout_id, action=action, actor=actor)
    return True


def _payment_intents_close(*, checkout_id: int, action: str, actor: Any) -> None:
    """Nothing is left to pay: a declined (failed) or untouched intent of the checkout is cancelled
    with it. One still processing stays open; if its capture arrives, `checkout_mark_paid` finds
    the checkout closed and refunds it in full."""
    from grassroots.payments.services import payment_intents_close_unpaid

    payment_intents_close_unpaid(
        kind="checkout", payable_id=checkout_id, actor_id=getattr(actor, "pk", None), note=f"checkout {action}"
    )


def checkout_cancel(*, buyer: Any, checkout_id: int, now: datetime | None = None) -> Checkout:
    """The buyer gives up before paying: every order of the checkout is cancelled, stock released.
    Cancelling again is a no-op; a paid checkout is a 409 (that is a refund)."""
    checkout = Checkout.objects.filter(pk=check_id(checkout_id, field="checkout_id"), buyer=buyer).first()
    if checkout is None:
        raise NotFound(_("Checkout not found."))
    _checkout_close(checkout_id=checkout.pk, action="cancel", actor=buyer, now=now or timezone.now())
    checkout.refresh_from_db()
    if checkout.status == Checkout.Status.PAID:
        raise InvalidTransition(_("This checkout is paid; ask for a refund instead."), code="already_paid")
    return checkout


def checkout_expire(*, checkout_id: int, now: datetime | None = None) -> bool:
    """Expire one checkout if its payment window has passed; idempotent."""
    now = now or timezone.now()
    if not Checkout.objects.filter(
        pk=checkout_id, status=Checkout.Status.PENDING_PAYMENT, expires_at__lte=now
    ).exists():
        return False
    return _checkout_close(checkout_id=checkout_id, action="expire", actor=None, now=now)


def checkouts_expire(*, now: datetime | None = None, batch: int = 500) -> int:
    """Expire every unpaid checkout whose window has passed; returns how many. Idempotent."""
    now = now or timezone.now()
    ids = list(
        Checkout.objects.filter(status=Checkout.Status.PENDING_PAYMENT, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:batch]
    )
    return sum(_checkout_close(checkout_id=pk, action="expire", actor=None, now=now) for pk in ids)
