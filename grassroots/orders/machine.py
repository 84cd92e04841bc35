"""Order and checkout lifecycles as explicit transition tables, checked at import."""

from __future__ import annotations

from grassroots.core.state_machine import build_machine

PENDING = "pending_payment"
PAID = "paid"
SHIPPED = "shipped"
DELIVERED = "delivered"
COMPLETED = "completed"
CANCELLED = "cancelled"

ORDER_MACHINE = build_machine(
    "order",
    initial=PENDING,
    edges=[
        (PENDING, "pay", PAID),
        (PENDING, "cancel", CANCELLED),  # the buyer, before paying
        (PENDING, "expire", CANCELLED),  # the payment window closed
        (PAID, "ship", SHIPPED),
        # After payment only a full refund may cancel; the after-sale flow owns this action.
        (PAID, "refund_cancel", CANCELLED),
        (SHIPPED, "deliver", DELIVERED),
        (DELIVERED, "complete", COMPLETED),
    ],
    terminal=[CANCELLED, COMPLETED],
)

# Where each transition stamps its time on the order.
ORDER_TIMESTAMPS = {
    PAID: "paid_at",
    SHIPPED: "shipped_at",
    DELIVERED: "delivered_at",
    COMPLETED: "completed_at",
    CANCELLED: "cancelled_at",
}

CHECKOUT_MACHINE = build_machine(
    "checkout",
    initial=PENDING,
    edges=[
        (PENDING, "pay", PAID),
        (PENDING, "cancel", CANCELLED),
        (PENDING, "expire", "expired"),
    ],
    terminal=[PAID, CANCELLED, "expired"],
)
