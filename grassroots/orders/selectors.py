"""Reads for carts, addresses, checkouts and orders, each scoped to who may see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.merchants.models import Merchant
from grassroots.orders.models import (
    RETURN_OPEN_STATUSES,
    Address,
    Cart,
    CartItem,
    Checkout,
    Order,
    OrderLine,
    OrderStatusChange,
    ReturnLine,
    ReturnRequest,
    ReturnStatusChange,
    ShippingRule,
)


def cart_find(*, user: Any = None, session_key: str | None = None) -> Cart | None:
    if user is not None and user.is_authenticated:
        return Cart.objects.filter(user=user).first()
    if session_key:
        return Cart.objects.filter(session_key=session_key).first()
    return None


def cart_items(*, cart: Cart | None) -> list[CartItem]:
    if cart is None:
        return []
    return list(
        CartItem.objects.filter(cart=cart)
        .select_related("sku", "sku__product", "sku__product__merchant")
        .order_by("sku__product__merchant_id", "-added_at", "-id")
    )


def addresses_for(*, owner: Any) -> QuerySet[Address]:
    return Address.objects.filter(owner=owner).order_by("-is_default", "-id")


def _with_lines(queryset: QuerySet[Order]) -> QuerySet[Order]:
    return (
        queryset.select_related("merchant")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.select_related("product").order_by("id")))
        .annotate(refund_requested=Exists(open_refund_only_requests(order=OuterRef("pk"))))
    )


# --- what the order's status does not say ----------------------------------------------------------

REFUND_NONE = "none"
REFUND_PARTIAL = "partial"
REFUND_FULL = "full"


def order_refund_state(order: Order) -> str:
    """What was refunded of `order`: "full" (every unit of every line), "partial" (some), or "none".

    Derived from the lines' refunded counters (prefetched by the selectors here), so the order's
    own status (a delivered order stays delivered after a return) is left to the order machine."""
    lines = list(order.lines.all())
    refunded = sum(line.refunded_quantity for line in lines)
    if not refunded:
        return REFUND_NONE
    if all(line.refunded_quantity >= line.quantity for line in lines):
        return REFUND_FULL
    return REFUND_PARTIAL


def open_refund_only_requests(*, order: Any) -> QuerySet[ReturnRequest]:
    """Refund-only requests of `order` (an id or OuterRef) still waiting for the merchant: while
    one is open the order must not be shipped (see services.order_ship)."""
    return ReturnRequest.objects.filter(
        order=order, kind=ReturnRequest.Kind.REFUND_ONLY, status__in=RETURN_OPEN_STATUSES
    )


def checkout_for_buyer(*, buyer: Any, checkout_id: int) -> Checkout:
    checkout = (
        Checkout.objects.filter(pk=checkout_id, buyer=buyer)
        .prefetch_related(Prefetch("orders", queryset=_with_lines(Order.objects.order_by("id"))))
        .first()
    )
    if checkout is None:
        raise NotFound(_("Checkout not found."))
    return checkout


def _status_filter(queryset: QuerySet[Order], status: str | None) -> QuerySet[Order]:
    if status:
        if status not in Order.Status.values:
            raise ValidationFailed(_("Unknown status."), fields={"status": "invalid"})
        queryset = queryset.filter(status=status)
    return queryset


def orders_for_buyer(*, buyer: Any, status: str | None = None) -> QuerySet[Order]:
    return _with_lines(_status_filter(Order.objects.filter(buyer=buyer), status))


def order_for_buyer(*, buyer: Any, order_id: int) -> Order:
    order = (
        _with_lines(Order.objects.filter(pk=order_id, buyer=buyer))
        .prefetch_related(
            Prefetch(
                "status_changes",
                queryset=OrderStatusChange.objects.select_related("actor").order_by("created_at", "id"),
            )
        )
        .first()
    )
    if order is None:
        raise NotFound(_("Order not found."))
    return order


def merchant_for_console(*, user: Any) -> Merchant | None:
    """The merchant whose orders `user` handles (their first membership), or None."""
    from grassroots.merchants.selectors import user_active_merchant

    return user_active_merchant(user=user)


def merchant_orders(*, merchant: Merchant, status: str | None = None) -> QuerySet[Order]:
    return _with_lines(_status_filter(Order.objects.filter(merchant=merchant), status)).select_related("buyer")


def merchant_order_for_member(*, user: Any, order_id: int) -> Order:
    """An order of a merchant `user` belongs to; NotFound for anyone else."""
    if not getattr(user, "is_authenticated", False):
        raise NotFound(_("Order not found."))
    order = _with_lines(Order.objects.filter(pk=order_id, merchant__memberships__user=user)).first()
    if order is None:
        raise NotFound(_("Order not found."))
    return order


def pay_start_url(*, checkout_id: int) -> str:
    """The payments page that takes a POST to start paying this checkout."""
    for name in ("payments:pay_start", "payments:start"):
        try:
            return reverse(name, kwargs={"kind": "checkout", "payable_id": checkout_id})
        except NoReverseMatch:
            continue
    return f"/payments/pay/start/checkout/{checkout_id}/"


def shipping_rule_for(*, merchant: Merchant, currency: str) -> ShippingRule | None:
    return ShippingRule.objects.filter(merchant=merchant, currency=currency).first()


# --- after-sale -----------------------------------------------------------------------------------


def _returns_with_lines(queryset: QuerySet[ReturnRequest]) -> QuerySet[ReturnRequest]:
    return queryset.select_related("order", "merchant").prefetch_related(
        Prefetch("lines", queryset=ReturnLine.objects.select_related("order_line").order_by("id"))
    )


def _with_history(queryset: QuerySet[ReturnRequest]) -> QuerySet[ReturnRequest]:
    return queryset.prefetch_related(
        Prefetch(
            "status_changes", queryset=ReturnStatusChange.objects.select_related("actor").order_by("created_at", "id")
        )
    )


def _return_status_filter(queryset: QuerySet[ReturnRequest], status: str | None) -> QuerySet[ReturnRequest]:
    if status:
        if status == "open":
            return queryset.filter(status__in=RETURN_OPEN_STATUSES)
        if status not in ReturnRequest.Status.values:
            raise ValidationFailed(_("Unknown status."), fields={"status": "invalid"})
        queryset = queryset.filter(status=status)
    return queryset


def returns_for_buyer(*, buyer: Any, status: str | None = None) -> QuerySet[ReturnRequest]:
    return _with_history(_returns_with_lines(_return_status_filter(ReturnRequest.objects.filter(buyer=buyer), status)))


def return_for_buyer(*, buyer: Any, return_id: int) -> ReturnRequest:
    found = _with_history(_returns_with_lines(ReturnRequest.objects.filter(pk=return_id, buyer=buyer))).first()
    if found is None:
        raise NotFound(_("Return not found."))
    return found


def merchant_returns(*, merchant: Merchant, status: str | None = None) -> QuerySet[ReturnRequest]:
    return _with_history(
        _returns_with_lines(_return_status_filter(ReturnRequest.objects.filter(merchant=merchant), status))
    ).select_related("buyer")


def return_for_member(*, user: Any, return_id: int) -> ReturnRequest:
    """A return to a merchant `user` belongs to; NotFound for anyone else."""
    if not getattr(user, "is_authenticated", False):
        raise NotFound(_("Return not found."))
    found = (
        _with_history(_returns_with_lines(ReturnRequest.objects.filter(pk=return_id, merchant__memberships__user=user)))
        .select_related("buyer")
        .first()
    )
    if found is None:
        raise NotFound(_("Return not found."))
    return found


def order_returns(*, order: Order) -> list[ReturnRequest]:
    return list(_returns_with_lines(ReturnRequest.objects.filter(order=order)).order_by("-id"))


@dataclass(frozen=True)
class ReturnableLine:
    line: OrderLine
    left: int  # units that may be asked for now (0 while a return of the line is open)
    open: bool


@dataclass(frozen=True)
class AftersaleOptions:
    """What the buyer may ask for on an order now (for the order page's forms)."""

    kind: str | None
    code: str
    window_closes_at: datetime | None
    lines: list[ReturnableLine]

    @property
    def any(self) -> bool:
        return self.kind is not None and any(item.left for item in self.lines)


def aftersale_options(*, order: Order, now: datetime | None = None) -> AftersaleOptions:
    """Per line of `order` (its lines prefetched), the units the buyer may return or have refunded."""
    from grassroots.orders.services.aftersale import open_quantities, order_eligibility

    eligibility = order_eligibility(order=order, now=now)
    lines = list(order.lines.all())
    held = open_quantities(order_line_ids=[line.pk for line in lines]) if eligibility.kind else {}
    return AftersaleOptions(
        kind=eligibility.kind,
        code=eligibility.code,
        window_closes_at=eligibility.window_closes_at,
        lines=[
            ReturnableLine(
                line=line,
                left=0 if held.get(line.pk) or not eligibility.kind else line.quantity - line.refunded_quantity,
                open=bool(held.get(line.pk)),
            )
            for line in lines
        ],
    )
