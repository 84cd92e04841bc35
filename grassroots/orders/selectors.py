"""Reads for carts, addresses, checkouts and orders, each scoped to who may see it."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.merchants.models import Merchant
from grassroots.orders.models import (
    Address,
    Cart,
    CartItem,
    Checkout,
    Order,
    OrderLine,
    OrderStatusChange,
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
    return queryset.select_related("merchant").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.select_related("product").order_by("id"))
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
