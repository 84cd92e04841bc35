"""Cart, address book, checkout and orders.

A Checkout is what the buyer pays once; it holds one Order per merchant. Money is in integer
minor units of the checkout's currency.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Address(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="addresses")
    name = models.CharField(_("recipient"), max_length=60)
    phone = models.CharField(_("phone"), max_length=20)
    region = models.CharField(_("province / region"), max_length=60)
    city = models.CharField(_("city"), max_length=60)
    line1 = models.CharField(_("address"), max_length=200)
    postcode = models.CharField(_("postcode"), max_length=12, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["owner"], condition=Q(is_default=True), name="address_one_default"),
        ]

    def __str__(self) -> str:
        return f"{self.name}, {self.city}"

    def snapshot(self) -> dict[str, str]:
        """What an order keeps, so editing the address book never rewrites history."""
        return {
            "name": self.name,
            "phone": self.phone,
            "region": self.region,
            "city": self.city,
            "line1": self.line1,
            "postcode": self.postcode,
        }


class Cart(models.Model):
    """Belongs to a signed-in user or to an anonymous session, never both."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="cart"
    )
    session_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(session_key__isnull=True))
                | (Q(user__isnull=True) & Q(session_key__isnull=False)),
                name="cart_user_xor_session",
            ),
        ]


class CartItem(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    sku = models.ForeignKey("catalog.Sku", on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField()
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-added_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "sku"], name="uniq_cart_sku"),
            models.CheckConstraint(condition=Q(quantity__gte=1) & Q(quantity__lte=99), name="cart_item_quantity_range"),
        ]


class ShippingRule(models.Model):
    """A merchant's flat shipping fee per order, free from `free_over` (goods total) when set.
    A merchant without a rule ships for free."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="shipping_rules")
    currency = models.CharField(max_length=3, default="CNY")
    flat_fee = models.BigIntegerField(default=0)
    free_over = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "currency"], name="uniq_shipping_rule"),
            models.CheckConstraint(condition=Q(flat_fee__gte=0), name="shipping_fee_nonneg"),
        ]


class Checkout(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
        PAID = "paid", _("Paid")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="checkouts")
    currency = models.CharField(max_length=3)
    goods_total = models.BigIntegerField()
    shipping_total = models.BigIntegerField()
    discount_total = models.BigIntegerField(default=0)
    total = models.BigIntegerField()
    coupon_code = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT, db_index=True)
    # The payment intent that paid it (payments' id).
    intent_id = models.BigIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(goods_total__gte=0) & Q(shipping_total__gte=0) & Q(discount_total__gte=0) & Q(total__gte=0),
                name="checkout_totals_nonneg",
            ),
        ]

    def __str__(self) -> str:
        return f"Checkout {self.pk}"


class UnappliedPayment(models.Model):
    """A capture that arrived after its checkout was closed (or a second capture of a paid one).

    The money is refunded in full; this row is the record that it came in and went back.
    """

    checkout = models.ForeignKey(Checkout, on_delete=models.PROTECT, related_name="unapplied_payments")
    intent_id = models.BigIntegerField(unique=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    checkout_status = models.CharField(max_length=20)
    refund_error = models.TextField(blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
        PAID = "paid", _("Paid")
        SHIPPED = "shipped", _("Shipped")
        DELIVERED = "delivered", _("Delivered")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    checkout = models.ForeignKey(Checkout, on_delete=models.PROTECT, related_name="orders")
    # No single-column indexes: order_merchant_status and order_buyer_recent lead with these columns.
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="orders", db_index=False)
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", db_index=False)
    address = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT)
    currency = models.CharField(max_length=3)
    goods_total = models.BigIntegerField()
    shipping_total = models.BigIntegerField()
    discount_total = models.BigIntegerField(default=0)
    total = models.BigIntegerField()
    # Set when paid: what the platform keeps of this order. The merchant gets total - platform_fee
    # - the commission and team override of its lines (grassroots.commissions.CommissionLine)
    # + the platform coupon's share of its lines (OrderLine.platform_discount).
    platform_fee = models.BigIntegerField(default=0)
    placed_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    carrier = models.CharField(max_length=40, blank=True)
    tracking_number = models.CharField(max_length=40, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["buyer", "-id"], name="order_buyer_recent"),
            models.Index(fields=["merchant", "status", "-id"], name="order_merchant_status"),
            models.Index(fields=["status", "delivered_at"], name="order_status_delivered"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(goods_total__gte=0) & Q(shipping_total__gte=0) & Q(discount_total__gte=0) & Q(total__gte=0),
                name="order_totals_nonneg",
            ),
        ]

    def __str__(self) -> str:
        return f"Order {self.pk}"

    @property
    def platform_discount_total(self) -> int:
        """What platform coupons took off this order, paid to the merchant by the platform (from
        its lines, which the order pages prefetch)."""
        return sum(line.platform_discount for line in self.lines.all())


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.ForeignKey("catalog.Sku", on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    product_title = models.CharField(max_length=160)
    sku_label = models.CharField(max_length=120)
    unit_price = models.BigIntegerField()
    quantity = models.PositiveIntegerField()
    # unit_price * quantity - discount_amount: what the buyer paid for this line.
    # platform_fee: what the platform keeps of it (its fee less any team override).
    discount_amount = models.BigIntegerField(default=0)
    paid_amount = models.BigIntegerField()
    platform_fee = models.BigIntegerField(default=0)
    refunded_amount = models.BigIntegerField(default=0)
    refunded_quantity = models.PositiveIntegerField(default=0)
    # Attribution snapshot, taken at checkout (grassroots.commissions.services.checkout_attribution)
    # so later clicks, rate changes or shop edits never change what this sale earns.
    # rule: last_click | binding | self_purchase | expired | none ("" for orders before attribution).
    attribution_rule = models.CharField(max_length=20, blank=True)
    # The three references are NULL on most lines: indexed only where set (Meta.indexes).
    attributed_shop = models.ForeignKey(
        "shops.Shop", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    attributed_shopkeeper = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    # No database constraint on the append-only click log (docs/adr/0009-set-based-settlement.md).
    attribution_click = models.ForeignKey(
        "attribution.Click",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # The rate in effect at the credited click; 0 when nothing is earned (self purchase included).
    commission_rate_bps = models.PositiveIntegerField(default=0)
    # Suspected self-referral: the commission is booked as held until an operator decides.
    attribution_held = models.BooleanField(default=False)
    attribution_hold_reason = models.CharField(max_length=200, blank=True)
    # The member price of a self purchase: part of discount_amount, on top of any coupon share.
    member_discount = models.BigIntegerField(default=0)
    # The share of a platform coupon's discount: part of discount_amount that the platform funds,
    # so the merchant is paid it at capture (from platform:promotions:expense), not charged it.
    platform_discount = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["attributed_shop"], condition=Q(attributed_shop__isnull=False), name="orderline_attributed_shop"
            ),
            models.Index(
                fields=["attributed_shopkeeper"],
                condition=Q(attributed_shopkeeper__isnull=False),
                name="orderline_attributed_keeper",
            ),
            models.Index(
                fields=["attribution_click"], condition=Q(attribution_click__isnull=False), name="orderline_click"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=0) & Q(discount_amount__gte=0) & Q(refunded_amount__gte=0),
                name="order_line_amounts_nonneg",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=models.F("paid_amount")), name="order_line_refund_le_paid"
            ),
            models.CheckConstraint(
                condition=Q(refunded_quantity__lte=models.F("quantity")), name="order_line_refund_qty_le_qty"
            ),
        ]


class OrderStatusChange(models.Model):
    """Audit row for every order transition (and the placement itself, from "")."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    action = models.CharField(max_length=30)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class ReturnRequest(models.Model):
    """After-sale: a buyer asks for money back on some units of one order.

    "refund_only" is before shipping (the order is paid, nothing to send back); "return" is after
    delivery, within the return window, and the goods come back before the refund. The amounts are
    set when the refund is made; until then they are 0. The status moves only through
    RETURN_MACHINE, with one ReturnStatusChange row per move.
    """

    class Kind(models.TextChoices):
        RETURN = "return", _("Return and refund")
        REFUND_ONLY = "refund_only", _("Refund only")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        SHIPPED_BACK = "shipped_back", _("Sent back")
        RETURNED = "returned", _("Goods received")
        REFUNDED = "refunded", _("Refunded")
        CANCELLED = "cancelled", _("Withdrawn")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="return_requests")
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="return_requests")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REQUESTED)
    currency = models.CharField(max_length=3)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    reject_reason = models.CharField(_("reason for rejecting"), max_length=500, blank=True)
    # The buyer's parcel back to the merchant.
    carrier = models.CharField(max_length=40, blank=True)
    tracking_number = models.CharField(max_length=40, blank=True)
    # What was given back in all (goods + shipping_refund), and the platform fee part of it.
    refund_amount = models.BigIntegerField(default=0)
    shipping_refund = models.BigIntegerField(default=0)
    platform_fee_reversed = models.BigIntegerField(default=0)
    # The payments app's Refund row.
    payment_refund_id = models.BigIntegerField(null=True, blank=True)
    # One per rendering of the order page's form: a double-submitted form makes one request.
    form_token = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    shipped_back_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["buyer", "-id"], name="return_buyer_recent"),
            models.Index(fields=["merchant", "status", "-id"], name="return_merchant_status"),
            models.Index(fields=["order", "status"], name="return_order_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(refund_amount__gte=0) & Q(shipping_refund__gte=0) & Q(platform_fee_reversed__gte=0),
                name="return_amounts_nonneg",
            ),
            models.UniqueConstraint(
                fields=["buyer", "form_token"], condition=~Q(form_token=""), name="uniq_return_form_token"
            ),
        ]

    def __str__(self) -> str:
        return f"Return {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in RETURN_OPEN_STATUSES


# A return in one of these holds its units and keeps the order from completing.
RETURN_OPEN_STATUSES = (
    ReturnRequest.Status.REQUESTED,
    ReturnRequest.Status.APPROVED,
    ReturnRequest.Status.SHIPPED_BACK,
    ReturnRequest.Status.RETURNED,
)


class ReturnLine(models.Model):
    """Units of one order line in a return; the amounts are set when the refund is made."""

    request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="return_lines")
    quantity = models.PositiveIntegerField()
    refund_amount = models.BigIntegerField(default=0)
    platform_fee = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "order_line"], name="uniq_return_line"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="return_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(refund_amount__gte=0)
                & Q(platform_fee__gte=0)
                & Q(platform_fee__lte=models.F("refund_amount")),
                name="return_line_amounts_valid",
            ),
        ]


class ReturnStatusChange(models.Model):
    """Audit row for every return transition (and the request itself, from "")."""

    request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    action = models.CharField(max_length=30)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
