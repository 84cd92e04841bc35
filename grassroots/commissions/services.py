"""Commission on attributed sales: attribution at checkout, the split at capture, reversal on
refund, operator review of held lines, and settlement after the return window.

Ledger accounts and flows are listed in `grassroots.commissions.models`. Decisions:

- Checkout (`checkout_attribution`): every line is attributed with a fixed number of queries (one
  gate query, then attribution_resolve_many and one address query only when something could be
  attributed) and the result is snapshotted on the OrderLine, so later clicks, rate cuts or shop
  edits never change what a sale earns.
- Self purchase (the buyer owns an active shop that carries the product): no commission; the line
  gets the member price instead, an extra line discount of the rate in effect now, applied to what
  the line costs after any coupon and rounded down (`member_discount`). It is part of
  OrderLine.discount_amount and recorded on its own in OrderLine.member_discount.
- Suspected self-referral: attribution held it (shared device or network), or the delivery address
  equals the shopkeeper's default address (`address_fingerprint`: region, city, street, postcode;
  not the recipient's name or phone). The commission AND the override are then booked to the
  `:held` accounts until a curator releases (-> pending) or rejects it (commission back to the
  merchant, override back to the platform).
- Capture (`commissions_on_paid`): split_line per line. The commission is paid by the merchant out
  of the paid price at the rate of the click; the fee rate is capped so fee + commission never
  exceed the price. The team override is TEAM_OVERRIDE_BPS of the platform fee (never the
  merchant's money), to the shopkeeper's inviter only, and only when that inviter is a shopkeeper
  (owns a shop that is not suspended) and is not the buyer. Exactly one level: the inviter's
  inviter never earns. Nothing is ever paid for signing someone up.
- Refunds (`commission_refund_shares`): the refunded units [a, b) of a line take back
  split_line(P_b) - split_line(P_a) of every part, where P_k is the paid amount of the first k
  units (the same unit allocation as the refund amount). split_line is monotonic in the paid
  amount, so every part is >= 0, and refunding all units gives back exactly what was booked.
  A settled (available) commission is taken from available; what was already withdrawn becomes a
  receivable, which later settlements net first.
- Settlement (`commissions_settle_due`): set-based; lines of orders delivered more than
  RETURN_WINDOW_DAYS ago (or completed) without an open return move pending -> available with a
  conditional UPDATE, so two runs never settle a line twice; one entry per beneficiary and
  currency per chunk, with shopkeepers kept whole within a chunk, all written by one
  journal_entries_post_many.
- Backlog (`grassroots.commissions.backfill`): lines paid without an attribution snapshot (imports,
  recomputation after an outage) are attributed and booked in bulk on PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.attribution.conf import attribution_setting
from grassroots.attribution.services import attribution_resolve_many, visitor_key_clean
from grassroots.core.conf import gr_setting
from grassroots.core.errors import Conflict, NotFound, PermissionDenied
from grassroots.core.state_machine import InvalidTransition
from grassroots.ledger.codes import BUYER_CLEARING, PLATFORM_PROMOTIONS, PLATFORM_REVENUE, merchant_payable
from grassroots.ledger.models import LedgerAccount
from grassroots.ledger.services import journal_entries_post_many, journal_entry_post, ledger_accounts_lock
from grassroots.ledger.splits import BPS, LineSplit, allocate_proportionally, split_line
from grassroots.ledger.types import EntrySpec, PostingSpec
from grassroots.merchants.selectors import user_is_curator
from grassroots.notifications.services import CommissionAvailable, notify_commission_available_many
from grassroots.orders.models import RETURN_OPEN_STATUSES, Address, Order, OrderLine, ReturnRequest
from grassroots.shops.models import Shop

from .models import CommissionLine, CommissionSettlement
from .selectors import AVAILABLE, HELD, PENDING, RECEIVABLE, shopkeeper_account
from .sharding import WHOLE, Shard, shard_check

DEFAULTS = {"PLATFORM_FEE_BPS": 500, "TEAM_OVERRIDE_BPS": 1000, "RETURN_WINDOW_DAYS": 7}
EARNING_RULES = ("last_click", "binding")
SELF_PURCHASE = "self_purchase"
HOLD_REASON_MAX = 200
# Settlement chunks: at most this many lines or shopkeepers per transaction.
SETTLE_CHUNK_LINES = 10_000
SETTLE_CHUNK_SHOPKEEPERS = 1_000
SETTLE_LOCK_CLASS = 0x6772_7365  # pg_advisory_xact_lock(class, shard) of a settlement chunk


def commissions_setting(name: str) -> int:
    try:
        return int(gr_setting(name))
    except KeyError:
        return DEFAULTS[name]


# --- checkout -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineAttribution:
    """What checkout snapshots on an OrderLine (see OrderLine.attribution_*)."""

    rule: str = "none"
    shop_id: int | None = None
    shopkeeper_id: int | None = None
    click_id: int | None = None
    rate_bps: int = 0  # the commission rate earned; 0 when nothing is earned
    member_discount_bps: int = 0  # self purchase only
    held: bool = False
    hold_reason: str = ""

    @property
    def earns(self) -> bool:
        return self.rule in EARNING_RULES and self.rate_bps > 0 and self.shopkeeper_id is not None


NO_ATTRIBUTION = LineAttribution()


def member_discount(*, paid: int, bps: int) -> int:
    """The member price's discount on a self purchase: `bps` of what the line costs, rounded down
    (the member price never falls below the exact rate)."""
    if paid <= 0 or bps <= 0:
        return 0
    return paid * min(bps, BPS) // BPS


def address_fingerprint(address: Mapping[str, Any]) -> str:
    """Where an address delivers to, normalised (whitespace and case): region, city, street and
    postcode. The recipient's name and phone are left out; a second account uses another name."""
    parts = (str(address.get(key) or "") for key in ("region", "city", "line1", "postcode"))
    return "|".join(" ".join(part.split()).casefold() for part in parts)


def _attribution_possible(*, buyer_id: int, visitor_key: str) -> bool:
    """One query: could anything be attributed to this buyer? (They own an active shop, or they or
    their device ever clicked a share link (not as a bot), or a customer binding exists.) Most
    checkouts stop here, so it is written as SQL: the ORM's query building cost more than the query."""
    from grassroots.attribution.models import Click, CustomerBinding

    shop, click, binding = Shop._meta.db_table, Click._meta.db_table, CustomerBinding._meta.db_table
    tests = [
        f"EXISTS (SELECT 1 FROM {shop} WHERE owner_id = %s AND status = %s)",  # noqa: S608
        f"EXISTS (SELECT 1 FROM {click} WHERE user_id = %s AND is_bot = %s)",  # noqa: S608
    ]
    params: list[Any] = [buyer_id, Shop.Status.ACTIVE.value, buyer_id, False]
    if visitor_key:
        tests.append(f"EXISTS (SELECT 1 FROM {click} WHERE visitor_key = %s AND is_bot = %s)")  # noqa: S608
        params += [visitor_key, False]
    if attribution_setting("CUSTOMER_BINDING_DAYS") > 0:
        tests.append(f"EXISTS (SELECT 1 FROM {binding} WHERE customer_id = %s)")  # noqa: S608
        params.append(buyer_id)
    # Table names come from model metadata; every value is bound.
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + " OR ".join(tests), params)
        return bool(cursor.fetchone()[0])


def _shopkeepers_at(*, shopkeeper_ids: Iterable[int], address: Mapping[str, Any]) -> set[int]:
    """The shopkeepers whose default address is the buyer's delivery address. One query."""
    wanted = address_fingerprint(address)
    rows = Address.objects.filter(owner_id__in=sorted(set(shopkeeper_ids)), is_default=True).values(
        "owner_id", "region", "city", "line1", "postcode"
    )
    return {row["owner_id"] for row in rows if address_fingerprint(row) == wanted}


def checkout_attribution(
    *, buyer: Any, visitor_key: str | None, product_ids: Iterable[int], address: Mapping[str, Any], at: datetime
) -> dict[int, LineAttribution]:
    """Attribution of every product of a checkout, as OrderLine snapshots: at most eight queries
    however many lines (one when nothing could be attributed). Products without any get
    NO_ATTRIBUTION ("none")."""
    ids = sorted({int(pid) for pid in product_ids})
    buyer_id = getattr(buyer, "pk", None)
    key = visitor_key_clean(visitor_key)
    if not ids or buyer_id is None or not _attribution_possible(buyer_id=buyer_id, visitor_key=key):
        return dict.fromkeys(ids, NO_ATTRIBUTION)
    resolved = attribution_resolve_many(buyer=buyer, visitor_key=key, product_ids=ids, at=at)
    earning = {pid: found for pid, found in resolved.items() if found.earns_commission}
    same_address = (
        _shopkeepers_at(
            shopkeeper_ids={found.shopkeeper_id for found in earning.values() if found.shopkeeper_id}, address=address
        )
        if earning
        else set()
    )
    result: dict[int, LineAttribution] = {}
    for pid in ids:
        found = resolved.get(pid)
        if found is None:
            result[pid] = NO_ATTRIBUTION
        elif found.rule == SELF_PURCHASE:
            result[pid] = LineAttribution(
                rule=SELF_PURCHASE,
                shop_id=found.shop_id,
                shopkeeper_id=found.shopkeeper_id,
                member_discount_bps=found.member_price_discount_bps,
            )
        elif pid in earning:
            reasons = [reason for reason in found.reason.split(",") if reason] if found.held_for_review else []
            if found.shopkeeper_id in same_address:
                reasons.append("shared_address")
            result[pid] = LineAttribution(
                rule=found.rule,
                shop_id=found.shop_id,
                shopkeeper_id=found.shopkeeper_id,
                click_id=found.click_id,
                rate_bps=found.rate_bps,
                held=bool(reasons),
                hold_reason=",".join(reasons)[:HOLD_REASON_MAX],
            )
        else:
            # "expired" and "none"; a credited line at rate 0 earns nothing and is kept as its rule.
            result[pid] = LineAttribution(
                rule=found.rule, shop_id=found.shop_id, shopkeeper_id=found.shopkeeper_id, click_id=found.click_id
            )
    return result


# --- capture --------------------------------------------------------------------------------------


def _earns(line: OrderLine, buyer_id: int) -> bool:
    return (
        line.attribution_rule in EARNING_RULES
        and line.attributed_shopkeeper_id is not None
        and line.attributed_shopkeeper_id != buyer_id
        and line.attributed_shop_id is not None
        and line.commission_rate_bps > 0
    )


def _split(*, paid: int, platform_fee_bps: int, rate_bps: int, override_bps: int) -> LineSplit:
    return split_line(
        paid=paid,
        platform_fee_bps=platform_fee_bps,
        commission_bps=rate_bps,
        override_bps_of_fee=override_bps,
        has_shopkeeper=rate_bps > 0,
        has_override=rate_bps > 0 and override_bps > 0,
    )


def _team_inviters(*, shopkeeper_ids: set[int]) -> dict[int, int]:
    """{shopkeeper id: inviter id} for shopkeepers whose inviter earns the override: the inviter owns
    a shop that is not suspended. Two queries."""
    from grassroots.accounts.models import User

    if not shopkeeper_ids:
        return {}
    invited_by = {
        pk: inviter
        for pk, inviter in User.objects.filter(pk__in=sorted(shopkeeper_ids), invited_by__isnull=False).values_list(
            "pk", "invited_by_id"
        )
        if inviter != pk
    }
    if not invited_by:
        return {}
    keepers = set(
        Shop.objects.filter(owner_id__in=sorted(set(invited_by.values())))
        .exclude(status=Shop.Status.SUSPENDED)
        .values_list("owner_id", flat=True)
    )
    return {pk: inviter for pk, inviter in invited_by.items() if inviter in keepers}


def _credit(credits: dict[str, int], code: str, amount: int) -> None:
    if amount:
        credits[code] += amount


def commissions_on_paid(*, orders: Sequence[Order]) -> dict[int, list[PostingSpec]]:
    """For orders just paid (their `lines` prefetched, inside the capture's transaction): split every
    line, set `line.platform_fee` (what the platform keeps; the caller saves it), create one
    CommissionLine per commissioned line, and return each order's allocation postings:

        Dr buyer:clearing total / Dr platform:promotions:expense (platform coupons' shares)
        / Cr merchant:<m>:payable (merchant parts + shipping + platform coupons' shares)
        / Cr platform:revenue (fees kept) / Cr shopkeeper:<s>:pending|held (commissions)
        / Cr shopkeeper:<inviter>:pending|held (overrides)

    Lines are split on what the buyer paid; a platform coupon's share of a line
    (`line.platform_discount`) is paid to the merchant on top, by the platform.

    Three queries plus one insert whatever the number of lines (none without attributed lines).
    """
    # Clamped: a misconfigured rate must not make every capture fail.
    fee_bps = min(max(commissions_setting("PLATFORM_FEE_BPS"), 0), BPS)
    override_setting = min(max(commissions_setting("TEAM_OVERRIDE_BPS"), 0), BPS)
    earning = [(order, line) for order in orders for line in order.lines.all() if _earns(line, order.buyer_id)]
    inviters = _team_inviters(
        shopkeeper_ids={line.attributed_shopkeeper_id for _order, line in earning if line.attributed_shopkeeper_id}
    )
    earning_ids = {line.pk for _order, line in earning}
    rows: list[CommissionLine] = []
    result: dict[int, list[PostingSpec]] = {}
    for order in orders:
        subsidy = sum(line.platform_discount for line in order.lines.all())
        merchant = order.shipping_total + subsidy
        platform = 0
        credits: dict[str, int] = defaultdict(int)
        for line in order.lines.all():
            if line.pk not in earning_ids:
                split = split_line(paid=line.paid_amount, platform_fee_bps=fee_bps)
                line.platform_fee = split.platform_fee
                merchant += split.merchant
                platform += split.platform_fee
                continue
            shopkeeper_id = int(line.attributed_shopkeeper_id)  # type: ignore[arg-type]
            inviter_id = inviters.get(shopkeeper_id)
            if inviter_id == order.buyer_id or not override_setting:
                inviter_id = None  # nobody earns an override on their own purchase
            rate = line.commission_rate_bps
            line_fee_bps = min(fee_bps, BPS - rate)
            override_bps = override_setting if inviter_id is not None else 0
            split = _split(
                paid=line.paid_amount, platform_fee_bps=line_fee_bps, rate_bps=rate, override_bps=override_bps
            )
            line.platform_fee = split.platform_fee
            merchant += split.merchant
            platform += split.platform_fee
            bucket = HELD if line.attribution_held else PENDING
            _credit(credits, shopkeeper_account(shopkeeper_id, bucket), split.commission)
            if inviter_id is not None:
                _credit(credits, shopkeeper_account(inviter_id, bucket), split.override)
            if split.commission or split.override:
                rows.append(
                    CommissionLine(
                        order_line=line,
                        order=order,
                        shop_id=int(line.attributed_shop_id),  # type: ignore[arg-type]
                        shopkeeper_id=shopkeeper_id,
                        override_beneficiary_id=inviter_id,
                        rule=line.attribution_rule,
                        rate_bps=rate,
                        platform_fee_bps=line_fee_bps,
                        override_bps=override_bps,
                        click_id=line.attribution_click_id,
                        source="shop",
                        currency=order.currency,
                        paid_amount=line.paid_amount,
                        merchant_amount=split.merchant,
                        commission_amount=split.commission,
                        override_amount=split.override,
                        status=CommissionLine.Status.HELD if line.attribution_held else CommissionLine.Status.PENDING,
                        hold_reason=line.attribution_hold_reason[:HOLD_REASON_MAX],
                    )
                )
        postings = [PostingSpec(account=BUYER_CLEARING, amount=order.total, currency=order.currency)]
        if subsidy:
            postings.append(PostingSpec(account=PLATFORM_PROMOTIONS, amount=subsidy, currency=order.currency))
        if merchant:
            postings.append(
                PostingSpec(account=merchant_payable(order.merchant_id), amount=-merchant, currency=order.currency)
            )
        if platform:
            postings.append(PostingSpec(account=PLATFORM_REVENUE, amount=-platform, currency=order.currency))
        postings += [
            PostingSpec(account=code, amount=-amount, currency=order.currency)
            for code, amount in sorted(credits.items())
        ]
        result[order.pk] = postings
    if rows:
        CommissionLine.objects.bulk_create(rows)
    return result


# --- refunds --------------------------------------------------------------------------------------


@dataclass
class RefundShare:
    """Who gives back what of one refunded order line: the merchant, the platform (its fee, and a
    rejected override) and the shopkeepers (their postings: debits of their accounts)."""

    merchant: int = 0
    platform: int = 0
    shopkeepers: int = 0
    postings: list[PostingSpec] = field(default_factory=list)


def refund_window_split(
    *, paid: int, quantity: int, already: int, units: int, platform_fee_bps: int, rate_bps: int, override_bps: int
) -> LineSplit:
    """What refunding units [already, already + units) of a line (paid for `quantity` units) takes
    back of each part: split_line(P_b) - split_line(P_a), P_k being what the first k units cost
    (allocate_proportionally over the units, as refund amounts are). Pure. Every part is >= 0, the
    parts sum to what those units cost, and windows covering every unit sum to the line's split."""
    unit_paid = allocate_proportionally(paid, [1] * quantity)

    def upto(count: int) -> LineSplit:
        return _split(
            paid=sum(unit_paid[:count]),
            platform_fee_bps=platform_fee_bps,
            rate_bps=rate_bps,
            override_bps=override_bps,
        )

    before, after = upto(already), upto(already + units)
    return LineSplit(
        merchant=after.merchant - before.merchant,
        platform_fee=after.platform_fee - before.platform_fee,
        commission=after.commission - before.commission,
        override=after.override - before.override,
    )


def _changed() -> Conflict:
    return Conflict(
        _("This commission changed meanwhile; reload and try again."), code="commission_changed", transient=True
    )


def commission_refund_shares(*, refunds: Sequence[tuple[OrderLine, int]]) -> dict[int, RefundShare]:
    """For a refund of `quantity` units of each (order line, quantity), the line's counters as they
    were before this refund: the share of every party, for lines that carry a commission (others
    are absent: the caller splits them between merchant and platform as before).

    Runs inside the refund's transaction. Updates the commission lines' reversed amounts with
    conditional UPDATEs (a concurrent settlement or refund makes it a 409 `commission_changed`).
    Pending or held money is taken back from those accounts; available money from available, and
    what the shopkeeper already withdrew becomes `shopkeeper:<id>:receivable`.
    """
    by_line = {line.pk: (line, quantity) for line, quantity in refunds}
    commissions = list(CommissionLine.objects.filter(order_line_id__in=list(by_line)).order_by("pk"))
    shares: dict[int, RefundShare] = {}
    from_available: list[tuple[RefundShare, str, int, int]] = []  # share, currency, user id, amount
    for commission in commissions:
        line, quantity = by_line[commission.order_line_id]
        window = refund_window_split(
            paid=line.paid_amount,
            quantity=line.quantity,
            already=line.refunded_quantity,
            units=quantity,
            platform_fee_bps=commission.platform_fee_bps,
            rate_bps=commission.rate_bps,
            override_bps=commission.override_bps,
        )
        share = RefundShare(merchant=window.merchant, platform=window.platform_fee)
        shares[line.pk] = share
        currency = commission.currency
        if commission.status == CommissionLine.Status.REJECTED:
            # The merchant got the commission back and the platform the override when it was rejected.
            share.merchant += window.commission
            share.platform += window.override
            continue
        parts = [(commission.shopkeeper_id, window.commission)]
        if commission.override_beneficiary_id is not None:
            parts.append((commission.override_beneficiary_id, window.override))
        share.shopkeepers = window.commission + window.override
        if not share.shopkeepers:
            continue
        if (
            commission.commission_reversed + window.commission > commission.commission_amount
            or commission.override_reversed + window.override > commission.override_amount
        ):
            raise _changed()
        fully = (
            commission.commission_reversed + window.commission == commission.commission_amount
            and commission.override_reversed + window.override == commission.override_amount
        )
        moved = CommissionLine.objects.filter(
            pk=commission.pk,
            status=commission.status,
            commission_reversed=commission.commission_reversed,
            override_reversed=commission.override_reversed,
        ).update(
            commission_reversed=F("commission_reversed") + window.commission,
            override_reversed=F("override_reversed") + window.override,
            status=CommissionLine.Status.REVERSED if fully else commission.status,
        )
        if moved != 1:
            raise _changed()
        for user_id, amount in parts:
            if not amount:
                continue
            if commission.status == CommissionLine.Status.AVAILABLE:
                from_available.append((share, currency, user_id, amount))
            else:
                bucket = HELD if commission.status == CommissionLine.Status.HELD else PENDING
                share.postings.append(
                    PostingSpec(account=shopkeeper_account(user_id, bucket), amount=amount, currency=currency)
                )
    if from_available:
        _take_from_available(from_available)
    return shares


def _lock_accounts(codes: Iterable[str], currencies: Iterable[str]) -> dict[tuple[str, str], int]:
    """Lock (PostgreSQL) and read the cached balances of these accounts, in (code, currency) order
    as journal_entry_post touches them, so lockers never deadlock each other."""
    rows = (
        LedgerAccount.objects.select_for_update()
        .filter(code__in=sorted(set(codes)), currency__in=sorted(set(currencies)))
        .order_by("code", "currency")
        .values_list("code", "currency", "cached_balance")
    )
    return {(code, currency): int(balance) for code, currency, balance in rows}


def _take_from_available(wanted: list[tuple[RefundShare, str, int, int]]) -> None:
    codes = [
        shopkeeper_account(user_id, bucket) for _s, _c, user_id, _a in wanted for bucket in (AVAILABLE, RECEIVABLE)
    ]
    balances = _lock_accounts(codes, {currency for _s, currency, _u, _a in wanted})
    left = {key: max(-balance, 0) for key, balance in balances.items() if key[0].endswith(f":{AVAILABLE}")}
    for share, currency, user_id, amount in wanted:
        code = shopkeeper_account(user_id, AVAILABLE)
        taken = min(amount, left.get((code, currency), 0))
        left[(code, currency)] = left.get((code, currency), 0) - taken
        if taken:
            share.postings.append(PostingSpec(account=code, amount=taken, currency=currency))
        if amount - taken:
            share.postings.append(
                PostingSpec(account=shopkeeper_account(user_id, RECEIVABLE), amount=amount - taken, currency=currency)
            )


# --- operator review ------------------------------------------------------------------------------


def curator_required(*, actor: Any) -> None:
    """PermissionDenied (403 `not_curator`) unless the actor may review held commissions."""
    if not user_is_curator(user=actor):
        raise PermissionDenied(_("Only curators review held commissions."), code="not_curator")


def _held_line(line: CommissionLine | int) -> CommissionLine:
    pk = line.pk if isinstance(line, CommissionLine) else line
    if isinstance(pk, bool) or not isinstance(pk, int) or not 1 <= pk < 2**63:
        raise NotFound(_("Commission line not found."))
    found = CommissionLine.objects.select_related("order").filter(pk=pk).first()
    if found is None:
        raise NotFound(_("Commission line not found."))
    if found.status != CommissionLine.Status.HELD:
        raise InvalidTransition(_("This commission is not held for review."), code="not_held")
    return found


def _not_own_line(line: CommissionLine, *, actor: Any) -> None:
    """A curator who earns from a held line (its shopkeeper or their inviter) may not decide it."""
    if actor.pk in (line.shopkeeper_id, line.override_beneficiary_id):
        raise PermissionDenied(_("Another curator must review a commission you earn from."), code="own_commission")


def _decide(line: CommissionLine, *, target: str, actor: Any, now: datetime, **fields: Any) -> None:
    moved = CommissionLine.objects.filter(
        pk=line.pk,
        status=CommissionLine.Status.HELD,
        commission_reversed=line.commission_reversed,
        override_reversed=line.override_reversed,
    ).update(status=target, decided_by=actor, decided_at=now, **fields)
    if moved != 1:
        raise InvalidTransition(
            _("This commission changed meanwhile; reload and try again."), code="commission_changed", transient=True
        )


def commission_release(*, line: CommissionLine | int, actor: Any, now: datetime | None = None) -> CommissionLine:
    """A curator finds a held line fine: held -> pending, and its money with it (Dr …:held /
    Cr …:pending for the shopkeeper and the inviter). It then settles like any other line."""
    curator_required(actor=actor)
    now = now or timezone.now()
    with transaction.atomic():
        found = _held_line(line)
        _not_own_line(found, actor=actor)
        _decide(found, target=CommissionLine.Status.PENDING, actor=actor, now=now)
        postings: list[PostingSpec] = []
        for user_id, amount in _remaining_parts(found):
            postings += [
                PostingSpec(account=shopkeeper_account(user_id, HELD), amount=amount, currency=found.currency),
                PostingSpec(account=shopkeeper_account(user_id, PENDING), amount=-amount, currency=found.currency),
            ]
        if postings:
            journal_entry_post(
                idempotency_key=f"commission-release:{found.pk}",
                kind="commission_release",
                postings=postings,
                memo=f"Commission line {found.pk} released",
                reference=f"order:{found.order_id}",
                actor_id=actor.pk,
            )
    found.refresh_from_db()
    return found


def commission_reject(*, line: CommissionLine | int, actor: Any, now: datetime | None = None) -> CommissionLine:
    """A curator finds a held line to be self-referral: held -> rejected. The commission goes back
    to the merchant who funded it and the override to the platform (Dr …:held / Cr merchant payable,
    Cr platform:revenue); those parties then carry that part of any later refund of the line."""
    curator_required(actor=actor)
    now = now or timezone.now()
    with transaction.atomic():
        found = _held_line(line)
        _not_own_line(found, actor=actor)
        commission_left = found.commission_amount - found.commission_reversed
        override_left = found.override_amount - found.override_reversed
        _decide(
            found,
            target=CommissionLine.Status.REJECTED,
            actor=actor,
            now=now,
            commission_reversed=F("commission_amount"),
            override_reversed=F("override_amount"),
        )
        currency = found.currency
        postings: list[PostingSpec] = []
        if commission_left:
            postings += [
                PostingSpec(
                    account=shopkeeper_account(found.shopkeeper_id, HELD), amount=commission_left, currency=currency
                ),
                PostingSpec(
                    account=merchant_payable(found.order.merchant_id), amount=-commission_left, currency=currency
                ),
            ]
        if override_left and found.override_beneficiary_id is not None:
            postings += [
                PostingSpec(
                    account=shopkeeper_account(found.override_beneficiary_id, HELD),
                    amount=override_left,
                    currency=currency,
                ),
                PostingSpec(account=PLATFORM_REVENUE, amount=-override_left, currency=currency),
            ]
        if postings:
            journal_entry_post(
                idempotency_key=f"commission-reject:{found.pk}",
                kind="commission_reject",
                postings=postings,
                memo=f"Commission line {found.pk} rejected as self-referral",
                reference=f"order:{found.order_id}",
                actor_id=actor.pk,
            )
    found.refresh_from_db()
    return found


def _remaining_parts(line: CommissionLine) -> list[tuple[int, int]]:
    parts = [(line.shopkeeper_id, line.commission_amount - line.commission_reversed)]
    if line.override_beneficiary_id is not None:
        parts.append((line.override_beneficiary_id, line.override_amount - line.override_reversed))
    return [(user_id, amount) for user_id, amount in parts if amount]


# --- settlement -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SettlementResult:
    lines: int = 0
    entries: int = 0
    amount: int = 0  # moved out of pending, all currencies
    netted: int = 0  # of which cleared receivables instead of becoming available


def commissions_due(*, now: datetime) -> Any:
    """Pending lines whose order was delivered more than RETURN_WINDOW_DAYS before `now` (or is
    completed) and has no open return."""
    cutoff = now - timedelta(days=commissions_setting("RETURN_WINDOW_DAYS"))
    open_returns = ReturnRequest.objects.filter(order_id=OuterRef("order_id"), status__in=RETURN_OPEN_STATUSES)
    return (
        CommissionLine.objects.filter(status=CommissionLine.Status.PENDING)
        .filter(
            Q(order__status=Order.Status.COMPLETED)
            | Q(order__status=Order.Status.DELIVERED, order__delivered_at__lte=cutoff)
        )
        .exclude(Exists(open_returns))
    )


def _shard_lock_id(shard: Shard) -> int:
    """One 32-bit lock id per (i, n); n = 1 is 0."""
    index, count = shard
    return (count * (count - 1) // 2 + index) % 2**31


def _chunks(counts: list[tuple[int, int]]) -> list[list[int]]:
    """Shopkeeper ids grouped so that a chunk holds at most SETTLE_CHUNK_LINES lines (a bigger
    shopkeeper gets a chunk alone) and SETTLE_CHUNK_SHOPKEEPERS shopkeepers."""
    chunks: list[list[int]] = []
    current: list[int] = []
    size = 0
    for shopkeeper_id, lines in counts:
        if current and (size + lines > SETTLE_CHUNK_LINES or len(current) >= SETTLE_CHUNK_SHOPKEEPERS):
            chunks.append(current)
            current, size = [], 0
        current.append(shopkeeper_id)
        size += lines
    if current:
        chunks.append(current)
    return chunks


def commissions_settle_due(*, now: datetime | None = None, shard: Shard = WHOLE) -> SettlementResult:
    """Move every due line's money pending -> available (see `commissions_due`), netting open
    receivables first: Dr shopkeeper:<x>:pending / Cr shopkeeper:<x>:receivable / Cr …:available.

    Set-based: shopkeepers are grouped into chunks of up to SETTLE_CHUNK_LINES lines; each chunk is
    one transaction of a fixed number of statements, whatever its size: the claim, the sums per
    beneficiary, one lock of every account involved (`ledger_accounts_lock`) and one
    `journal_entries_post_many` writing one entry per beneficiary and currency (a shopkeeper with
    more due lines than a chunk gets one entry per chunk). Each chunk's lines are claimed by one
    conditional UPDATE (status pending -> available, its settlement set; no separate locking pass),
    so concurrent or repeated runs never settle a line twice; a run with nothing due writes nothing
    (its empty claim is rolled back).

    `shard=(i, n)` takes only the shopkeepers whose id is i modulo n, so n processes can share a big
    run (`manage.py settle_commissions --shard i/n`). On PostgreSQL a chunk takes a transaction
    advisory lock of its shard: runs of the same shard go one chunk at a time (they would otherwise
    claim the same lines in different orders), the n shards of one split run side by side. A chunk
    that still meets a deadlock or serialization failure (runs split differently at the same time)
    is rolled back and tried again.
    """
    now = now or timezone.now()
    index, count = shard_check(shard)
    due = commissions_due(now=now)
    if count > 1:
        due = due.annotate(shard=F("shopkeeper_id") % count).filter(shard=index)
    counts = list(
        due.values("shopkeeper_id")
        .annotate(lines=Count("id"))
        .order_by("shopkeeper_id")
        .values_list("shopkeeper_id", "lines")
    )
    total = SettlementResult()
    for chunk in _chunks(counts):
        while True:
            done, full = _settle_chunk_retrying(shopkeeper_ids=chunk, now=now, shard=(index, count))
            total = SettlementResult(
                lines=total.lines + done.lines,
                entries=total.entries + done.entries,
                amount=total.amount + done.amount,
                netted=total.netted + done.netted,
            )
            if not full:
                break
    return total


# PostgreSQL's deadlock_detected and serialization_failure: the chunk was rolled back, try it again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
SETTLE_CHUNK_ATTEMPTS = 5


def _settle_chunk_retrying(*, shopkeeper_ids: list[int], now: datetime, shard: Shard) -> tuple[SettlementResult, bool]:
    attempt = 1
    while True:
        try:
            return _settle_chunk(shopkeeper_ids=shopkeeper_ids, now=now, shard=shard)
        except OperationalError as error:
            retryable = getattr(error.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES
            if not retryable or attempt == SETTLE_CHUNK_ATTEMPTS:
                raise
            attempt += 1


def _settle_chunk(*, shopkeeper_ids: list[int], now: datetime, shard: Shard) -> tuple[SettlementResult, bool]:
    """Settle up to SETTLE_CHUNK_LINES due lines of these shopkeepers in one transaction; the flag
    says the chunk was full (more may be due)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Chunks of one shard run one at a time across processes: concurrent runs then never lock
            # the same lines in different orders (no deadlock), and the later one finds them settled.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SETTLE_LOCK_CLASS, _shard_lock_id(shard)])
        batch = CommissionSettlement.objects.create(created_at=now)
        # The claim is one statement, one pass over the lines: the UPDATE locks each due line as it
        # moves it, and only while it is still pending (the outer condition is re-checked on the
        # current row version after any concurrent change), so a line is never settled twice.
        due = (commissions_due(now=now).filter(shopkeeper_id__in=shopkeeper_ids).order_by("pk").values("pk"))[
            :SETTLE_CHUNK_LINES
        ]
        claimed = CommissionLine.objects.filter(
            pk__in=due, shopkeeper_id__in=shopkeeper_ids, status=CommissionLine.Status.PENDING
        ).update(status=CommissionLine.Status.AVAILABLE, settlement=batch, settled_at=now, available_at=now)
        if not claimed:
            transaction.set_rollback(True)
            return SettlementResult(), False
        lines = CommissionLine.objects.filter(settlement=batch).order_by()
        owed: dict[tuple[int, str], int] = defaultdict(int)
        for user_id, currency, amount in (
            lines.values("shopkeeper_id", "currency")
            .annotate(amount=Sum(F("commission_amount") - F("commission_reversed")))
            .values_list("shopkeeper_id", "currency", "amount")
        ):
            owed[(user_id, currency)] += int(amount or 0)
        for user_id, currency, amount in (
            lines.filter(override_beneficiary__isnull=False)
            .values("override_beneficiary_id", "currency")
            .annotate(amount=Sum(F("override_amount") - F("override_reversed")))
            .values_list("override_beneficiary_id", "currency", "amount")
        ):
            owed[(user_id, currency)] += int(amount or 0)
        owed = {key: amount for key, amount in owed.items() if amount > 0}
        # Receivables are netted only where they exist (none is created); everything the entries post
        # to is locked in one call, in the ledger's (code, currency) order, before the balances are read.
        receivables = set(
            LedgerAccount.objects.filter(
                code__in=sorted({shopkeeper_account(user_id, RECEIVABLE) for user_id, _c in owed}),
                currency__in=sorted({currency for _u, currency in owed}),
            ).values_list("code", "currency")
        )
        wanted = [
            (shopkeeper_account(user_id, bucket), currency)
            for user_id, currency in owed
            for bucket in (AVAILABLE, PENDING, RECEIVABLE)
        ]
        balances = ledger_accounts_lock(
            accounts=[key for key in wanted if not key[0].endswith(f":{RECEIVABLE}") or key in receivables]
        )
        moved = netted = 0
        entries: list[EntrySpec] = []
        released: list[tuple[int, str, int]] = []  # (user, currency, amount now available)
        for (user_id, currency), amount in sorted(owed.items()):
            receivable = balances.get((shopkeeper_account(user_id, RECEIVABLE), currency))
            net = min(amount, max(receivable.balance, 0)) if receivable is not None else 0
            postings = [PostingSpec(account=shopkeeper_account(user_id, PENDING), amount=amount, currency=currency)]
            if net:
                postings.append(
                    PostingSpec(account=shopkeeper_account(user_id, RECEIVABLE), amount=-net, currency=currency)
                )
            if amount - net:
                postings.append(
                    PostingSpec(
                        account=shopkeeper_account(user_id, AVAILABLE), amount=-(amount - net), currency=currency
                    )
                )
            entries.append(
                EntrySpec(
                    idempotency_key=f"commission-settle:{batch.pk}:{user_id}:{currency}",
                    kind="commission_settlement",
                    postings=postings,
                    memo=f"Commission settlement {batch.pk}",
                    reference=f"shopkeeper:{user_id}",
                )
            )
            moved += amount
            netted += net
            released.append((user_id, currency, amount - net))
        journal_entries_post_many(entries=entries)
        CommissionSettlement.objects.filter(pk=batch.pk).update(line_count=claimed, amount_total=moved)
        # Tell each beneficiary once the money is really available (after commit, one insert).
        available = [
            CommissionAvailable(
                shopkeeper_id=spec_user,
                amount=spec_amount,
                currency=spec_currency,
                settlement_key=f"{batch.pk}:{spec_user}:{spec_currency}",
            )
            for spec_user, spec_currency, spec_amount in released
        ]
        transaction.on_commit(partial(notify_commission_available_many, items=available))
    return SettlementResult(lines=claimed, entries=len(owed), amount=moved, netted=netted), (
        claimed == SETTLE_CHUNK_LINES
    )
