"""After-sale: refund-only before shipping, returns after delivery, refunds and restock.

Decisions (settings in settings.GRASSROOTS, defaults here):

- RETURN_WINDOW_DAYS (7): a return may be requested until this many days after delivery (the
  buyer's receipt). Set 14 for EU-style withdrawal. Orders complete only after the window has
  closed and no return is open (see `orders_auto_complete`).
- REFUND_ONLY_AUTO_APPROVE (True): a refund before shipping is approved and paid at once, since
  nothing has left the warehouse and there is nothing for the merchant to inspect. With False the
  merchant approves it, and the refund is made on approval.
- Shipping is refunded only when a refund before shipping leaves no unit of the order unrefunded:
  the order is then cancelled (paid -> cancelled, "refund_cancel"). Once shipped, the carrier was
  paid, so returns give back the goods only.
- Amounts: a line's paid amount and its platform fee are spread over its units with
  `allocate_proportionally` (largest remainder, earlier units first); a refund of q units after
  r were refunded gives back units r .. r+q-1. So refunds of every unit add up exactly to the
  line's paid amount and reverse exactly its platform fee and its platform coupon share
  (`platform_discount`, which the platform paid the merchant at capture).
- One open return per order line at a time: a second one waits until the first is decided or
  refunded (this also makes a double-submitted form harmless).

- Commission: a line sold through a shop gives back its commission and team override in step
  with its units (grassroots.commissions.services.commission_refund_shares: split_line of what the
  refunded units cost, so refunding every unit reverses exactly what was booked). Its platform fee
  part comes from the same split, not from the per-unit allocation of other lines.

The refund is one transaction: the return moves to refunded, the order lines' refunded counters
move with conditional UPDATEs, the returned units go back on sale (sold -> stock), the order's
allocation is reversed in the ledger in one entry (Dr merchant:<id>:payable, Dr platform:revenue,
Dr shopkeeper:<id>:pending|held|available|receivable / Cr buyer:clearing, Cr
platform:promotions:expense), the money goes back
through payments (Dr buyer:clearing / Cr gateway:cash), and an audit row is written per
transition. Any failure, the provider's included, rolls all of it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.catalog.stock import merge_lines, stock_return
from grassroots.commissions.services import RefundShare, commission_refund_shares
from grassroots.core.conf import gr_setting
from grassroots.core.errors import Conflict, NotFound, ValidationFailed
from grassroots.core.state_machine import InvalidTransition
from grassroots.core.text import clean_plain_text
from grassroots.ledger.codes import BUYER_CLEARING, PLATFORM_PROMOTIONS, PLATFORM_REVENUE, merchant_payable
from grassroots.ledger.flows import Allocation, allocation_reversal_postings
from grassroots.ledger.services import journal_entry_post
from grassroots.ledger.splits import allocate_proportionally
from grassroots.ledger.types import PostingSpec
from grassroots.merchants.models import MerchantMember
from grassroots.orders.machine import RETURN_MACHINE, RETURN_TIMESTAMPS
from grassroots.orders.models import (
    RETURN_OPEN_STATUSES,
    Order,
    OrderLine,
    ReturnLine,
    ReturnRequest,
    ReturnStatusChange,
)
from grassroots.orders.services.common import MAX_CHECKOUT_LINES, TRACKING_RE, check_id, check_quantity
from grassroots.orders.services.lifecycle import order_transition

AFTERSALE_DEFAULTS: dict[str, Any] = {
    "RETURN_WINDOW_DAYS": 7,
    "REFUND_ONLY_AUTO_APPROVE": True,
}
MAX_REASON = 500


def aftersale_setting(name: str) -> Any:
    try:
        return gr_setting(name)
    except KeyError:
        return AFTERSALE_DEFAULTS[name]


def return_window_days() -> int:
    return int(aftersale_setting("RETURN_WINDOW_DAYS"))


def refund_only_auto_approve() -> bool:
    return bool(aftersale_setting("REFUND_ONLY_AUTO_APPROVE"))


# --- what may be asked for ------------------------------------------------------------------------


@dataclass(frozen=True)
class Eligibility:
    """What the buyer may ask for on an order now: `kind` is None when nothing, with `code`
    saying why (the 422 code a request would get)."""

    kind: str | None
    code: str
    window_closes_at: datetime | None


def return_window_closes_at(order: Order) -> datetime | None:
    if order.delivered_at is None:
        return None
    return order.delivered_at + timedelta(days=return_window_days())


def order_eligibility(*, order: Order, now: datetime | None = None) -> Eligibility:
    now = now or timezone.now()
    closes_at = return_window_closes_at(order)
    if order.status == Order.Status.PAID:
        return Eligibility(ReturnRequest.Kind.REFUND_ONLY, "", None)
    if order.status in (Order.Status.DELIVERED, Order.Status.COMPLETED):
        if closes_at is None or now > closes_at:
            return Eligibility(None, "return_window_closed", closes_at)
        return Eligibility(ReturnRequest.Kind.RETURN, "", closes_at)
    if order.status == Order.Status.SHIPPED:
        return Eligibility(None, "not_delivered", None)
    return Eligibility(None, "not_returnable", None)


def _ineligible(eligibility: Eligibility, kind: str, order: Order) -> ValidationFailed:
    shipped = order.status in (Order.Status.SHIPPED, Order.Status.DELIVERED, Order.Status.COMPLETED)
    if kind == ReturnRequest.Kind.REFUND_ONLY and shipped:
        return ValidationFailed(
            _("This order was shipped: request a return once it arrives."),
            code="refund_only_not_allowed",
            fields={"kind": "shipped"},
        )
    if kind == ReturnRequest.Kind.RETURN and eligibility.kind == ReturnRequest.Kind.REFUND_ONLY:
        return ValidationFailed(
            _("This order has not been shipped: ask for a refund instead."),
            code="not_returnable",
            fields={"kind": "not_shipped"},
        )
    if kind == ReturnRequest.Kind.RETURN and eligibility.code == "return_window_closed":
        return ValidationFailed(
            _("The return window for this order has closed."),
            code="return_window_closed",
            fields={"order": "window_closed"},
        )
    if kind == ReturnRequest.Kind.RETURN and eligibility.code == "not_delivered":
        return ValidationFailed(
            _("Confirm receipt of the order before requesting a return."),
            code="not_delivered",
            fields={"order": "not_delivered"},
        )
    return ValidationFailed(
        _("This order cannot be returned or refunded."), code="not_returnable", fields={"order": "not_returnable"}
    )


def open_quantities(*, order_line_ids: Sequence[int], exclude_request_id: int | None = None) -> dict[int, int]:
    """Units of each line held by open returns."""
    rows = ReturnLine.objects.filter(order_line_id__in=list(order_line_ids), request__status__in=RETURN_OPEN_STATUSES)
    if exclude_request_id is not None:
        rows = rows.exclude(request_id=exclude_request_id)
    return dict(
        rows.values("order_line_id").annotate(units=Sum("quantity")).values_list("order_line_id", "units").order_by()
    )


def line_refund_split(line: OrderLine, *, already: int, quantity: int) -> tuple[int, int]:
    """(amount, platform fee) of units already .. already+quantity-1 of `line`. Pure."""
    return (
        _units_share(line.paid_amount, line=line, already=already, quantity=quantity),
        _units_share(line.platform_fee, line=line, already=already, quantity=quantity),
    )


def line_refund_subsidy(line: OrderLine, *, already: int, quantity: int) -> int:
    """The platform coupon's share (`platform_discount`) of the same units: what the merchant gives
    back to platform:promotions:expense on top of the refund. Pure."""
    return _units_share(line.platform_discount, line=line, already=already, quantity=quantity)


def _units_share(amount: int, *, line: OrderLine, already: int, quantity: int) -> int:
    """`amount` spread over the line's units (largest remainder), summed over the refunded window."""
    return sum(allocate_proportionally(amount, [1] * line.quantity)[already : already + quantity])


def _exceeds(left: dict[str, int]) -> ValidationFailed:
    return ValidationFailed(
        _("That is more than was bought, less what was already returned or refunded."),
        code="refund_exceeds_paid",
        fields=left,
    )


def _parse_lines(lines: Any) -> dict[int, int]:
    if not isinstance(lines, list | tuple) or not lines:
        raise ValidationFailed(_("Choose what to return."), code="no_items", fields={"lines": "required"})
    if len(lines) > MAX_CHECKOUT_LINES:
        raise ValidationFailed(_("Too many lines."), fields={"lines": "too_many"})
    parsed: dict[int, int] = {}
    for item in lines:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise ValidationFailed(_("Each line is an id and a quantity."), fields={"lines": "invalid"})
        line_id, quantity = item
        pk = check_id(line_id, field="line_id")
        if pk in parsed:
            raise ValidationFailed(_("Each line once, please."), fields={"lines": "duplicate"})
        parsed[pk] = check_quantity(quantity)
    return parsed


# --- transitions ----------------------------------------------------------------------------------


def _audit(request: ReturnRequest, *, source: str, target: str, action: str, actor: Any, note: str = "") -> None:
    ReturnStatusChange.objects.create(
        request=request, from_status=source, to_status=target, action=action, actor=actor, note=note[:MAX_REASON]
    )


def return_transition(
    *, request: ReturnRequest, action: str, actor: Any, note: str = "", now: datetime | None = None, **fields: Any
) -> ReturnRequest:
    """Move a return along RETURN_MACHINE with a conditional UPDATE on its status, and an audit row.
    A concurrent move makes it a 409 (`return_changed`)."""
    now = now or timezone.now()
    source = request.status
    target = RETURN_MACHINE.next_state(source, action)
    stamp = RETURN_TIMESTAMPS.get(target)
    if stamp:
        fields[stamp] = now
    with transaction.atomic():
        moved = ReturnRequest.objects.filter(pk=request.pk, status=source).update(
            status=target, updated_at=now, **fields
        )
        if moved != 1:
            raise InvalidTransition(
                _("The return changed meanwhile; reload and try again."), code="return_changed", transient=True
            )
        _audit(request, source=source, target=target, action=action, actor=actor, note=note)
    request.status = target
    for key, value in fields.items():
        setattr(request, key, value)
    return request


def _locked_order(order_id: int) -> Order:
    """The order row, locked on PostgreSQL so requests and refunds of one order queue (SQLite
    already serialises writers). The conditional UPDATEs below hold without it."""
    return Order.objects.select_for_update(of=("self",)).select_related("checkout").get(pk=order_id)


# --- the buyer ------------------------------------------------------------------------------------


def return_request_create(
    *,
    buyer: Any,
    order_id: Any,
    kind: str,
    lines: Sequence[tuple[Any, Any]],
    reason: str = "",
    form_token: str = "",
    now: datetime | None = None,
) -> ReturnRequest:
    """The buyer asks for money back on `lines` [(order line id, quantity)] of one of their orders.

    refund_only: the order is paid and not shipped; approved and refunded at once unless
    REFUND_ONLY_AUTO_APPROVE is off. return: delivered (or completed) within RETURN_WINDOW_DAYS.
    Someone else's order is a 404. Nothing is written when anything is refused. A `form_token`
    already used by this buyer returns that request (the API uses Idempotency-Key instead).
    """
    now = now or timezone.now()
    order_pk = check_id(order_id, field="order_id")
    buyer_id = getattr(buyer, "pk", None)
    if buyer_id is None or not Order.objects.filter(pk=order_pk, buyer_id=buyer_id).exists():
        raise NotFound(_("Order not found."))
    if kind not in ReturnRequest.Kind.values:
        raise ValidationFailed(_("Choose a return or a refund."), fields={"kind": "invalid"})
    wanted = _parse_lines(lines)
    reason = clean_plain_text(reason if isinstance(reason, str) else "", max_length=MAX_REASON)

    form_token = form_token.strip()[:64] if isinstance(form_token, str) else ""
    with transaction.atomic():
        order = _locked_order(order_pk)
        if form_token:
            seen = ReturnRequest.objects.filter(buyer_id=buyer_id, form_token=form_token).first()
            if seen is not None and seen.order_id == order.pk:
                return seen
            if seen is not None:
                raise ValidationFailed(_("This form was already used."), fields={"form_token": "reused"})
        eligibility = order_eligibility(order=order, now=now)
        if eligibility.kind != kind:
            raise _ineligible(eligibility, kind, order)
        order_lines = {line.pk: line for line in OrderLine.objects.filter(order=order, pk__in=list(wanted))}
        unknown = [pk for pk in wanted if pk not in order_lines]
        if unknown:
            raise ValidationFailed(
                _("That item is not in this order."),
                code="unknown_line",
                fields={str(pk): "not_in_order" for pk in unknown},
            )
        held = open_quantities(order_line_ids=list(wanted))
        busy = [pk for pk in wanted if held.get(pk)]
        if busy:
            raise Conflict(
                _("A return for this item is already open; wait for it to finish."),
                code="return_already_open",
                fields={str(pk): "open" for pk in busy},
            )
        left = {pk: order_lines[pk].quantity - order_lines[pk].refunded_quantity for pk in wanted}
        over = {str(pk): left[pk] for pk, quantity in wanted.items() if quantity > left[pk]}
        if over:
            raise _exceeds(over)
        request = ReturnRequest.objects.create(
            order=order,
            buyer_id=buyer_id,
            merchant_id=order.merchant_id,
            kind=kind,
            currency=order.currency,
            reason=reason,
            form_token=form_token,
        )
        ReturnLine.objects.bulk_create(
            [
                ReturnLine(request=request, order_line_id=pk, quantity=quantity)
                for pk, quantity in sorted(wanted.items())
            ]
        )
        _audit(request, source="", target=request.status, action="request", actor=buyer, note=reason)
        if kind == ReturnRequest.Kind.REFUND_ONLY and refund_only_auto_approve():
            return_transition(request=request, action="approve", actor=None, note="auto", now=now)
            _refund(request=request, order=order, actor=None, now=now)
    return request


def _buyer_return(*, buyer: Any, return_id: Any) -> ReturnRequest:
    pk = check_id(return_id, field="return_id")
    request = ReturnRequest.objects.filter(pk=pk, buyer_id=getattr(buyer, "pk", None) or 0).first()
    if request is None:
        raise NotFound(_("Return not found."))
    return request


def return_ship_back(
    *, buyer: Any, return_id: Any, carrier: str, tracking_number: str, now: datetime | None = None
) -> ReturnRequest:
    """The buyer has sent the goods back (approved -> shipped_back) and says how."""
    request = _buyer_return(buyer=buyer, return_id=return_id)
    carrier = clean_plain_text(carrier if isinstance(carrier, str) else "", max_length=40)
    tracking_number = (tracking_number if isinstance(tracking_number, str) else "").strip()
    errors = {}
    if not carrier:
        errors["carrier"] = "required"
    if not TRACKING_RE.match(tracking_number):
        errors["tracking_number"] = "invalid"
    if errors:
        raise ValidationFailed(_("Enter the carrier and a valid tracking number."), fields=errors)
    return return_transition(
        request=request,
        action="ship_back",
        actor=buyer,
        note=f"{carrier} {tracking_number}",
        now=now,
        carrier=carrier,
        tracking_number=tracking_number,
    )


def return_cancel(*, buyer: Any, return_id: Any, now: datetime | None = None) -> ReturnRequest:
    """The buyer withdraws a return that the merchant has not received yet."""
    request = _buyer_return(buyer=buyer, return_id=return_id)
    return return_transition(request=request, action="cancel", actor=buyer, now=now)


# --- the merchant ---------------------------------------------------------------------------------


def _member_return(*, actor: Any, return_id: Any) -> ReturnRequest:
    pk = check_id(return_id, field="return_id")
    request = ReturnRequest.objects.filter(pk=pk).first()
    actor_id = getattr(actor, "pk", None)
    if (
        request is None
        or actor_id is None
        or not MerchantMember.objects.filter(merchant_id=request.merchant_id, user_id=actor_id).exists()
    ):
        raise NotFound(_("Return not found."))
    return request


def return_approve(*, actor: Any, return_id: Any, now: datetime | None = None) -> ReturnRequest:
    """A member of the order's merchant accepts the request (requested -> approved). A refund-only
    request is refunded in the same step; a return waits for the goods."""
    now = now or timezone.now()
    request = _member_return(actor=actor, return_id=return_id)
    with transaction.atomic():
        order = _locked_order(request.order_id)
        return_transition(request=request, action="approve", actor=actor, now=now)
        if request.kind == ReturnRequest.Kind.REFUND_ONLY:
            _refund(request=request, order=order, actor=actor, now=now)
    return request


def return_reject(*, actor: Any, return_id: Any, reason: str, now: datetime | None = None) -> ReturnRequest:
    """The merchant refuses the request (requested -> rejected); the reason is required and shown
    to the buyer."""
    request = _member_return(actor=actor, return_id=return_id)
    reason = clean_plain_text(reason if isinstance(reason, str) else "", max_length=MAX_REASON)
    if not reason:
        raise ValidationFailed(
            _("Say why the request is rejected."), code="reason_required", fields={"reason": "required"}
        )
    return return_transition(request=request, action="reject", actor=actor, note=reason, now=now, reject_reason=reason)


def return_receive(*, actor: Any, return_id: Any, now: datetime | None = None) -> ReturnRequest:
    """The merchant has the goods back (approved | shipped_back -> returned); the refund follows
    in the same transaction (returned -> refunded) and the units go back on sale."""
    now = now or timezone.now()
    request = _member_return(actor=actor, return_id=return_id)
    if request.kind != ReturnRequest.Kind.RETURN:
        raise InvalidTransition(_("Nothing is sent back for a refund-only request."), code="invalid_transition")
    with transaction.atomic():
        order = _locked_order(request.order_id)
        return_transition(request=request, action="receive", actor=actor, now=now)
        _refund(request=request, order=order, actor=actor, now=now)
    return request


# --- the refund -----------------------------------------------------------------------------------


def _refund(*, request: ReturnRequest, order: Order, actor: Any, now: datetime) -> None:
    """Give back the request's units; runs inside the caller's transaction (see the module doc)."""
    if request.kind == ReturnRequest.Kind.REFUND_ONLY and order.status != Order.Status.PAID:
        raise Conflict(
            _("The order was shipped meanwhile; reject this request and let the buyer return the goods."),
            code="order_shipped",
        )
    return_transition(request=request, action="refund", actor=actor, now=now)

    return_lines = list(request.lines.all())
    order_lines = {line.pk: line for line in OrderLine.objects.filter(pk__in=[rl.order_line_id for rl in return_lines])}
    goods = fee = subsidy = 0
    # Lines with a commission, split with their counters as they were before this refund.
    shares = commission_refund_shares(
        refunds=[(order_lines[rl.order_line_id], rl.quantity) for rl in return_lines if rl.order_line_id in order_lines]
    )
    for return_line in return_lines:
        line = order_lines[return_line.order_line_id]
        if line.refunded_quantity + return_line.quantity > line.quantity:
            raise _exceeds({str(line.pk): line.quantity - line.refunded_quantity})
        amount, line_fee = line_refund_split(line, already=line.refunded_quantity, quantity=return_line.quantity)
        subsidy += line_refund_subsidy(line, already=line.refunded_quantity, quantity=return_line.quantity)
        if line.pk in shares:
            line_fee = shares[line.pk].platform
        # Conditional on the counters and the fee we split from: a concurrent refund of the line, or
        # a backlog run that booked its commission meanwhile (it changes the fee), makes this one
        # fail rather than give back the same units twice or miss the commission.
        moved = OrderLine.objects.filter(
            pk=line.pk,
            refunded_quantity=line.refunded_quantity,
            refunded_amount=line.refunded_amount,
            platform_fee=line.platform_fee,
            refunded_quantity__lte=line.quantity - return_line.quantity,
            refunded_amount__lte=line.paid_amount - amount,
        ).update(
            refunded_quantity=F("refunded_quantity") + return_line.quantity,
            refunded_amount=F("refunded_amount") + amount,
        )
        if moved != 1:
            raise Conflict(
                _("This item was refunded meanwhile; reload and try again."), code="refund_changed", transient=True
            )
        return_line.refund_amount, return_line.platform_fee = amount, line_fee
        goods += amount
        fee += line_fee
    ReturnLine.objects.bulk_update(return_lines, ["refund_amount", "platform_fee"])

    everything_refunded = not OrderLine.objects.filter(order=order).exclude(refunded_quantity=F("quantity")).exists()
    cancels_order = order.status == Order.Status.PAID and everything_refunded
    shipping = order.shipping_total if cancels_order else 0
    total = goods + shipping
    refunded_before = (
        ReturnRequest.objects.filter(order=order, status=ReturnRequest.Status.REFUNDED)
        .exclude(pk=request.pk)
        .aggregate(total=Sum("refund_amount"))["total"]
        or 0
    )
    if refunded_before + total > order.total:
        raise ValidationFailed(
            _("The refund is more than what was paid for this order."),
            code="refund_exceeds_paid",
            fields={"amount": order.total - refunded_before},
        )

    stock_return(lines=merge_lines((order_lines[rl.order_line_id].sku_id, rl.quantity) for rl in return_lines))
    payment_refund_id = None
    # A refund of units a coupon made free still gives the platform back its share of them.
    if total or subsidy:
        journal_entry_post(
            idempotency_key=f"aftersale-reversal:{request.pk}",
            kind="refund_reversal",
            postings=_reversal_postings(
                order=order, total=total, fee=fee, subsidy=subsidy, shares=list(shares.values())
            ),
            memo=f"Return {request.pk} of order {order.pk}",
            reference=f"order:{order.pk}",
            actor_id=getattr(actor, "pk", None),
        )
    if total:
        payment_refund_id = _payment_refund(request=request, order=order, amount=total)
    if cancels_order:
        order_transition(order=order, action="refund_cancel", actor=actor, note=f"return {request.pk}", now=now)
    ReturnRequest.objects.filter(pk=request.pk).update(
        refund_amount=total, shipping_refund=shipping, platform_fee_reversed=fee, payment_refund_id=payment_refund_id
    )
    request.refund_amount, request.shipping_refund = total, shipping
    request.platform_fee_reversed, request.payment_refund_id = fee, payment_refund_id


def _reversal_postings(
    *, order: Order, total: int, fee: int, subsidy: int, shares: Sequence[RefundShare]
) -> list[PostingSpec]:
    """Dr merchant payable / Dr platform:revenue / Dr the shopkeepers' accounts / Cr buyer:clearing
    / Cr platform:promotions:expense (the platform coupon's share the merchant was paid)."""
    shopkeepers = sum(share.shopkeepers for share in shares)
    if not shopkeepers and not subsidy:
        return allocation_reversal_postings(
            allocations=[Allocation(merchant_id=order.merchant_id, merchant_amount=total - fee, platform_fee=fee)],
            currency=order.currency,
        )
    postings = [PostingSpec(account=BUYER_CLEARING, amount=-total, currency=order.currency)] if total else []
    if subsidy:
        postings.append(PostingSpec(account=PLATFORM_PROMOTIONS, amount=-subsidy, currency=order.currency))
    merchant = total - fee - shopkeepers + subsidy
    if merchant:
        postings.append(
            PostingSpec(account=merchant_payable(order.merchant_id), amount=merchant, currency=order.currency)
        )
    if fee:
        postings.append(PostingSpec(account=PLATFORM_REVENUE, amount=fee, currency=order.currency))
    return postings + [posting for share in shares for posting in share.postings]


def _payment_refund(*, request: ReturnRequest, order: Order, amount: int) -> int:
    from grassroots.payments.selectors import payment_intent_for
    from grassroots.payments.services import payment_refund

    intent_id = order.checkout.intent_id
    if intent_id is None:
        intent = payment_intent_for(kind="checkout", payable_id=order.checkout_id)
        intent_id = intent.pk if intent is not None else None
    if intent_id is None:
        raise Conflict(_("No payment was found to refund."), code="not_refundable")
    refund = payment_refund(
        intent_id=intent_id,
        amount=amount,
        idempotency_key=f"aftersale:{request.pk}",
        reason=f"Return {request.pk} of order {order.pk}",
    )
    return int(refund.pk)


def order_has_open_return(*, order_id: int) -> bool:
    return ReturnRequest.objects.filter(order_id=order_id, status__in=RETURN_OPEN_STATUSES).exists()
