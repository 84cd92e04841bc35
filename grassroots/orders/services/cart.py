"""Carts: a signed-in user's, or an anonymous session's until cart_merge at sign-in."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from grassroots.catalog.models import Sku
from grassroots.catalog.stock import OutOfStock
from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.orders.models import Cart, CartItem
from grassroots.orders.services.common import MAX_CART_ITEMS, MAX_QUANTITY, check_id, check_quantity, sellable_skus


def cart_get_or_create(*, user: Any = None, session_key: str | None = None) -> Cart:
    """The signed-in user's cart, else the session's."""
    if user is not None and user.is_authenticated:
        cart, _created = Cart.objects.get_or_create(user=user)
        return cart
    if not session_key:
        raise ValueError("an anonymous cart needs a session key")
    cart, _created = Cart.objects.get_or_create(session_key=session_key)
    return cart


def _stock_check(sku: Sku, quantity: int) -> None:
    if sku.stock < quantity:
        raise OutOfStock(_("Only %(n)s left.") % {"n": sku.stock}, fields={str(sku.pk): sku.stock})


def cart_add(*, cart: Cart, sku_id: int, quantity: int) -> CartItem:
    """Add units of a SKU; the line's total stays within 1..99 and within free stock."""
    quantity = check_quantity(quantity)
    sku_id = check_id(sku_id, field="sku_id")
    sku = sellable_skus([sku_id])[sku_id]
    with transaction.atomic():
        item = CartItem.objects.filter(cart=cart, sku_id=sku_id).first()
        if item is None:
            if CartItem.objects.filter(cart=cart).count() >= MAX_CART_ITEMS:
                raise ValidationFailed(
                    _("Your cart is full (%(max)s items).") % {"max": MAX_CART_ITEMS}, code="cart_full"
                )
            _stock_check(sku, quantity)
            try:
                with transaction.atomic():
                    return CartItem.objects.create(cart=cart, sku=sku, quantity=quantity)
            except IntegrityError:
                # A parallel add created the line first: add to it instead.
                item = CartItem.objects.get(cart=cart, sku_id=sku_id)
        _stock_check(sku, item.quantity + quantity)
        added = CartItem.objects.filter(pk=item.pk, quantity__lte=MAX_QUANTITY - quantity).update(
            quantity=F("quantity") + quantity
        )
        if added != 1:
            raise ValidationFailed(
                _("At most %(max)s of one item per order.") % {"max": MAX_QUANTITY},
                code="invalid_quantity",
                fields={"quantity": "out_of_range"},
            )
        item.refresh_from_db()
        return item


def _cart_item(cart: Cart, item_id: Any) -> CartItem:
    item = CartItem.objects.select_related("sku").filter(pk=check_id(item_id, field="item_id"), cart=cart).first()
    if item is None:
        raise NotFound(_("Cart item not found."))
    return item


def cart_update(*, cart: Cart, item_id: int, quantity: int) -> CartItem:
    quantity = check_quantity(quantity)
    item = _cart_item(cart, item_id)
    _stock_check(item.sku, quantity)
    CartItem.objects.filter(pk=item.pk).update(quantity=quantity)
    item.quantity = quantity
    return item


def cart_remove(*, cart: Cart, item_id: int) -> None:
    deleted, _rows = CartItem.objects.filter(pk=check_id(item_id, field="item_id"), cart=cart).delete()
    if not deleted:
        raise NotFound(_("Cart item not found."))


def cart_merge(*, session_key: str, user: Any) -> Cart | None:
    """Fold the guest cart of `session_key` into the user's cart at sign-in; quantities add up,
    capped at 99. Call it from the login view with the session key from before login."""
    if not session_key or user is None or not user.is_authenticated:
        return None
    with transaction.atomic():
        guest = Cart.objects.filter(session_key=session_key).first()
        if guest is None:
            return None
        cart, _created = Cart.objects.get_or_create(user=user)
        mine = {item.sku_id: item for item in cart.items.all()}
        for item in list(guest.items.all()):
            existing = mine.get(item.sku_id)
            if existing is None:
                CartItem.objects.filter(pk=item.pk).update(cart=cart)
            else:
                CartItem.objects.filter(pk=existing.pk).update(
                    quantity=min(MAX_QUANTITY, existing.quantity + item.quantity)
                )
        guest.delete()
        return cart
