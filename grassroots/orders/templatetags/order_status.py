"""`{% order_status_badge order %}`: the order's status as the buyer and merchant should read it.

The order machine keeps a delivered order "delivered" after its goods came back; the badge says
"Refunded" when every unit was refunded, and adds "Partly refunded" when some were."""

from __future__ import annotations

from typing import Any

from django import template

from grassroots.orders.models import Order
from grassroots.orders.selectors import REFUND_FULL, REFUND_PARTIAL, order_refund_state

register = template.Library()

WARN_STATUSES = (Order.Status.PENDING_PAYMENT, Order.Status.CANCELLED)


@register.inclusion_tag("orders/_status_badge.html")
def order_status_badge(order: Order) -> dict[str, Any]:
    refund = order_refund_state(order)
    return {
        "label": order.get_status_display(),
        "warn": order.status in WARN_STATUSES,
        "refunded": refund == REFUND_FULL,
        "partly_refunded": refund == REFUND_PARTIAL,
    }
