"""The naive baseline: what you write by calling the per-checkout code in a loop, one order at a time.

For every order: load it and its lines, call the app's own attribution_resolve_many(buyer, the
order's products, at=placed_at) (no device key, as in ours), then for every line, in its own
transaction: look up the shopkeeper's inviter and whether the inviter's shop is suspended, split with
split_line (with and without the commission), save the line's snapshot, create the CommissionLine and
post its own journal entry with journal_entry_post (Dr merchant payable / Dr platform revenue / Cr
shopkeeper pending|held / Cr inviter pending|held), and adjust the order's platform fee.
Then, per commission line: check that its order is due and has no open return, claim the line with a
conditional UPDATE, read the receivable balance and post one settlement entry per line.

The results (snapshots, commission rows, ledger) are the same as ours; run.py checks that line by
line on the sample.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bench.settlement.ours import Rules


@dataclass(frozen=True)
class Snapshot:
    """What checkout_attribution would snapshot on the line for an Attribution."""

    fields: tuple[Any, ...]  # rule, shop, shopkeeper, click, rate, held, hold reason
    earns: bool


def expected_snapshot(found: Any, *, buyer_id: int) -> Snapshot:
    earns = bool(found.earns_commission and found.shopkeeper_id != buyer_id)
    credited = found.rule in ("self_purchase", "last_click", "binding")
    held = earns and found.held_for_review
    return Snapshot(
        fields=(
            found.rule,
            found.shop_id if credited else None,
            found.shopkeeper_id if credited else None,
            found.click_id if found.rule in ("last_click", "binding") else None,
            found.rate_bps if earns else 0,
            held,
            found.reason if held else "",
        ),
        earns=earns,
    )


@dataclass
class NaiveResult:
    lines: int
    commission_lines: int
    attribute_seconds: float
    settle_seconds: float
    settled: int

    @property
    def seconds(self) -> float:
        return self.attribute_seconds + self.settle_seconds


def naive_run(*, order_ids: list[int], rules: Rules, now: datetime, write_back: bool = True) -> NaiveResult:
    """The loop; write_back=False skips saving the line's snapshot and the order's fee (as ours)."""
    from django.db import transaction
    from django.db.models import F

    from grassroots.accounts.models import User
    from grassroots.attribution.services import attribution_resolve_many
    from grassroots.commissions.models import CommissionLine
    from grassroots.ledger.codes import PLATFORM_REVENUE, merchant_payable
    from grassroots.ledger.models import LedgerAccount
    from grassroots.ledger.services import journal_entry_post
    from grassroots.ledger.splits import BPS, split_line
    from grassroots.ledger.types import PostingSpec
    from grassroots.orders.models import RETURN_OPEN_STATUSES, Order, ReturnRequest
    from grassroots.shops.models import Shop

    def account(user_id: int, bucket: str) -> str:
        return f"shopkeeper:{user_id}:{bucket}"

    lines_done = 0
    start = time.perf_counter()
    for order_id in order_ids:
        order = Order.objects.select_related("buyer").get(pk=order_id)
        lines = list(order.lines.all())
        resolved = attribution_resolve_many(
            buyer=order.buyer, visitor_key=None, product_ids=[line.product_id for line in lines], at=order.placed_at
        )
        for line in lines:
            found = resolved[line.product_id]
            lines_done += 1
            snapshot = expected_snapshot(found, buyer_id=order.buyer_id)
            earns = snapshot.earns
            with transaction.atomic():
                (
                    line.attribution_rule,
                    line.attributed_shop_id,
                    line.attributed_shopkeeper_id,
                    line.attribution_click_id,
                    line.commission_rate_bps,
                    line.attribution_held,
                    line.attribution_hold_reason,
                ) = snapshot.fields
                fields = [
                    "attribution_rule",
                    "attributed_shop",
                    "attributed_shopkeeper",
                    "attribution_click",
                    "commission_rate_bps",
                    "attribution_held",
                    "attribution_hold_reason",
                ]
                if not earns:
                    if write_back:
                        line.save(update_fields=fields)
                    continue
                shopkeeper_id = int(found.shopkeeper_id)  # type: ignore[arg-type]
                inviter_id = User.objects.filter(pk=shopkeeper_id).values_list("invited_by_id", flat=True).first()
                if (
                    inviter_id is None
                    or inviter_id == shopkeeper_id
                    or inviter_id == order.buyer_id
                    or not Shop.objects.filter(owner_id=inviter_id).exclude(status=Shop.Status.SUSPENDED).exists()
                ):
                    inviter_id = None
                rate = found.rate_bps
                line_fee = min(rules.fee_bps, BPS - rate)
                override_bps = rules.override_bps if inviter_id is not None else 0
                before = split_line(paid=line.paid_amount, platform_fee_bps=rules.fee_bps)
                after = split_line(
                    paid=line.paid_amount,
                    platform_fee_bps=line_fee,
                    commission_bps=rate,
                    override_bps_of_fee=override_bps,
                    has_shopkeeper=True,
                    has_override=override_bps > 0,
                )
                if write_back:
                    line.platform_fee = after.platform_fee
                    line.save(update_fields=[*fields, "platform_fee"])
                    Order.objects.filter(pk=order.pk).update(
                        platform_fee=F("platform_fee") - (before.platform_fee - after.platform_fee)
                    )
                if not (after.commission or after.override):
                    continue
                held = found.held_for_review
                CommissionLine.objects.create(
                    order_line=line,
                    order=order,
                    shop_id=found.shop_id,
                    shopkeeper_id=shopkeeper_id,
                    override_beneficiary_id=inviter_id,
                    rule=found.rule,
                    rate_bps=rate,
                    platform_fee_bps=line_fee,
                    override_bps=override_bps,
                    click_id=found.click_id,
                    source="shop",
                    currency=order.currency,
                    paid_amount=line.paid_amount,
                    merchant_amount=after.merchant,
                    commission_amount=after.commission,
                    override_amount=after.override,
                    status=CommissionLine.Status.HELD if held else CommissionLine.Status.PENDING,
                    hold_reason=found.reason[:200] if held else "",
                )
                bucket = "held" if held else "pending"
                parts = [
                    (merchant_payable(order.merchant_id), before.merchant - after.merchant),
                    (PLATFORM_REVENUE, before.platform_fee - after.platform_fee),
                    (account(shopkeeper_id, bucket), -after.commission),
                ]
                if inviter_id is not None:
                    parts.append((account(inviter_id, bucket), -after.override))
                journal_entry_post(
                    idempotency_key=f"commission-accrual:line:{line.pk}",
                    kind="commission_accrual",
                    postings=[PostingSpec(account=a, amount=v, currency=order.currency) for a, v in parts if v],
                    memo=f"Commission on order line {line.pk}",
                    reference=f"order:{order.pk}",
                )
    attribute_seconds = time.perf_counter() - start

    cutoff = now - timedelta(days=rules.return_window_days)
    settled = 0
    start = time.perf_counter()
    commissions = CommissionLine.objects.filter(order_id__in=order_ids, status=CommissionLine.Status.PENDING)
    for commission in commissions.select_related("order").order_by("pk"):
        order = commission.order
        due = order.status == Order.Status.COMPLETED or (
            order.status == Order.Status.DELIVERED and order.delivered_at is not None and order.delivered_at <= cutoff
        )
        if not due or ReturnRequest.objects.filter(order_id=order.pk, status__in=RETURN_OPEN_STATUSES).exists():
            continue
        with transaction.atomic():
            claimed = CommissionLine.objects.filter(pk=commission.pk, status=CommissionLine.Status.PENDING).update(
                status=CommissionLine.Status.AVAILABLE, settled_at=now, available_at=now
            )
            if not claimed:
                continue
            owed = [(commission.shopkeeper_id, commission.commission_amount - commission.commission_reversed)]
            if commission.override_beneficiary_id is not None:
                owed.append(
                    (commission.override_beneficiary_id, commission.override_amount - commission.override_reversed)
                )
            postings: list[PostingSpec] = []
            for user_id, amount in owed:
                if amount <= 0:
                    continue
                receivable = (
                    LedgerAccount.objects.filter(code=account(user_id, "receivable"), currency=commission.currency)
                    .values_list("cached_balance", flat=True)
                    .first()
                )
                net = min(amount, max(receivable or 0, 0))
                postings.append(
                    PostingSpec(account=account(user_id, "pending"), amount=amount, currency=commission.currency)
                )
                if net:
                    postings.append(
                        PostingSpec(account=account(user_id, "receivable"), amount=-net, currency=commission.currency)
                    )
                if amount - net:
                    postings.append(
                        PostingSpec(
                            account=account(user_id, "available"), amount=-(amount - net), currency=commission.currency
                        )
                    )
            if postings:
                journal_entry_post(
                    idempotency_key=f"commission-settle:line:{commission.pk}",
                    kind="commission_settlement",
                    postings=postings,
                    memo=f"Commission line {commission.pk} settled",
                    reference=f"order:{order.pk}",
                )
            settled += 1
    settle_seconds = time.perf_counter() - start
    return NaiveResult(
        lines=lines_done,
        commission_lines=CommissionLine.objects.filter(order_id__in=order_ids).count(),
        attribute_seconds=attribute_seconds,
        settle_seconds=settle_seconds,
        settled=settled,
    )


def naive_snapshot(*, order_ids: list[int]) -> dict[int, tuple[Any, ...]]:
    """{line id: (line snapshot, commission)} of the sample, to compare with ours. The line snapshot is
    (rule, shop, shopkeeper, click, rate, held, reason, platform fee); the commission is (rule, shop,
    shopkeeper, click, rate, held, reason, inviter, commission, override, merchant amount) or None."""
    from grassroots.commissions.models import CommissionLine
    from grassroots.orders.models import OrderLine

    commissions = {c.order_line_id: c for c in CommissionLine.objects.filter(order_id__in=order_ids).order_by()}
    result: dict[int, tuple[Any, ...]] = {}
    for line in OrderLine.objects.filter(order_id__in=order_ids).order_by("pk"):
        c = commissions.get(line.pk)
        snapshot = (
            line.attribution_rule,
            line.attributed_shop_id,
            line.attributed_shopkeeper_id,
            line.attribution_click_id,
            line.commission_rate_bps,
            line.attribution_held,
            line.attribution_hold_reason,
            line.platform_fee,
        )
        commission = (
            (
                c.rule,
                c.shop_id,
                c.shopkeeper_id,
                c.click_id,
                c.rate_bps,
                c.status == CommissionLine.Status.HELD,
                c.hold_reason,
                c.override_beneficiary_id,
                c.commission_amount,
                c.override_amount,
                c.merchant_amount,
            )
            if c
            else None
        )
        result[line.pk] = (snapshot, commission)
    return result
