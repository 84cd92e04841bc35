"""Writes for carts, addresses, checkouts and orders.

Stock moves only through catalog.stock (conditional UPDATEs); order status moves only through
`order_transition` and the checkout-wide transitions (conditional UPDATEs on the current status,
one OrderStatusChange row per order and transition).
"""

from grassroots.catalog.stock import OutOfStock
from grassroots.orders.services.addresses import (
    AddressInput,
    address_create,
    address_delete,
    address_update,
    owned_address,
)
from grassroots.orders.services.aftersale import (
    Eligibility,
    aftersale_setting,
    line_refund_split,
    open_quantities,
    order_eligibility,
    order_has_open_return,
    refund_only_auto_approve,
    return_approve,
    return_cancel,
    return_receive,
    return_reject,
    return_request_create,
    return_ship_back,
    return_transition,
    return_window_closes_at,
    return_window_days,
)
from grassroots.orders.services.cart import cart_add, cart_get_or_create, cart_merge, cart_remove, cart_update
from grassroots.orders.services.checkout import (
    CheckoutPlan,
    MerchantGroup,
    checkout_cancel,
    checkout_expire,
    checkout_place,
    checkout_plan,
    checkouts_expire,
    shipping_fee,
    shipping_rule_set,
)
from grassroots.orders.services.common import MAX_QUANTITY, check_id, check_quantity, orders_setting
from grassroots.orders.services.lifecycle import (
    order_confirm_receipt,
    order_ship,
    order_transition,
    orders_auto_complete,
    orders_auto_receive,
)
from grassroots.orders.services.payment import CheckoutPayable, checkout_mark_paid, unapplied_payments_refund

__all__ = [
    "MAX_QUANTITY",
    "AddressInput",
    "CheckoutPayable",
    "CheckoutPlan",
    "Eligibility",
    "MerchantGroup",
    "OutOfStock",
    "address_create",
    "address_delete",
    "address_update",
    "aftersale_setting",
    "cart_add",
    "cart_get_or_create",
    "cart_merge",
    "cart_remove",
    "cart_update",
    "check_id",
    "check_quantity",
    "checkout_cancel",
    "checkout_expire",
    "checkout_mark_paid",
    "checkout_place",
    "checkout_plan",
    "checkouts_expire",
    "line_refund_split",
    "open_quantities",
    "order_confirm_receipt",
    "order_eligibility",
    "order_has_open_return",
    "order_ship",
    "order_transition",
    "orders_auto_complete",
    "orders_auto_receive",
    "orders_setting",
    "owned_address",
    "refund_only_auto_approve",
    "return_approve",
    "return_cancel",
    "return_receive",
    "return_reject",
    "return_request_create",
    "return_ship_back",
    "return_transition",
    "return_window_closes_at",
    "return_window_days",
    "shipping_fee",
    "shipping_rule_set",
    "unapplied_payments_refund",
]
