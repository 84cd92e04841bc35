"""Orders API: cart, address book, checkout, the buyer's orders and the merchant's queue.

Every object is scoped to its owner (or the merchant's members): anyone else gets a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from pydantic import StrictBool, StrictInt

from grassroots.core.api_schemas import ErrorOut, error_responses
from grassroots.core.conf import gr_setting
from grassroots.core.errors import PermissionDenied
from grassroots.core.idempotency import PROVIDER_WAIT_SECONDS, idempotent
from grassroots.core.pagination import paginate
from grassroots.orders import selectors, services
from grassroots.orders.models import Address, CartItem, Checkout, Order, OrderLine, OrderStatusChange

router = Router(tags=["orders"])


ERRORS = error_responses(400, 403, 404, 409, 422)


# --- cart ---------------------------------------------------------------------------------------


class CartItemIn(Schema):
    sku_id: StrictInt
    quantity: StrictInt


class CartItemPatch(Schema):
    quantity: StrictInt


class CartItemOut(Schema):
    id: int
    sku_id: int
    product_id: int
    product_title: str
    sku_label: str
    merchant_id: int
    unit_price: int
    currency: str
    quantity: int
    line_total: int
    available: bool


class CartOut(Schema):
    items: list[CartItemOut]


def _cart_item_out(item: CartItem) -> CartItemOut:
    sku = item.sku
    product = sku.product
    return CartItemOut(
        id=item.pk,
        sku_id=sku.pk,
        product_id=product.pk,
        product_title=product.title,
        sku_label=sku.label,
        merchant_id=product.merchant_id,
        unit_price=sku.price_amount,
        currency=sku.currency,
        quantity=item.quantity,
        line_total=sku.price_amount * item.quantity,
        available=sku.is_active and product.is_listed and sku.stock >= item.quantity,
    )


def _user_cart(request: HttpRequest) -> Any:
    return services.cart_get_or_create(user=request.user)


def _one_item(cart: Any, item_id: int) -> CartItemOut:
    items = [i for i in selectors.cart_items(cart=cart) if i.pk == item_id]
    return _cart_item_out(items[0])


@router.get("/cart/items", response={200: CartOut})
def cart_list(request: HttpRequest) -> CartOut:
    cart = selectors.cart_find(user=request.user)
    return CartOut(items=[_cart_item_out(i) for i in selectors.cart_items(cart=cart)])


@router.post("/cart/items", response={201: CartItemOut, **ERRORS})
def cart_add(request: HttpRequest, payload: CartItemIn) -> tuple[int, CartItemOut]:
    """Add units of a SKU (quantity 1..99; adding to a line already in the cart adds up)."""
    cart = _user_cart(request)
    item = services.cart_add(cart=cart, sku_id=payload.sku_id, quantity=payload.quantity)
    return 201, _one_item(cart, item.pk)


@router.patch("/cart/items/{item_id}", response={200: CartItemOut, **ERRORS})
def cart_update(request: HttpRequest, item_id: int, payload: CartItemPatch) -> CartItemOut:
    cart = _user_cart(request)
    item = services.cart_update(cart=cart, item_id=item_id, quantity=payload.quantity)
    return _one_item(cart, item.pk)


@router.delete("/cart/items/{item_id}", response={204: None, **ERRORS})
def cart_remove(request: HttpRequest, item_id: int) -> tuple[int, None]:
    services.cart_remove(cart=_user_cart(request), item_id=item_id)
    return 204, None


# --- addresses ----------------------------------------------------------------------------------


class AddressIn(Schema):
    name: str = Field(max_length=200)
    phone: str = Field(max_length=40)
    region: str = Field(max_length=200)
    city: str = Field(max_length=200)
    line1: str = Field(max_length=400)
    postcode: str = Field("", max_length=40)
    is_default: StrictBool = False


class AddressPatch(Schema):
    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40)
    region: str | None = Field(None, max_length=200)
    city: str | None = Field(None, max_length=200)
    line1: str | None = Field(None, max_length=400)
    postcode: str | None = Field(None, max_length=40)
    is_default: StrictBool | None = None


class AddressOut(Schema):
    id: int
    name: str
    phone: str
    region: str
    city: str
    line1: str
    postcode: str
    is_default: bool


def _address_out(address: Address) -> AddressOut:
    return AddressOut.model_validate(address, from_attributes=True)


@router.get("/addresses", response={200: list[AddressOut]})
def address_list(request: HttpRequest) -> list[AddressOut]:
    return [_address_out(a) for a in selectors.addresses_for(owner=request.user)]


@router.post("/addresses", response={201: AddressOut, **ERRORS})
def address_create(request: HttpRequest, payload: AddressIn) -> tuple[int, AddressOut]:
    data = services.AddressInput(**payload.model_dump(exclude={"is_default"}))
    address = services.address_create(owner=request.user, data=data, is_default=payload.is_default)
    return 201, _address_out(address)


@router.patch("/addresses/{address_id}", response={200: AddressOut, **ERRORS})
def address_update(request: HttpRequest, address_id: int, payload: AddressPatch) -> AddressOut:
    changes = payload.model_dump(exclude_none=True, exclude={"is_default"})
    data = None
    if changes:
        current = services.owned_address(owner=request.user, address_id=address_id)
        data = services.AddressInput(**{**current.snapshot(), **changes})
    address = services.address_update(
        owner=request.user, address_id=address_id, data=data, is_default=payload.is_default
    )
    return _address_out(address)


@router.delete("/addresses/{address_id}", response={204: None, **ERRORS})
def address_delete(request: HttpRequest, address_id: int) -> tuple[int, None]:
    services.address_delete(owner=request.user, address_id=address_id)
    return 204, None


# --- checkout and orders -------------------------------------------------------------------------


class LineIn(Schema):
    sku_id: StrictInt
    quantity: StrictInt


class CheckoutIn(Schema):
    address_id: StrictInt
    items: list[LineIn] | None = Field(None, max_length=200)
    from_cart: StrictBool = False
    coupon_code: str | None = Field(None, max_length=40)


class OrderLineOut(Schema):
    id: int
    sku_id: int
    product_id: int
    product_title: str
    sku_label: str
    unit_price: int
    quantity: int
    discount_amount: int
    platform_discount: int = Field(
        description="The part of discount_amount a platform coupon took off: the platform pays it to the merchant."
    )
    paid_amount: int
    refunded_amount: int
    refunded_quantity: int


class StatusChangeOut(Schema):
    from_status: str
    to_status: str
    action: str
    note: str
    created_at: datetime


class OrderOut(Schema):
    id: int
    checkout_id: int
    merchant_id: int
    merchant_name: str
    buyer_id: int
    status: str
    currency: str
    goods_total: int
    shipping_total: int
    discount_total: int
    total: int
    address: dict[str, str]
    placed_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    carrier: str
    tracking_number: str
    delivered_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    refund_state: Literal["none", "partial", "full"] = Field(
        description="What was refunded of the order's units (returns, refund-only): none, some (partial) or every "
        "unit (full). `status` follows the order's lifecycle only: a delivered order whose goods all came back stays "
        "`delivered` with `refund_state: full`."
    )
    refund_requested: bool = Field(
        description="A refund-only request of this order is waiting for the merchant's decision; the order cannot be "
        "shipped until it is approved or rejected (409 `refund_requested`)."
    )
    lines: list[OrderLineOut]


class OrderDetailOut(OrderOut):
    history: list[StatusChangeOut]


class OrdersPage(Schema):
    items: list[OrderOut]
    next_cursor: str | None


class CheckoutOut(Schema):
    id: int
    status: str
    currency: str
    goods_total: int
    shipping_total: int
    discount_total: int
    total: int
    coupon_code: str
    expires_at: datetime
    created_at: datetime
    paid_at: datetime | None
    # POST here (signed in) to pay: the payment page takes over.
    pay_url: str
    orders: list[OrderOut]


# The builders below give plain dicts: ninja validates them against the declared response schema
# once, on the way out. Building the schema objects here as well doubled that work on the hottest
# endpoint (docs/benchmarks.md, "Flash sale").
_LINE_FIELDS = tuple(OrderLineOut.model_fields)
_ORDER_FIELDS = tuple(name for name in OrderOut.model_fields if name not in {"merchant_name", "refund_state", "lines"})
_CHECKOUT_FIELDS = tuple(name for name in CheckoutOut.model_fields if name not in {"pay_url", "orders"})


def _line_out(line: OrderLine) -> dict[str, Any]:
    return {name: getattr(line, name) for name in _LINE_FIELDS}


def _order_out(order: Order) -> dict[str, Any]:
    fields = {name: getattr(order, name) for name in _ORDER_FIELDS if hasattr(order, name)}
    return {
        **fields,
        "merchant_name": order.merchant.name,
        "refund_state": selectors.order_refund_state(order),
        # Annotated by the order selectors; an order just placed has no request yet.
        "refund_requested": bool(getattr(order, "refund_requested", False)),
        "lines": [_line_out(line) for line in order.lines.all()],
    }


def _history_out(change: OrderStatusChange) -> dict[str, Any]:
    return {name: getattr(change, name) for name in StatusChangeOut.model_fields}


def _order_detail_out(order: Order) -> dict[str, Any]:
    return {**_order_out(order), "history": [_history_out(change) for change in order.status_changes.all()]}


def _checkout_out(checkout: Checkout) -> dict[str, Any]:
    return {
        **{name: getattr(checkout, name) for name in _CHECKOUT_FIELDS},
        "pay_url": selectors.pay_start_url(checkout_id=checkout.pk),
        "orders": [_order_out(o) for o in checkout.orders.all()],
    }


@router.post("/checkout", response={201: CheckoutOut, **ERRORS})
def checkout_create(request: HttpRequest, payload: CheckoutIn) -> tuple[int, Any]:
    """Reserve stock and place one order per merchant under one checkout; pay it within
    ORDER_PAYMENT_TIMEOUT_MINUTES. Send `items` or `from_cart: true`. Requires an
    `Idempotency-Key` header: a retry returns the same checkout."""

    def run() -> tuple[int, Any]:
        checkout = services.checkout_place(
            buyer=request.user,
            address_id=payload.address_id,
            items=[(line.sku_id, line.quantity) for line in payload.items] if payload.items is not None else None,
            from_cart=payload.from_cart,
            coupon_code=payload.coupon_code,
            visitor_key=request.COOKIES.get("gr_vid"),
            savepoint=False,  # idempotent() rolls its whole transaction back on any error
        )
        return 201, _checkout_out(checkout)  # orders and lines come back loaded: no read-back

    return idempotent(request, scope="orders.checkout", body=payload.model_dump(), run=run)


@router.get("/checkouts/{checkout_id}", response={200: CheckoutOut, 404: ErrorOut})
def checkout_get(request: HttpRequest, checkout_id: int) -> dict[str, Any]:
    return _checkout_out(selectors.checkout_for_buyer(buyer=request.user, checkout_id=checkout_id))


@router.post("/checkouts/{checkout_id}/cancel", response={200: CheckoutOut, **ERRORS})
def checkout_cancel(request: HttpRequest, checkout_id: int) -> dict[str, Any]:
    """Cancel before paying: all its orders are cancelled and their stock released. Repeating it is
    harmless; a paid checkout is a 409."""
    services.checkout_cancel(buyer=request.user, checkout_id=checkout_id)
    return _checkout_out(selectors.checkout_for_buyer(buyer=request.user, checkout_id=checkout_id))


def _page_size(limit: int | None) -> int:
    return int(limit or gr_setting("API_PAGE_SIZE"))


@router.get("/orders", response={200: OrdersPage, 422: ErrorOut})
def order_list(
    request: HttpRequest, status: str | None = None, cursor: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    """Your orders, newest first."""
    items, next_cursor = paginate(
        selectors.orders_for_buyer(buyer=request.user, status=status), cursor=cursor, limit=_page_size(limit)
    )
    return {"items": [_order_out(o) for o in items], "next_cursor": next_cursor}


@router.get("/orders/{order_id}", response={200: OrderDetailOut, 404: ErrorOut})
def order_get(request: HttpRequest, order_id: int) -> dict[str, Any]:
    return _order_detail_out(selectors.order_for_buyer(buyer=request.user, order_id=order_id))


@router.post("/orders/{order_id}/confirm-receipt", response={200: OrderDetailOut, **ERRORS})
def order_confirm_receipt(request: HttpRequest, order_id: int) -> dict[str, Any]:
    order = selectors.order_for_buyer(buyer=request.user, order_id=order_id)
    services.order_confirm_receipt(buyer=request.user, order=order)
    return _order_detail_out(selectors.order_for_buyer(buyer=request.user, order_id=order_id))


# --- merchant ------------------------------------------------------------------------------------


class ShipIn(Schema):
    carrier: str = Field(max_length=80)
    tracking_number: str = Field(max_length=80)


def _console_merchant(request: HttpRequest, merchant_id: int | None) -> Any:
    if merchant_id is not None:
        from grassroots.merchants.selectors import merchant_for_member

        return merchant_for_member(user=request.user, merchant_id=merchant_id)
    merchant = selectors.merchant_for_console(user=request.user)
    if merchant is None:
        raise PermissionDenied("You are not a member of a merchant.", code="not_a_merchant")
    return merchant


@router.get("/merchant/orders", response={200: OrdersPage, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut})
def merchant_order_list(
    request: HttpRequest,
    status: str | None = None,
    merchant_id: int | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Orders of your merchant (the first you belong to, or `merchant_id`), newest first;
    `status=paid` is the queue to ship (less those with `refund_requested`: decide the refund first)."""
    merchant = _console_merchant(request, merchant_id)
    items, next_cursor = paginate(
        selectors.merchant_orders(merchant=merchant, status=status), cursor=cursor, limit=_page_size(limit)
    )
    return {"items": [_order_out(o) for o in items], "next_cursor": next_cursor}


@router.post("/merchant/orders/{order_id}/ship", response={200: OrderOut, **ERRORS})
def merchant_order_ship(request: HttpRequest, order_id: int, payload: ShipIn) -> dict[str, Any]:
    """Hand a paid order to a carrier. 409 `refund_requested` while the buyer's refund-only request
    of it waits for your decision (approve or reject it first)."""
    order = selectors.merchant_order_for_member(user=request.user, order_id=order_id)
    services.order_ship(
        actor=request.user, order=order, carrier=payload.carrier, tracking_number=payload.tracking_number
    )
    return _order_out(selectors.merchant_order_for_member(user=request.user, order_id=order_id))


# --- after-sale ----------------------------------------------------------------------------------


class ReturnLineIn(Schema):
    line_id: StrictInt
    quantity: StrictInt


class ReturnIn(Schema):
    lines: list[ReturnLineIn] = Field(max_length=50)
    reason: str = Field("", max_length=2000)
    kind: str = Field(max_length=20, description='"return" (after delivery) or "refund_only" (before shipping)')


class ShipBackIn(Schema):
    carrier: str = Field(max_length=80)
    tracking_number: str = Field(max_length=80)


class RejectIn(Schema):
    reason: str = Field(max_length=2000)


class ReturnLineOut(Schema):
    id: int
    order_line_id: int
    product_title: str
    sku_label: str
    quantity: int
    # Set when refunded (0 before).
    refund_amount: int


class ReturnStatusChangeOut(Schema):
    from_status: str
    to_status: str
    action: str
    note: str
    created_at: datetime


class ReturnOut(Schema):
    id: int
    order_id: int
    merchant_id: int
    buyer_id: int
    kind: str
    status: str
    currency: str
    reason: str
    reject_reason: str
    carrier: str
    tracking_number: str
    refund_amount: int
    shipping_refund: int
    created_at: datetime
    decided_at: datetime | None
    shipped_back_at: datetime | None
    received_at: datetime | None
    refunded_at: datetime | None
    closed_at: datetime | None
    lines: list[ReturnLineOut]
    history: list[ReturnStatusChangeOut]


class ReturnsPage(Schema):
    items: list[ReturnOut]
    next_cursor: str | None


def _return_out(request: Any) -> ReturnOut:
    fields = {name: getattr(request, name) for name in ReturnOut.model_fields if name not in ("lines", "history")}
    return ReturnOut(
        **fields,
        lines=[
            ReturnLineOut(
                id=line.pk,
                order_line_id=line.order_line_id,
                product_title=line.order_line.product_title,
                sku_label=line.order_line.sku_label,
                quantity=line.quantity,
                refund_amount=line.refund_amount,
            )
            for line in request.lines.all()
        ],
        history=[ReturnStatusChangeOut.model_validate(c, from_attributes=True) for c in request.status_changes.all()],
    )


@router.post("/orders/{order_id}/returns", response={201: ReturnOut, **ERRORS})
def return_create(request: HttpRequest, order_id: int, payload: ReturnIn) -> tuple[int, Any]:
    """Ask for money back on units of your order. `kind: "refund_only"` while it is paid and not
    shipped (refunded at once; shipping too when nothing of the order is left); `kind: "return"`
    after delivery, within the return window (422 `return_window_closed` after it). More than bought
    less already refunded is 422 `refund_exceeds_paid`. Requires an `Idempotency-Key` header."""

    def run() -> tuple[int, Any]:
        created = services.return_request_create(
            buyer=request.user,
            order_id=order_id,
            kind=payload.kind,
            lines=[(line.line_id, line.quantity) for line in payload.lines],
            reason=payload.reason,
        )
        return 201, _return_out(selectors.return_for_buyer(buyer=request.user, return_id=created.pk))

    body = {"order_id": order_id, **payload.model_dump()}
    return idempotent(request, scope="orders.return_create", body=body, run=run, wait_seconds=PROVIDER_WAIT_SECONDS)


@router.get("/returns", response={200: ReturnsPage, 422: ErrorOut})
def return_list(
    request: HttpRequest, status: str | None = None, cursor: str | None = None, limit: int | None = None
) -> ReturnsPage:
    """Your returns and refunds, newest first; `status=open` for those still in progress."""
    items, next_cursor = paginate(
        selectors.returns_for_buyer(buyer=request.user, status=status), cursor=cursor, limit=_page_size(limit)
    )
    return ReturnsPage(items=[_return_out(r) for r in items], next_cursor=next_cursor)


@router.get("/returns/{return_id}", response={200: ReturnOut, 404: ErrorOut})
def return_get(request: HttpRequest, return_id: int) -> ReturnOut:
    return _return_out(selectors.return_for_buyer(buyer=request.user, return_id=return_id))


@router.post("/returns/{return_id}/ship-back", response={200: ReturnOut, **ERRORS})
def return_ship_back(request: HttpRequest, return_id: int, payload: ShipBackIn) -> ReturnOut:
    """You sent the goods of an approved return back: the carrier and tracking number."""
    services.return_ship_back(
        buyer=request.user, return_id=return_id, carrier=payload.carrier, tracking_number=payload.tracking_number
    )
    return _return_out(selectors.return_for_buyer(buyer=request.user, return_id=return_id))


@router.post("/returns/{return_id}/cancel", response={200: ReturnOut, **ERRORS})
def return_cancel(request: HttpRequest, return_id: int) -> ReturnOut:
    """Withdraw a return the merchant has not received yet."""
    services.return_cancel(buyer=request.user, return_id=return_id)
    return _return_out(selectors.return_for_buyer(buyer=request.user, return_id=return_id))


@router.get("/merchant/returns", response={200: ReturnsPage, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut})
def merchant_return_list(
    request: HttpRequest,
    status: str | None = None,
    merchant_id: int | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> ReturnsPage:
    """Returns to your merchant, newest first; `status=requested` is the queue to decide,
    `status=shipped_back` the parcels on their way, `status=open` everything in progress."""
    merchant = _console_merchant(request, merchant_id)
    items, next_cursor = paginate(
        selectors.merchant_returns(merchant=merchant, status=status), cursor=cursor, limit=_page_size(limit)
    )
    return ReturnsPage(items=[_return_out(r) for r in items], next_cursor=next_cursor)


@router.get("/merchant/returns/{return_id}", response={200: ReturnOut, 404: ErrorOut})
def merchant_return_get(request: HttpRequest, return_id: int) -> ReturnOut:
    return _return_out(selectors.return_for_member(user=request.user, return_id=return_id))


def _merchant_return_step(
    request: HttpRequest, *, return_id: int, step: Callable[..., object], scope: str
) -> tuple[int, Any]:
    """A merchant's step on a return that may refund through the provider: idempotent, and a
    duplicate waits at most PROVIDER_WAIT_SECONDS for the first (then 409 with Retry-After)."""

    def run() -> tuple[int, Any]:
        step(actor=request.user, return_id=return_id)
        return 200, _return_out(selectors.return_for_member(user=request.user, return_id=return_id))

    return idempotent(request, scope=scope, body={"return_id": return_id}, run=run, wait_seconds=PROVIDER_WAIT_SECONDS)


@router.post("/merchant/returns/{return_id}/approve", response={200: ReturnOut, **ERRORS})
def merchant_return_approve(request: HttpRequest, return_id: int) -> tuple[int, Any]:
    """Accept a request. A refund-only request is refunded at once; for a return the buyer sends
    the goods back. Requires an `Idempotency-Key` header."""
    return _merchant_return_step(
        request, return_id=return_id, step=services.return_approve, scope="orders.return_approve"
    )


@router.post("/merchant/returns/{return_id}/reject", response={200: ReturnOut, **ERRORS})
def merchant_return_reject(request: HttpRequest, return_id: int, payload: RejectIn) -> ReturnOut:
    """Refuse a request; the reason is required and shown to the buyer."""
    services.return_reject(actor=request.user, return_id=return_id, reason=payload.reason)
    return _return_out(selectors.return_for_member(user=request.user, return_id=return_id))


@router.post("/merchant/returns/{return_id}/receive", response={200: ReturnOut, **ERRORS})
def merchant_return_receive(request: HttpRequest, return_id: int) -> tuple[int, Any]:
    """The goods are back: the buyer is refunded and the units go back on sale, in one step.
    Requires an `Idempotency-Key` header."""
    return _merchant_return_step(
        request, return_id=return_id, step=services.return_receive, scope="orders.return_receive"
    )
