"""The payments app's side of a checkout: describe it, and book a capture."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.catalog.stock import merge_lines, stock_commit
from grassroots.commissions.services import commissions_on_paid
from grassroots.core.errors import NotFound
from grassroots.ledger.services import journal_entry_post
from grassroots.ledger.types import PostingSpec
from grassroots.orders.models import Checkout, Order, OrderLine, UnappliedPayment
from grassroots.orders.services.common import audit_rows

logger = logging.getLogger(__name__)


def _post_order_paid(order: Order, postings: list[PostingSpec]) -> None:
    """Allocate the order's share of the captured money (one entry per order): the fee (on goods)
    to the platform, commission and team override of attributed lines to the shopkeepers' pending
    (or held) accounts, the rest and all of the shipping to the merchant. See
    grassroots.commissions.services.commissions_on_paid."""
    journal_entry_post(
        idempotency_key=f"order-paid:{order.pk}",
        kind="order_paid",
        postings=postings,
        memo=f"Order {order.pk} paid",
        reference=f"order:{order.pk}",
    )


def checkout_mark_paid(*, checkout_id: int, intent_id: int, now: datetime | None = None) -> bool:
    """The payment for a checkout was captured. Returns True when it paid the checkout.

    pending_payment -> paid for the checkout and its orders, reserved -> sold, and one ledger
    allocation entry per order. A capture for a checkout that is no longer pending (cancelled,
    expired, or paid by another intent) is recorded and refunded in full: money is never kept
    for goods that were released.
    """
    now = now or timezone.now()
    with transaction.atomic():
        won = Checkout.objects.filter(pk=checkout_id, status=Checkout.Status.PENDING_PAYMENT).update(
            status=Checkout.Status.PAID, paid_at=now, intent_id=intent_id
        )
        checkout = Checkout.objects.filter(pk=checkout_id).first()
        if checkout is None:
            raise NotFound(_("Checkout not found."))
        if won != 1:
            if checkout.status == Checkout.Status.PAID and checkout.intent_id == intent_id:
                return True  # the same capture reported twice
            _unapplied_payment_record(checkout=checkout, intent_id=intent_id)
            return False
        orders = list(
            Order.objects.filter(checkout_id=checkout_id, status=Order.Status.PENDING_PAYMENT).prefetch_related("lines")
        )
        Order.objects.filter(pk__in=[o.pk for o in orders], status=Order.Status.PENDING_PAYMENT).update(
            status=Order.Status.PAID, paid_at=now
        )
        lines = [line for order in orders for line in order.lines.all()]
        stock_commit(lines=merge_lines((line.sku_id, line.quantity) for line in lines))
        # Splits every line (setting its platform_fee) and records the commission lines.
        postings = commissions_on_paid(orders=orders)
        OrderLine.objects.bulk_update(lines, ["platform_fee"])
        for order in orders:
            order.status = Order.Status.PAID
            order.platform_fee = sum(line.platform_fee for line in order.lines.all())
        Order.objects.bulk_update(orders, ["platform_fee"])
        audit_rows(
            orders, from_status=Order.Status.PENDING_PAYMENT, to_status=Order.Status.PAID, action="pay", actor=None
        )
        for order in orders:
            _post_order_paid(order, postings[order.pk])
    return True


def _unapplied_payment_record(*, checkout: Checkout, intent_id: int) -> None:
    payment, _created = UnappliedPayment.objects.get_or_create(
        intent_id=intent_id,
        defaults={
            "checkout": checkout,
            "amount": checkout.total,
            "currency": checkout.currency,
            "checkout_status": checkout.status,
        },
    )
    if payment.refunded_at is None:
        _unapplied_payment_refund(payment)


def _unapplied_payment_refund(payment: UnappliedPayment) -> bool:
    """Refund in full; a failure is stored on the row for `unapplied_payments_refund` to retry,
    and must not roll back the capture that recorded the money."""
    from grassroots.payments.services import payment_refund

    try:
        with transaction.atomic():
            payment_refund(
                intent_id=payment.intent_id,
                amount=payment.amount,
                idempotency_key=f"checkout-unapplied:{payment.intent_id}",
                reason=f"Checkout {payment.checkout_id} was {payment.checkout_status} when the payment arrived",
            )
    except Exception as exc:  # any failure is retried later; the record stays
        logger.exception("refund of unapplied payment %s failed", payment.intent_id)
        UnappliedPayment.objects.filter(pk=payment.pk).update(refund_error=str(exc)[:1000])
        return False
    UnappliedPayment.objects.filter(pk=payment.pk).update(refunded_at=timezone.now(), refund_error="")
    return True


def unapplied_payments_refund() -> int:
    """Retry refunds that failed; returns how many went through."""
    pending = UnappliedPayment.objects.filter(refunded_at__isnull=True).order_by("pk")[:200]
    return sum(_unapplied_payment_refund(payment) for payment in pending)


class CheckoutPayable:
    """The payments app's view of a checkout (kind "checkout")."""

    def describe(self, payable_id: int) -> Any:
        from grassroots.payments.registry import PayableInfo

        checkout = Checkout.objects.filter(pk=payable_id).first()
        if checkout is None:
            raise NotFound(_("Checkout not found."))
        payable, reason = True, ""
        if checkout.status == Checkout.Status.PAID:
            payable, reason = False, _("This checkout is already paid.")
        elif checkout.status != Checkout.Status.PENDING_PAYMENT:
            payable, reason = False, _("This checkout was cancelled or expired.")
        elif checkout.expires_at <= timezone.now():
            payable, reason = False, _("The time to pay for this checkout has run out.")
        return PayableInfo(
            amount=checkout.total,
            currency=checkout.currency,
            owner_id=checkout.buyer_id,
            payable=payable,
            reason=reason,
            return_url=reverse("orders:checkout_detail", args=[checkout.pk]),
        )

    def on_captured(self, payable_id: int, intent_id: int) -> None:
        checkout_mark_paid(checkout_id=payable_id, intent_id=intent_id)

    def on_failed(self, payable_id: int, intent_id: int) -> None:
        # The reservation stands until the checkout expires, so the buyer can try another card.
        return None
