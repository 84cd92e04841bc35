"""Orders after payment: ship, confirm receipt, auto-complete, and the transition helper."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.core.errors import Conflict, NotFound, ValidationFailed
from grassroots.core.state_machine import InvalidTransition
from grassroots.core.text import clean_plain_text
from grassroots.merchants.models import MerchantMember
from grassroots.notifications.services import notify_order_shipped
from grassroots.orders.machine import ORDER_MACHINE, ORDER_TIMESTAMPS
from grassroots.orders.models import RETURN_OPEN_STATUSES, Order, OrderStatusChange, ReturnRequest
from grassroots.orders.services.common import TRACKING_RE, orders_setting


def order_transition(
    *, order: Order, action: str, actor: Any, note: str = "", now: datetime | None = None, **fields: Any
) -> Order:
    """Move one order along ORDER_MACHINE with a conditional UPDATE on its current status and an
    audit row. A concurrent change makes it a 409. `fields` are stored with the move."""
    now = now or timezone.now()
    source = order.status
    target = ORDER_MACHINE.next_state(source, action)
    stamp = ORDER_TIMESTAMPS.get(target)
    if stamp:
        fields[stamp] = now
    with transaction.atomic():
        moved = Order.objects.filter(pk=order.pk, status=source).update(status=target, **fields)
        if moved != 1:
            raise InvalidTransition(
                _("The order changed meanwhile; reload and try again."), code="order_changed", transient=True
            )
        OrderStatusChange.objects.create(
            order=order, from_status=source, to_status=target, action=action, actor=actor, note=note[:255]
        )
    order.status = target
    for key, value in fields.items():
        setattr(order, key, value)
    return order


def order_ship(*, actor: Any, order: Order, carrier: str, tracking_number: str) -> Order:
    """A member of the order's merchant hands it to a carrier (paid -> shipped).

    Refused (409 `refund_requested`) while a refund-only request of the order is open: the buyer
    asked for their money before shipping, and the merchant decides that first (it is approved
    at once unless REFUND_ONLY_AUTO_APPROVE is off). The order row is locked before the check, as
    `return_request_create` locks it before asking, so a request and a shipment cannot cross."""
    actor_id = getattr(actor, "pk", None)
    if actor_id is None or not MerchantMember.objects.filter(merchant_id=order.merchant_id, user_id=actor_id).exists():
        raise NotFound(_("Order not found."))
    carrier = clean_plain_text(carrier, max_length=40)
    tracking_number = (tracking_number or "").strip()
    errors = {}
    if not carrier:
        errors["carrier"] = "required"
    if not TRACKING_RE.match(tracking_number):
        errors["tracking_number"] = "invalid"
    if errors:
        raise ValidationFailed(_("Enter the carrier and a valid tracking number."), fields=errors)
    with transaction.atomic():
        list(Order.objects.select_for_update().filter(pk=order.pk).values_list("pk", flat=True))
        open_refund = ReturnRequest.objects.filter(
            order_id=order.pk, kind=ReturnRequest.Kind.REFUND_ONLY, status__in=RETURN_OPEN_STATUSES
        ).exists()
        if open_refund:
            raise Conflict(
                _("The buyer asked for a refund: approve or reject it before shipping."),
                code="refund_requested",
            )
        order = order_transition(
            order=order,
            action="ship",
            actor=actor,
            note=f"{carrier} {tracking_number}",
            carrier=carrier,
            tracking_number=tracking_number,
        )
        transaction.on_commit(
            lambda: notify_order_shipped(
                order_id=order.pk, buyer_id=order.buyer_id, carrier=carrier, tracking_number=tracking_number
            )
        )
    return order


def order_confirm_receipt(*, buyer: Any, order: Order) -> Order:
    """The buyer has the parcel (shipped -> delivered); completion follows after the return window."""
    if order.buyer_id != getattr(buyer, "pk", None):
        raise NotFound(_("Order not found."))
    return order_transition(order=order, action="deliver", actor=buyer)


def _orders_auto_move(*, status: str, stamp: str, cutoff: datetime, action: str, now: datetime, batch: int) -> int:
    """Move the orders in `status` whose `stamp` is at or before `cutoff` and that have no open
    request, oldest first, by `action` as the platform (audit note "auto"); returns how many. One
    that someone moved meanwhile (the buyer confirmed, a return was opened) is skipped."""
    open_returns = ReturnRequest.objects.filter(order=OuterRef("pk"), status__in=RETURN_OPEN_STATUSES)
    due = list(
        Order.objects.filter(status=status, **{f"{stamp}__lte": cutoff})
        .exclude(Exists(open_returns))
        .order_by(stamp)[:batch]
    )
    done = 0
    for order in due:
        try:
            order_transition(order=order, action=action, actor=None, note="auto", now=now)
        except InvalidTransition:
            continue
        done += 1
    return done


def orders_auto_receive(*, now: datetime | None = None, batch: int = 500) -> int:
    """shipped -> delivered once ORDER_AUTO_RECEIVE_DAYS have passed since shipping and the buyer
    has not confirmed receipt (nor opened a request); returns how many. Without it an order whose
    buyer never confirms would never complete, and its commissions never settle. The return window
    starts then, as if the buyer had confirmed. Idempotent."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=orders_setting("ORDER_AUTO_RECEIVE_DAYS"))
    return _orders_auto_move(
        status=Order.Status.SHIPPED, stamp="shipped_at", cutoff=cutoff, action="deliver", now=now, batch=batch
    )


def orders_auto_complete(*, now: datetime | None = None, batch: int = 500) -> int:
    """delivered -> completed once ORDER_AUTO_COMPLETE_DAYS and the return window have passed and
    no return is open; returns how many. Idempotent."""
    from grassroots.orders.services.aftersale import return_window_days  # it imports this module

    now = now or timezone.now()
    cutoff = now - timedelta(days=max(orders_setting("ORDER_AUTO_COMPLETE_DAYS"), return_window_days()))
    return _orders_auto_move(
        status=Order.Status.DELIVERED, stamp="delivered_at", cutoff=cutoff, action="complete", now=now, batch=batch
    )
