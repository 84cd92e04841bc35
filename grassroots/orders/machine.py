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

# After-sale. "refund_only" (before shipping): requested -> approved -> refunded, approved by the
# merchant or at once (REFUND_ONLY_AUTO_APPROVE). "return" (after delivery): requested -> approved
# -> [shipped_back, the buyer's tracking] -> returned (the merchant has the goods) -> refunded.
RETURN_REQUESTED = "requested"
RETURN_APPROVED = "approved"
RETURN_REJECTED = "rejected"
RETURN_SHIPPED_BACK = "shipped_back"
RETURN_RETURNED = "returned"
RETURN_REFUNDED = "refunded"
RETURN_CANCELLED = "cancelled"

RETURN_MACHINE = build_machine(
    "return",
    initial=RETURN_REQUESTED,
    edges=[
        (RETURN_REQUESTED, "approve", RETURN_APPROVED),  # the merchant, or automatic for refund-only
        (RETURN_REQUESTED, "reject", RETURN_REJECTED),  # the merchant, with a reason
        (RETURN_REQUESTED, "cancel", RETURN_CANCELLED),  # the buyer withdraws it
        (RETURN_APPROVED, "cancel", RETURN_CANCELLED),
        (RETURN_APPROVED, "ship_back", RETURN_SHIPPED_BACK),  # the buyer enters the return tracking
        (RETURN_APPROVED, "receive", RETURN_RETURNED),  # the merchant has the goods (no tracking given)
        (RETURN_SHIPPED_BACK, "receive", RETURN_RETURNED),
        (RETURN_APPROVED, "refund", RETURN_REFUNDED),  # refund-only: nothing comes back
        (RETURN_RETURNED, "refund", RETURN_REFUNDED),
    ],
    terminal=[RETURN_REJECTED, RETURN_REFUNDED, RETURN_CANCELLED],
)

RETURN_TIMESTAMPS = {
    RETURN_APPROVED: "decided_at",
    RETURN_REJECTED: "decided_at",
    RETURN_SHIPPED_BACK: "shipped_back_at",
    RETURN_RETURNED: "received_at",
    RETURN_REFUNDED: "refunded_at",
    RETURN_CANCELLED: "closed_at",
}
