"""The backlog: paid order lines without an attribution snapshot, attributed and booked in bulk.

Checkout snapshots the attribution of every line (`checkout_attribution`) and capture books its
commission (`commissions_on_paid`). Lines that never went through that path have an empty
`OrderLine.attribution_rule`: orders imported from another system, or lines that must be
recomputed after an outage of attribution (clear the snapshot, then run this). For those,
`commissions_attribute_backlog` does in a few SQL statements, on PostgreSQL, what checkout and
capture would have done line by line:

1. one query decides, for every candidate line, the same as `attribution_resolve_many` (without the
   buyer's device key: orders do not keep the cookie; customer binding is not applied) followed by
   `checkout_attribution` and `commissions_on_paid`:
     self_purchase  the buyer owns an active shop carrying the product (no commission);
     last_click     the latest non-bot click by the buyer at or before the order on any link of an
                    active shop carrying the product, within ATTRIBUTION_WINDOW_DAYS;
     expired        that latest click is older than the window; none: no such click.
   The rate is the product's rate in effect at the click (cancelled rows ignored, ties to the later
   row). Held for review when the shopkeeper's own account used the click's device key (ever) or
   its IP hash (30 days before the order); `shared_address` is not checked (the address book of
   imported buyers is not trusted). The team override goes to the shopkeeper's inviter while the
   inviter's shop is not suspended and the inviter is not the buyer. The split is `split_line`'s
   integer formula (round half down, floor, ceiling) in SQL; the fee is capped at 10,000 - rate.
2. the snapshot and the platform fee after commission onto OrderLine, Order.platform_fee, and one
   CommissionLine per commissioned line (INSERT ... ON CONFLICT on the line: never booked twice);
3. one balanced ledger entry per shopkeeper and currency (`journal_entries_post_many`, key
   `commission-accrual:<run>:<shopkeeper>:<currency>`) moving each line's commission from the
   merchant's payable and the override from platform revenue, exactly split_line(with commission) -
   split_line(without), to the shopkeepers' pending (or held) accounts.

Everything runs in one transaction: a failure leaves nothing behind and a rerun picks up the same
lines. Candidates are lines of orders that are paid, shipped, delivered or completed, with nothing
refunded, whose platform fee is what capture books without commission (split_line at the current
PLATFORM_FEE_BPS); other lines are left unattributed and counted as `skipped`, so no money is
moved on a line booked under other rules. Settlement then treats the new commission lines like any
other (`commissions_settle_due`).

Concurrency: lines are only written where the snapshot is still empty, nothing is refunded and the
fee is still the one the run chose them with (a refund committed meanwhile leaves its line out), and
commission lines are unique per order line, so a concurrent run or capture cannot book a line
twice; ledger accounts are locked in the ledger's order. `shard=(i, n)` restricts a run to the orders whose id is i modulo n,
so n runs can share the work (each its own transaction).

PostgreSQL only (DISTINCT ON, UPDATE ... FROM, temporary tables): on SQLite the service refuses with
`postgresql_required`; `commissions_backlog_count` works on both.
"""

# SQL here is built from constants, ints and the trusted line filter only; values are parameters.
# ruff: noqa: S608

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from grassroots.attribution.conf import attribution_setting
from grassroots.core.errors import ServiceError
from grassroots.ledger.services import journal_entries_post_many
from grassroots.ledger.splits import BPS
from grassroots.ledger.types import EntrySpec, PostingSpec
from grassroots.orders.models import Order, OrderLine

from .services import commissions_setting
from .sharding import shard_check

PAID_STATUSES = (Order.Status.PAID, Order.Status.SHIPPED, Order.Status.DELIVERED, Order.Status.COMPLETED)
# Settings for this transaction only: memory for the one big query, no JIT compilation of it, and
# foreign keys checked at each statement rather than all at COMMIT (the same checks), so the ledger
# accounts, locked last, are held for the ledger step and a short commit only: concurrent shards and
# other writers to platform:revenue or a merchant's payable wait that long, not for every check.
SESSION = ("SET LOCAL work_mem = '512MB'", "SET LOCAL jit = off", "SET CONSTRAINTS ALL IMMEDIATE")
LINE_TABLE = "commissions_backlog_line"
ATTR_TABLE = "commissions_backlog_attr"
BOOKED_TABLE = "commissions_backlog_booked"
WRITTEN_TABLE = "commissions_backlog_written"


@dataclass(frozen=True, slots=True)
class BacklogRules:
    window_days: int
    fee_bps: int
    override_bps: int


def backlog_rules() -> BacklogRules:
    """The rules in effect now, clamped as capture clamps them."""
    return BacklogRules(
        window_days=int(attribution_setting("ATTRIBUTION_WINDOW_DAYS")),
        fee_bps=min(max(commissions_setting("PLATFORM_FEE_BPS"), 0), BPS),
        override_bps=min(max(commissions_setting("TEAM_OVERRIDE_BPS"), 0), BPS),
    )


@dataclass
class BacklogResult:
    lines: int = 0  # attributed (snapshot written)
    commission_lines: int = 0
    entries: int = 0
    skipped: int = 0  # candidates left alone: their platform fee is not what capture books
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per step


def _rhd(x: str) -> str:
    """split_line's _round_half_down(x, 10000) for x >= 0, in SQL."""
    return f"(({x}) / 10000 + CASE WHEN 2 * (({x}) % 10000) > 10000 THEN 1 ELSE 0 END)"


def _shard_sql(column: str, shard: tuple[int, int]) -> str:
    index, count = int(shard[0]), int(shard[1])
    return f" AND {column} % {count} = {index}" if count > 1 else ""


def candidate_filter(*, shard: tuple[int, int] = (0, 1)) -> str:
    """The backlog, as a condition on l = orders_orderline and o = orders_order."""
    statuses = ", ".join(f"'{status}'" for status in PAID_STATUSES)
    return f"l.attribution_rule = '' AND o.status IN ({statuses}) AND l.refunded_quantity = 0" + _shard_sql(
        "l.order_id", shard
    )


def lines_sql(*, table: str, line_filter: str) -> str:
    """CREATE TEMP TABLE <table>: the lines matching `line_filter` (a trusted condition on
    l = orders_orderline, o = orders_order) with what attribution needs of their order."""
    return f"""
    CREATE TEMP TABLE {table} AS
    SELECT l.id AS line_id, l.order_id, l.product_id, l.paid_amount AS paid, l.platform_fee AS fee_before,
           o.buyer_id, o.placed_at AS at, o.merchant_id, o.currency
    FROM orders_orderline AS l JOIN orders_order AS o ON o.id = l.order_id
    WHERE {line_filter}
    """


def attribution_sql(*, table: str, lines: str, rules: BacklogRules) -> str:
    """CREATE TEMP TABLE <table>: the attribution and split of every line of the table `lines`
    (`lines_sql`). Reads only. Column `consistent` says the line's platform fee is what capture books
    without commission."""
    fee = int(rules.fee_bps)
    return f"""
    CREATE TEMP TABLE {table} AS
    WITH line AS (SELECT * FROM {lines}),
    own AS (
        SELECT DISTINCT ON (line.line_id) line.line_id, s.id AS shop_id
        FROM line
        JOIN shops_shop AS s ON s.owner_id = line.buyer_id AND s.status = 'active'
        JOIN shops_shopitem AS si ON si.shop_id = s.id AND si.product_id = line.product_id
        ORDER BY line.line_id, s.id
    ),
    latest AS (
        SELECT DISTINCT ON (line.line_id) line.line_id, c.id AS click_id, c.shop_id, s.owner_id,
               c.created_at AS clicked_at, c.visitor_key, c.ip_hash
        FROM line
        JOIN attribution_click AS c
             ON c.user_id = line.buyer_id AND c.user_id IS NOT NULL AND NOT c.is_bot AND c.created_at <= line.at
        JOIN shops_shopitem AS si ON si.shop_id = c.shop_id AND si.product_id = line.product_id
        JOIN shops_shop AS s ON s.id = c.shop_id AND s.status = 'active'
        ORDER BY line.line_id, c.created_at DESC, c.id DESC
    ),
    rate AS (
        SELECT product_id, rate_bps, effective_from,
               lead(effective_from) OVER (PARTITION BY product_id ORDER BY effective_from, id) AS until
        FROM shops_commissionrate WHERE cancelled_at IS NULL
    ),
    keeper_click AS (
        SELECT k.user_id, k.visitor_key, k.ip_hash, k.created_at
        FROM attribution_click AS k JOIN shops_shop AS s ON s.owner_id = k.user_id
    ),
    inviter AS (
        SELECT u.id AS shopkeeper_id, u.invited_by_id AS inviter_id
        FROM accounts_user AS u
        JOIN shops_shop AS mine ON mine.owner_id = u.id
        JOIN shops_shop AS theirs ON theirs.owner_id = u.invited_by_id AND theirs.status <> 'suspended'
        WHERE u.invited_by_id <> u.id
    ),
    resolved AS (
        SELECT line.*, latest.clicked_at,
               CASE WHEN own.line_id IS NOT NULL THEN 'self_purchase'
                    WHEN latest.clicked_at >= line.at - interval '{int(rules.window_days)} days' THEN 'last_click'
                    WHEN latest.line_id IS NOT NULL THEN 'expired'
                    ELSE 'none' END AS rule,
               CASE WHEN own.line_id IS NOT NULL THEN own.shop_id ELSE latest.shop_id END AS shop_id,
               CASE WHEN own.line_id IS NOT NULL THEN line.buyer_id ELSE latest.owner_id END AS shopkeeper_id,
               latest.click_id, latest.visitor_key, latest.ip_hash
        FROM line LEFT JOIN own USING (line_id) LEFT JOIN latest USING (line_id)
    ),
    credited AS (
        SELECT r.line_id, r.order_id, r.product_id, r.paid, r.fee_before, r.buyer_id, r.at, r.merchant_id,
               r.currency, r.rule,
               CASE WHEN r.rule IN ('self_purchase', 'last_click') THEN r.shop_id END AS shop_id,
               CASE WHEN r.rule IN ('self_purchase', 'last_click') THEN r.shopkeeper_id END AS shopkeeper_id,
               CASE WHEN r.rule = 'last_click' THEN r.click_id END AS click_id,
               CASE WHEN r.rule = 'last_click' THEN coalesce(rate.rate_bps, 0) ELSE 0 END AS rate_bps,
               r.visitor_key, r.ip_hash
        FROM resolved AS r
        LEFT JOIN rate ON r.rule = 'last_click' AND rate.product_id = r.product_id
             AND rate.effective_from <= r.clicked_at AND (rate.until IS NULL OR r.clicked_at < rate.until)
    ),
    keeper_device AS (
        SELECT DISTINCT user_id, visitor_key FROM keeper_click WHERE visitor_key <> ''
    ),
    keeper_ip AS (
        SELECT DISTINCT c.line_id
        FROM credited AS c
        JOIN keeper_click AS k ON k.user_id = c.shopkeeper_id AND k.ip_hash = c.ip_hash
        WHERE c.rule = 'last_click' AND c.ip_hash <> ''
          AND k.created_at >= c.at - interval '30 days' AND k.created_at <= c.at
    ),
    earning AS (
        SELECT c.*,
               c.rule = 'last_click' AND c.rate_bps > 0 AND c.shopkeeper_id <> c.buyer_id AS earns,
               d.user_id IS NOT NULL AS shared_device,
               ip.line_id IS NOT NULL AS shared_ip,
               CASE WHEN i.inviter_id <> c.buyer_id THEN i.inviter_id END AS inviter_id
        FROM credited AS c
        LEFT JOIN keeper_device AS d ON c.rule = 'last_click' AND d.user_id = c.shopkeeper_id
             AND d.visitor_key = c.visitor_key
        LEFT JOIN keeper_ip AS ip ON ip.line_id = c.line_id
        LEFT JOIN inviter AS i ON i.shopkeeper_id = c.shopkeeper_id AND c.rule = 'last_click'
    ),
    rated AS (
        SELECT e.*,
               CASE WHEN e.earns THEN least({fee}, 10000 - e.rate_bps) ELSE {fee} END AS line_fee_bps,
               CASE WHEN e.earns AND e.inviter_id IS NOT NULL THEN {int(rules.override_bps)} ELSE 0 END
                   AS override_bps,
               CASE WHEN e.earns THEN e.rate_bps ELSE 0 END AS commission_bps
        FROM earning AS e
    ),
    split AS (
        SELECT r.*,
               {_rhd("r.paid * (r.line_fee_bps + r.commission_bps)")} AS deductions,
               {_rhd(f"r.paid * {fee}")} AS deductions0
        FROM rated AS r
    ),
    split2 AS (
        SELECT s.*,
               CASE WHEN s.line_fee_bps + s.commission_bps > 0
                    THEN s.deductions * s.line_fee_bps / (s.line_fee_bps + s.commission_bps) ELSE 0 END AS gross_fee
        FROM split AS s
    )
    SELECT line_id, order_id, product_id, paid, buyer_id, merchant_id, currency, rule, shop_id, shopkeeper_id,
           click_id, CASE WHEN earns THEN rate_bps ELSE 0 END AS rate_bps, earns,
           earns AND (shared_device OR shared_ip) AS held,
           CASE WHEN NOT earns THEN ''
                ELSE concat_ws(',', CASE WHEN shared_device THEN 'shared_device' END,
                                    CASE WHEN shared_ip THEN 'shared_ip' END) END AS hold_reason,
           CASE WHEN earns THEN inviter_id END AS inviter_id, line_fee_bps, override_bps,
           paid - deductions0 AS merchant0, deductions0 AS platform0,
           paid - deductions AS merchant1,
           gross_fee - (gross_fee * override_bps + 9999) / 10000 AS platform1,
           deductions - gross_fee AS commission,
           (gross_fee * override_bps + 9999) / 10000 AS override,
           fee_before = deductions0 AS consistent
    FROM split2
    """


def attribution_table_create(cursor: Any, *, table: str, line_filter: str, rules: BacklogRules) -> None:
    """Fill the temporary table <table> (`attribution_sql`, indexed by line) for the lines matching
    `line_filter`. The lines go into their own analysed table first, so the planner knows how many
    there are: per-line index probes for a small backlog, hash joins over the click log for a big one
    (a CTE alone is estimated at a few thousand rows whatever its size)."""
    cursor.execute(lines_sql(table=LINE_TABLE, line_filter=line_filter))
    cursor.execute(f"ANALYZE {LINE_TABLE}")
    cursor.execute(attribution_sql(table=table, lines=LINE_TABLE, rules=rules))
    cursor.execute(f"CREATE UNIQUE INDEX ON {table} (line_id)")
    cursor.execute(f"ANALYZE {table}")


# The snapshot and the platform fee after commission onto the lines, as checkout and capture set them.
# The candidates were chosen when the run began: a line refunded since (the refund then reversed no
# commission, as there was none) or whose fee changed (platform0 is the fee it was chosen with) is
# left alone. PostgreSQL re-checks these conditions on the latest version of a row another
# transaction changed; only the lines written here get a commission line.
WRITE_LINES = f"""
    WITH written AS (
        UPDATE orders_orderline AS l
        SET attribution_rule = a.rule, attributed_shop_id = a.shop_id, attributed_shopkeeper_id = a.shopkeeper_id,
            attribution_click_id = a.click_id, commission_rate_bps = a.rate_bps, attribution_held = a.held,
            attribution_hold_reason = a.hold_reason,
            platform_fee = CASE WHEN a.earns THEN a.platform1 ELSE l.platform_fee END
        FROM {ATTR_TABLE} AS a
        WHERE l.id = a.line_id AND a.consistent AND l.attribution_rule = '' AND l.refunded_quantity = 0
          AND l.platform_fee = a.platform0
        RETURNING l.id
    )
    INSERT INTO {WRITTEN_TABLE} SELECT id FROM written
"""
# Lines the run chose but did not write are skipped like inconsistent ones: no commission line.
UNWRITTEN_SKIPPED = f"""
    UPDATE {ATTR_TABLE} AS a SET consistent = false
    WHERE a.consistent AND NOT EXISTS (SELECT 1 FROM {WRITTEN_TABLE} AS w WHERE w.id = a.line_id)
"""
# CommissionLine rows; the ones actually inserted (a concurrent run may have booked a line) are kept
# with what they move, for the orders' fee and the ledger.
WRITE_COMMISSIONS = f"""
    WITH inserted AS (
        INSERT INTO commissions_commissionline (order_line_id, order_id, shop_id, shopkeeper_id,
            override_beneficiary_id, rule, rate_bps, platform_fee_bps, override_bps, click_id, source,
            currency, paid_amount, merchant_amount, commission_amount, override_amount, commission_reversed,
            override_reversed, status, hold_reason, available_at, created_at, settled_at, settlement_id,
            decided_by_id, decided_at)
        SELECT line_id, order_id, shop_id, shopkeeper_id, inviter_id, rule, rate_bps, line_fee_bps,
               override_bps, click_id, 'shop', currency, paid, merchant1, commission, override, 0, 0,
               CASE WHEN held THEN 'held' ELSE 'pending' END, left(hold_reason, 200), NULL, now(), NULL,
               NULL, NULL, NULL
        FROM {ATTR_TABLE} WHERE consistent AND earns AND (commission > 0 OR override > 0)
        ORDER BY line_id
        ON CONFLICT (order_line_id) DO NOTHING
        RETURNING order_line_id
    )
    INSERT INTO {BOOKED_TABLE}
    SELECT a.line_id, a.order_id, a.shopkeeper_id, a.inviter_id, a.held, a.merchant_id, a.currency,
           a.merchant0 - a.merchant1, a.platform0 - a.platform1, a.commission, a.override
    FROM inserted JOIN {ATTR_TABLE} AS a ON a.line_id = inserted.order_line_id
"""
# Order.platform_fee is the sum of its lines' platform fees.
WRITE_ORDERS = f"""
    UPDATE orders_order AS o SET platform_fee = o.platform_fee - d.delta
    FROM (SELECT order_id, sum(d_platform) AS delta FROM {BOOKED_TABLE}
          GROUP BY order_id HAVING sum(d_platform) <> 0) AS d
    WHERE o.id = d.order_id
"""
# One entry per shopkeeper and currency: every line's debits and credits stay in its shopkeeper's
# entry, the inviter's override included, so each entry balances on its own.
ACCRUAL_POSTINGS = f"""
    SELECT shopkeeper_id, currency, code, sum(amount)::bigint AS amount FROM (
        SELECT shopkeeper_id, currency, 'merchant:' || merchant_id || ':payable' AS code, d_merchant AS amount
        FROM {BOOKED_TABLE}
        UNION ALL
        SELECT shopkeeper_id, currency, 'platform:revenue', d_platform FROM {BOOKED_TABLE}
        UNION ALL
        SELECT shopkeeper_id, currency,
               'shopkeeper:' || shopkeeper_id || CASE WHEN held THEN ':held' ELSE ':pending' END, -commission
        FROM {BOOKED_TABLE}
        UNION ALL
        SELECT shopkeeper_id, currency,
               'shopkeeper:' || inviter_id || CASE WHEN held THEN ':held' ELSE ':pending' END, -override
        FROM {BOOKED_TABLE} WHERE inviter_id IS NOT NULL
    ) AS p
    GROUP BY 1, 2, 3 HAVING sum(amount) <> 0
    ORDER BY 1, 2, 3
"""


def _require_postgresql() -> None:
    if connection.vendor != "postgresql":
        raise ServiceError(
            _("Attributing the backlog in bulk needs PostgreSQL."), code="postgresql_required", status=501
        )


def commissions_backlog_count(*, shard: tuple[int, int] = (0, 1)) -> int:
    """How many paid lines are waiting for an attribution snapshot (the candidates of a run, before the
    platform-fee check). Any database."""
    shard_check(shard)
    lines = OrderLine.objects.filter(attribution_rule="", order__status__in=PAID_STATUSES, refunded_quantity=0)
    index, count = shard
    if count > 1:
        lines = lines.annotate(shard=F("order_id") % count).filter(shard=index)
    return lines.count()


def commissions_attribute_backlog(
    *, shard: tuple[int, int] = (0, 1), rules: BacklogRules | None = None
) -> BacklogResult:
    """Attribute every backlog line and book its commission (see the module). One transaction; returns
    what was written and the wall seconds per step. PostgreSQL only (`postgresql_required`)."""
    _require_postgresql()
    shard_check(shard)
    rules = rules or backlog_rules()
    run_id = uuid.uuid4().hex[:12]
    result = BacklogResult()
    with transaction.atomic(), connection.cursor() as cursor:

        def step(name: str, sql: str) -> int:
            start = time.perf_counter()
            cursor.execute(sql)
            result.seconds[name] = result.seconds.get(name, 0.0) + time.perf_counter() - start
            return int(cursor.rowcount)

        for statement in SESSION:
            cursor.execute(statement)
        cursor.execute(f"DROP TABLE IF EXISTS {LINE_TABLE}, {ATTR_TABLE}, {BOOKED_TABLE}, {WRITTEN_TABLE}")
        start = time.perf_counter()
        attribution_table_create(cursor, table=ATTR_TABLE, line_filter=candidate_filter(shard=shard), rules=rules)
        result.seconds["attribution"] = time.perf_counter() - start
        cursor.execute(f"SELECT count(*) FILTER (WHERE NOT consistent) FROM {ATTR_TABLE}")
        result.skipped = int(cursor.fetchone()[0])
        cursor.execute(f"CREATE TEMP TABLE {WRITTEN_TABLE} (id bigint)")
        result.lines = step("order lines", WRITE_LINES)
        result.skipped += step("order lines", UNWRITTEN_SKIPPED)
        cursor.execute(
            f"""CREATE TEMP TABLE {BOOKED_TABLE} (order_line_id bigint, order_id bigint, shopkeeper_id bigint,
                inviter_id bigint, held boolean, merchant_id bigint, currency varchar(3), d_merchant bigint,
                d_platform bigint, commission bigint, override bigint)"""
        )
        result.commission_lines = step("commission lines", WRITE_COMMISSIONS)
        step("orders", WRITE_ORDERS)
        start = time.perf_counter()
        cursor.execute(ACCRUAL_POSTINGS)
        postings: dict[tuple[int, str], list[PostingSpec]] = defaultdict(list)
        for shopkeeper_id, currency, code, amount in cursor.fetchall():
            postings[(shopkeeper_id, currency)].append(PostingSpec(account=code, amount=int(amount), currency=currency))
        entries = [
            EntrySpec(
                idempotency_key=f"commission-accrual:{run_id}:{shopkeeper_id}:{currency}",
                kind="commission_accrual",
                postings=legs,
                memo=f"Commission on attributed order lines (backlog run {run_id})",
                reference=f"shopkeeper:{shopkeeper_id}",
            )
            for (shopkeeper_id, currency), legs in postings.items()
        ]
        journal_entries_post_many(entries=entries)
        result.entries = len(entries)
        result.seconds["ledger"] = time.perf_counter() - start
        cursor.execute(f"DROP TABLE {LINE_TABLE}, {ATTR_TABLE}, {BOOKED_TABLE}, {WRITTEN_TABLE}")
    return result
