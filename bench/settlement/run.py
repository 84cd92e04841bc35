"""Settlement benchmark: attribute and settle 1,000,000 paid order lines from 2,000,000 clicks.

    .venv/bin/python -m bench.settlement.run         # ~10 minutes on 2 cores, most of it loading

What it does (see bench/README.md and bench/settlement/RESULTS.md):
1. drops and creates a PostgreSQL database (default grassroots_settle_bench), migrates it and bulk-loads
   the synthetic data set with INSERT ... SELECT generate_series (bench/settlement/load.py);
2. runs the naive per-order ORM loop (bench/settlement/naive.py) on a sample of whole orders (~2,000
   lines) that the set-based path leaves alone;
3. runs ours (bench/settlement/ours.py: the application's services, timed) on the other 1,000,000
   lines: phase 1 `commissions_attribute_backlog` attributes them and books their commission (in
   --workers concurrent shards of the orders), phase 2 `commissions_settle_due` settles every due
   line (in --settle-workers concurrent shards of the shopkeepers);
4. checks the ledger and the lines (every entry balances, cached balances equal the replay, the
   shopkeeper buckets equal the commission lines by status, nothing due is left, nothing not due
   moved), checks 1,000 random lines against split_line, a random sample of lines against the app's
   attribution_resolve_many, and the naive sample line by line against the service's attribution SQL;
5. prints the numbers and whether the targets are met (1,000,000 lines in under 60 s, >= 50x naive).

Not part of the test suite. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/grassroots_settle_bench"
DATA_DIR = "/tmp/gr-bench-settlement"
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGET_SECONDS = 60.0
TARGET_RATIO = 50.0
SAMPLE_FILTER = "o.id IN (SELECT order_id FROM bench_sample_order)"


def log(message: str) -> None:
    print(message, flush=True)


# --- database -------------------------------------------------------------------------------------


def recreate_database(url: str, *, template: str | None = None) -> None:
    """Drop and create the bench database, empty or as a copy of `template`."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def seed_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") + "_seed"


def save_seed(url: str) -> None:
    """Keep a copy of the freshly loaded database, so --from-seed can skip the load."""
    from django.db import connections

    connections.close_all()
    seed = seed_name(url)
    recreate_database(urlunsplit(urlsplit(url)._replace(path=f"/{seed}")), template=urlsplit(url).path.lstrip("/"))


def django_setup(url: str, *, migrate: bool) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "grassroots.settings"
    os.environ["GRASSROOTS_DATA_DIR"] = DATA_DIR
    Path(DATA_DIR).mkdir(parents=True, exist_ok=True)
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


# --- measuring ------------------------------------------------------------------------------------


def _machine() -> tuple[float, float]:
    """(busy CPU-seconds of the whole machine since boot, total CPU-seconds) from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / CLK_TCK, sum(fields) / CLK_TCK


def _process_cpu(pid: int) -> float:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class Measure:
    name: str
    seconds: float = 0.0
    backend_cpu: float = 0.0  # our PostgreSQL backend (parallel workers not included)
    client_cpu: float = 0.0  # this Python process
    machine_busy_cores: float = 0.0  # average busy cores of the whole machine meanwhile
    load1_before: float = 0.0
    load1_after: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def others_cores(self) -> float:
        """Busy cores not explained by this client and its backend (other work, parallel workers)."""
        if not self.seconds:
            return 0.0
        return max(self.machine_busy_cores - (self.backend_cpu + self.client_cpu) / self.seconds, 0.0)


class Meter:
    def __init__(self, name: str, backend_pid: int) -> None:
        self.result = Measure(name)
        self.backend_pid = backend_pid

    def __enter__(self) -> Measure:
        self.result.load1_before = _load1()
        self._busy, self._total = _machine()
        self._backend = _process_cpu(self.backend_pid)
        self._client = time.process_time()
        self._start = time.perf_counter()
        return self.result

    def __exit__(self, *exc: object) -> None:
        r = self.result
        r.seconds = time.perf_counter() - self._start
        busy, total = _machine()
        cores = os.cpu_count() or 1
        r.machine_busy_cores = (busy - self._busy) / max(total - self._total, 1e-9) * cores
        r.backend_cpu = _process_cpu(self.backend_pid) - self._backend
        r.client_cpu = time.process_time() - self._client
        r.load1_after = _load1()


def backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def maintenance(sql: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)


# --- checks ---------------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _scalar(sql: str, params: Any = None) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def ledger_checks(*, now: datetime, return_window_days: int, write_back: bool = True) -> list[Check]:
    """The ledger balances and agrees with the commission lines; settlement moved exactly the due lines."""
    from datetime import timedelta

    cutoff = now - timedelta(days=return_window_days)
    checks: list[Check] = []
    unbalanced = _scalar(
        "SELECT count(*) FROM (SELECT entry_id FROM ledger_posting GROUP BY entry_id HAVING sum(amount) <> 0) AS u"
    )
    entries = _scalar("SELECT count(*) FROM ledger_journalentry")
    checks.append(Check("every entry sums to 0", unbalanced == 0, f"{unbalanced} of {entries:,} entries unbalanced"))
    drifted = _scalar(
        """
        SELECT count(*) FROM ledger_ledgeraccount AS a
        LEFT JOIN (SELECT account_id, sum(amount) AS s FROM ledger_posting GROUP BY 1) AS p ON p.account_id = a.id
        WHERE a.cached_balance <> coalesce(p.s, 0)
        """
    )
    checks.append(Check("cached balances = replay", drifted == 0, f"{drifted} accounts differ"))
    for bucket, status in (("pending", "pending"), ("held", "held"), ("available", "available")):
        ledger = _scalar(
            """
            SELECT coalesce(-sum(p.amount), 0) FROM ledger_posting AS p
            JOIN ledger_ledgeraccount AS a ON a.id = p.account_id
            WHERE a.code LIKE 'shopkeeper:%%' AND a.code LIKE %s
            """,
            [f"%:{bucket}"],
        )
        lines = _scalar(
            """
            SELECT coalesce(sum(commission_amount - commission_reversed + override_amount - override_reversed), 0)
            FROM commissions_commissionline WHERE status = %s
            """,
            [status],
        )
        checks.append(
            Check(f"ledger {bucket} = lines {status}", ledger == lines, f"ledger {ledger:,} vs lines {lines:,}")
        )
    total = _scalar("SELECT coalesce(sum(commission_amount + override_amount), 0) FROM commissions_commissionline")
    funded = _scalar(
        """
        SELECT coalesce(sum(p.amount), 0) FROM ledger_posting AS p
        JOIN ledger_ledgeraccount AS a ON a.id = p.account_id JOIN ledger_journalentry AS e ON e.id = p.entry_id
        WHERE e.kind = 'commission_accrual' AND (a.code LIKE 'merchant:%%' OR a.code = 'platform:revenue')
        """
    )
    checks.append(
        Check("merchant + platform funded = commissions", funded == total, f"funded {funded:,} vs lines {total:,}")
    )
    due = """
        (o.status = 'completed' OR (o.status = 'delivered' AND o.delivered_at <= %(cutoff)s))
        AND NOT EXISTS (SELECT 1 FROM orders_returnrequest AS r WHERE r.order_id = o.id
                        AND r.status IN ('requested', 'approved', 'shipped_back', 'returned'))
    """
    left = _scalar(
        f"""SELECT count(*) FROM commissions_commissionline AS c JOIN orders_order AS o ON o.id = c.order_id
        WHERE c.status = 'pending' AND {due}""",
        {"cutoff": cutoff},
    )
    checks.append(Check("no due line left pending", left == 0, f"{left} due lines pending"))
    early = _scalar(
        f"""SELECT count(*) FROM commissions_commissionline AS c JOIN orders_order AS o ON o.id = c.order_id
        WHERE c.status = 'available' AND NOT ({due})""",
        {"cutoff": cutoff},
    )
    checks.append(Check("no line settled early", early == 0, f"{early} lines available but not due"))
    if write_back:
        unattributed = _scalar("SELECT count(*) FROM orders_orderline WHERE attribution_rule = ''")
        checks.append(Check("every line attributed", unattributed == 0, f"{unattributed} lines without a rule"))
    return checks


def split_check(*, sample: int, fee_bps: int, seed: int, write_back: bool) -> Check:
    """`sample` random commission lines and `sample` random lines without one against split_line. The
    platform's part is the line's platform fee when written back, else what the commission row leaves."""
    from django.db import connection

    from grassroots.ledger.splits import split_line

    bad: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed / 1000])
        cursor.execute(
            """
            SELECT c.order_line_id, c.paid_amount, c.platform_fee_bps, c.rate_bps, c.override_bps,
                   c.merchant_amount, c.commission_amount, c.override_amount, l.platform_fee
            FROM commissions_commissionline AS c JOIN orders_orderline AS l ON l.id = c.order_line_id
            WHERE c.order_id NOT IN (SELECT order_id FROM bench_sample_order)
            ORDER BY random() LIMIT %s
            """,
            [sample],
        )
        rows = cursor.fetchall()
        for line_id, paid, fee, rate, override, merchant, commission, override_amount, platform in rows:
            want = split_line(
                paid=paid,
                platform_fee_bps=fee,
                commission_bps=rate,
                override_bps_of_fee=override,
                has_shopkeeper=True,
                has_override=override > 0,
            )
            if not write_back:
                platform = paid - merchant - commission - override_amount
            got = (merchant, platform, commission, override_amount)
            if got != (want.merchant, want.platform_fee, want.commission, want.override):
                bad.append(f"line {line_id}: sql {got} vs split_line {want}")
        cursor.execute(
            """
            SELECT l.id, l.paid_amount, l.platform_fee FROM orders_orderline AS l
            WHERE NOT EXISTS (SELECT 1 FROM commissions_commissionline AS c WHERE c.order_line_id = l.id)
            ORDER BY random() LIMIT %s
            """,
            [sample],
        )
        plain = cursor.fetchall()
        for line_id, paid, platform in plain:
            want_fee = split_line(paid=paid, platform_fee_bps=fee_bps).platform_fee
            if platform != want_fee:
                bad.append(f"line {line_id} (no commission): platform fee {platform} vs split_line {want_fee}")
    detail = f"{len(rows)} commission lines + {len(plain)} lines without, {len(bad)} differ"
    return Check("split = split_line (random sample)", not bad, detail + ("; " + "; ".join(bad[:3]) if bad else ""))


def oracle_check(*, sample: int, seed: int, write_back: bool) -> Check:
    """Random lines of ours against the app's own attribution_resolve_many (one call per line): the
    commission row (present exactly when the line earns), and the line's snapshot when written back."""
    from django.db import connection

    from bench.settlement.naive import expected_snapshot
    from grassroots.accounts.models import User
    from grassroots.attribution.services import attribution_resolve_many

    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed / 1000 + 0.0001])
        cursor.execute(
            """
            SELECT l.id, l.product_id, o.buyer_id, o.placed_at,
                   l.attribution_rule, l.attributed_shop_id, l.attributed_shopkeeper_id, l.attribution_click_id,
                   l.commission_rate_bps, l.attribution_held, l.attribution_hold_reason,
                   c.id IS NOT NULL, c.rule, c.shop_id, c.shopkeeper_id, c.click_id, c.rate_bps, c.status = 'held',
                   c.hold_reason
            FROM orders_orderline AS l JOIN orders_order AS o ON o.id = l.order_id
            LEFT JOIN commissions_commissionline AS c ON c.order_line_id = l.id
            WHERE o.id NOT IN (SELECT order_id FROM bench_sample_order)
            ORDER BY random() LIMIT %s
            """,
            [sample],
        )
        rows = cursor.fetchall()
    users = User.objects.in_bulk({row[2] for row in rows})
    bad: list[str] = []
    rules: dict[str, int] = {}
    for row in rows:
        line_id, product_id, buyer_id, placed_at = row[:4]
        snapshot, has_commission, commission = tuple(row[4:11]), row[11], tuple(row[12:19])
        found = attribution_resolve_many(
            buyer=users[buyer_id], visitor_key=None, product_ids=[product_id], at=placed_at
        )
        want = expected_snapshot(found[product_id], buyer_id=buyer_id)
        rules[want.fields[0]] = rules.get(want.fields[0], 0) + 1
        got_commission = commission if has_commission else None
        want_commission = want.fields if want.earns else None
        if got_commission != want_commission:
            bad.append(f"line {line_id}: commission {got_commission} vs app {want_commission}")
        if write_back and snapshot != want.fields:
            bad.append(f"line {line_id}: snapshot {snapshot} vs app {want.fields}")
    spread = ", ".join(f"{rule} {n}" for rule, n in sorted(rules.items()))
    detail = f"{len(rows)} lines ({spread}), {len(bad)} differ"
    return Check("attribution = attribution_resolve_many", not bad, detail + ("; " + "; ".join(bad[:3]) if bad else ""))


def naive_vs_ours(*, rules: Any, order_ids: list[int], write_back: bool) -> Check:
    """The naive loop's results on the sample against the service's attribution SQL run on the same lines (read only):
    the commission rows always, the lines' snapshot too when it is written back."""
    from django.db import connection

    from bench.settlement.naive import naive_snapshot
    from grassroots.commissions.backfill import attribution_table_create

    naive = naive_snapshot(order_ids=order_ids)
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        attribution_table_create(cursor, table="bench_attr_sample", line_filter=SAMPLE_FILTER, rules=rules.backlog)
        cursor.execute(
            """
            SELECT line_id, rule, shop_id, shopkeeper_id, click_id, rate_bps, held, hold_reason,
                   CASE WHEN earns THEN platform1 ELSE NULL END, earns AND (commission > 0 OR override > 0),
                   inviter_id, commission, override, merchant1
            FROM bench_attr_sample ORDER BY line_id
            """
        )
        rows = cursor.fetchall()
        cursor.execute("ROLLBACK")
    bad: list[str] = []
    for line_id, rule, shop, keeper, click, rate, held, reason, fee, booked, inviter, com, ovr, merchant in rows:
        if line_id not in naive:
            bad.append(f"line {line_id} missing in naive")
            continue
        want_snapshot, want_commission = naive[line_id]
        commission = (rule, shop, keeper, click, rate, held, reason, inviter, com, ovr, merchant) if booked else None
        if commission != want_commission:
            bad.append(f"line {line_id}: ours {commission} vs naive {want_commission}")
        snapshot = (rule, shop, keeper, click, rate, held, reason, want_snapshot[7] if fee is None else fee)
        if write_back and snapshot != want_snapshot:
            bad.append(f"line {line_id}: ours {snapshot} vs naive {want_snapshot}")
    detail = f"{len(rows)} lines, {len(bad)} differ"
    ok = not bad and len(rows) == len(naive)
    return Check(
        "naive sample = the service's attribution SQL", ok, detail + ("; " + "; ".join(bad[:3]) if bad else "")
    )


# --- main -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--clicks", type=int, default=2_000_000)
    parser.add_argument("--shopkeepers", type=int, default=10_000)
    parser.add_argument("--buyers", type=int, default=300_000)
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--sample", type=int, default=2_000, help="lines (whole orders) for the naive loop")
    parser.add_argument("--split-sample", type=int, default=1_000)
    parser.add_argument("--oracle-sample", type=int, default=300, help="lines checked with attribution_resolve_many")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--workers", type=int, default=2, help="concurrent backlog runs for phase 1, each on the orders id = i mod N"
    )
    parser.add_argument(
        "--settle-workers",
        type=int,
        default=2,
        help="concurrent settlement runs for phase 2, each on the shopkeepers id = i mod N",
    )
    parser.add_argument("--json", type=Path, help="write every number to this file")
    parser.add_argument("--keep-seed", action="store_true", help="keep a copy of the loaded database (<name>_seed)")
    parser.add_argument("--from-seed", action="store_true", help="start from the copy instead of loading")
    parser.add_argument(
        "--prepare-sql", type=Path, help="run this SQL file on the loaded database first (schema experiments)"
    )
    args = parser.parse_args()

    from bench.settlement.load import Sizes, load

    sizes = Sizes(
        shopkeepers=args.shopkeepers,
        buyers=args.buyers,
        products=args.products,
        clicks=args.clicks,
        lines=args.lines,
        sample=args.sample,
    )
    log(f"settlement bench: {sizes}, {os.cpu_count()} CPUs, load1 {_load1():.2f}")
    started = time.perf_counter()
    if args.from_seed:
        recreate_database(args.database_url, template=seed_name(args.database_url))
    else:
        recreate_database(args.database_url)
    django_setup(args.database_url, migrate=not args.from_seed)
    migrate_seconds = time.perf_counter() - started
    log(f"  database {'copied from the seed' if args.from_seed else 'created and migrated'}: {migrate_seconds:.1f} s")

    from django.db import connection
    from django.utils import timezone

    from bench.settlement import ours
    from bench.settlement.naive import naive_run

    rules = ours.rules_from_settings()
    write_back = True  # the backlog service writes the snapshot, as checkout does
    t0 = timezone.now()
    load_measure = Measure("load (copied from the seed: not measured)")
    if not args.from_seed:
        with Meter("load", backend_pid()) as load_measure, connection.cursor() as cursor:
            load_measure.extra["steps"] = load(cursor, t0=t0, sizes=sizes, log=log)
            start = time.perf_counter()
            cursor.execute("VACUUM ANALYZE")
            load_measure.extra["steps"]["vacuum analyze"] = time.perf_counter() - start
        if args.keep_seed:
            save_seed(args.database_url)
    if args.prepare_sql:
        log(f"  applying {args.prepare_sql}")
        maintenance(args.prepare_sql.read_text())
        maintenance("ANALYZE")
    pid = backend_pid()
    counts = {
        table: _scalar(f"SELECT count(*) FROM {table}")
        for table in (
            "accounts_user",
            "shops_shop",
            "shops_shopitem",
            "catalog_product",
            "shops_commissionrate",
            "attribution_click",
            "orders_order",
            "orders_orderline",
        )
    }
    sample_orders = [row[0] for row in _rows("SELECT order_id FROM bench_sample_order ORDER BY order_id")]
    sample_lines = _scalar(
        f"SELECT count(*) FROM orders_orderline AS l JOIN orders_order AS o ON o.id = l.order_id WHERE {SAMPLE_FILTER}"
    )
    log(f"  loaded in {load_measure.seconds:.1f} s: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))

    now = timezone.now()
    maintenance("CHECKPOINT")
    log(f"naive loop on {len(sample_orders)} orders ({sample_lines} lines) ...")
    with Meter("naive", pid) as naive_measure:
        naive = naive_run(order_ids=sample_orders, rules=rules, now=now, write_back=write_back)
    naive_measure.extra = asdict(naive)
    log(
        f"  naive: {naive.lines} lines in {naive.seconds:.1f} s (attribute {naive.attribute_seconds:.1f} s, "
        f"settle {naive.settle_seconds:.1f} s): {naive.lines / naive.seconds:.1f} lines/s"
    )

    maintenance("CHECKPOINT")
    log("ours: attribute ...")
    with Meter("attribute", pid) as attribute_measure:
        phase1 = run_phase("attribute", workers=args.workers, rules=rules, now=now)
    attribute_measure.backend_cpu = sum(phase1.cpu.values())
    attribute_measure.extra = {"steps": phase1.steps, "cpu": phase1.cpu, "counts": phase1.counts}
    log(f"  attribute: {phase1.counts.get('lines', 0):,} lines in {phase1.seconds:.1f} s {_fmt(phase1)}")
    maintenance("CHECKPOINT")
    log("ours: settle ...")
    with Meter("settle", pid) as settle_measure:
        phase2 = run_phase("settle", workers=args.settle_workers, rules=rules, now=now)
    settle_measure.backend_cpu = sum(phase2.cpu.values())
    settle_measure.extra = {"steps": phase2.steps, "cpu": phase2.cpu, "counts": phase2.counts}
    log(f"  settle: {phase2.counts['lines']:,} commission lines in {phase2.seconds:.1f} s {_fmt(phase2)}")

    checks = ledger_checks(now=now, return_window_days=rules.return_window_days, write_back=write_back)
    checks.append(split_check(sample=args.split_sample, fee_bps=rules.fee_bps, seed=args.seed, write_back=write_back))
    checks.append(oracle_check(sample=args.oracle_sample, seed=args.seed, write_back=write_back))
    checks.append(naive_vs_ours(rules=rules, order_ids=sample_orders, write_back=write_back))
    distribution = dict(_rows("SELECT attribution_rule, count(*) FROM orders_orderline GROUP BY 1 ORDER BY 1"))
    held = _scalar("SELECT count(*) FROM commissions_commissionline WHERE status = 'held'")

    report = Report(
        sizes=asdict(sizes),
        counts=counts,
        distribution=distribution,
        held_lines=held,
        sample_lines=sample_lines,
        migrate=migrate_seconds,
        load=load_measure,
        naive=naive_measure,
        attribute=attribute_measure,
        settle=settle_measure,
        lines=phase1.counts.get("lines", 0),
        commission_lines=phase1.counts.get("commission_lines", 0),
        settled_lines=phase2.counts["lines"],
        naive_lines=naive.lines,
        workers=args.workers,
        settle_workers=args.settle_workers,
        write_back=write_back,
        checks=checks,
    )
    report.print()
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2, default=str))
    return 0 if all(c.ok for c in checks) else 1


def run_phase(kind: str, *, workers: int, rules: Any, now: datetime) -> Any:
    """ours.attribute or ours.settle, in `workers` concurrent transactions (threads, one connection
    each) on disjoint orders. Steps: the slowest worker's wall time, the workers' CPU summed."""
    import threading

    from django.db import connection, connections

    from bench.settlement import ours

    def one(partition: tuple[int, int]) -> Any:
        if kind == "attribute":
            return ours.attribute(connection, rules=rules, now=now, partition=partition)
        return ours.settle(connection, now=now, partition=partition)

    if workers <= 1:
        result = one((0, 1))
        result.settlement_ids = [result.counts.get("settlement_id")]
        return result
    results: list[Any] = [None] * workers
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            results[index] = one((index, workers))
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    start = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    merged = ours.PhaseResult(time.perf_counter() - start, {}, {}, {})
    for result in results:
        for name, wall in result.steps.items():
            merged.steps[name] = max(merged.steps.get(name, 0.0), wall)
        for name, cpu in result.cpu.items():
            merged.cpu[name] = merged.cpu.get(name, 0.0) + cpu
        for name, value in result.counts.items():
            if name != "settlement_id":
                merged.counts[name] = merged.counts.get(name, 0) + value
    merged.settlement_ids = [result.counts.get("settlement_id") for result in results]
    return merged


def _rows(sql: str) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def _fmt(phase: Any) -> str:
    """Wall / backend CPU seconds per step."""
    steps = ", ".join(f"{name} {wall:.1f}" for name, wall in phase.steps.items())
    return f"(wall s: {steps}; backend CPU {sum(phase.cpu.values()):.1f} s)"


@dataclass
class Report:
    sizes: dict[str, int]
    counts: dict[str, int]
    distribution: dict[str, int]
    held_lines: int
    sample_lines: int
    migrate: float
    load: Measure
    naive: Measure
    attribute: Measure
    settle: Measure
    lines: int
    commission_lines: int
    settled_lines: int
    naive_lines: int
    workers: int
    settle_workers: int
    write_back: bool
    checks: list[Check]

    def print(self) -> None:
        total = self.attribute.seconds + self.settle.seconds
        ours_rate = self.lines / total
        naive_rate = self.naive_lines / self.naive.seconds
        naive_attr = self.naive_lines / self.naive.extra["attribute_seconds"]
        naive_settle = self.naive_lines / self.naive.extra["settle_seconds"]
        log("")
        by_rule = f"OrderLine rules {self.distribution}; " if self.write_back else ""
        log(
            f"{by_rule}commission lines {self.commission_lines:,} "
            f"(held {self.held_lines:,}); settled {self.settled_lines:,}"
        )
        log(
            f"phase 1 ran as {self.workers} concurrent commissions_attribute_backlog shard(s) (orders), phase 2 as "
            f"{self.settle_workers} concurrent commissions_settle_due shard(s) (shopkeepers); the attribution "
            "snapshot is written onto OrderLine/Order on both sides"
        )
        log("")
        log("| phase | order lines | seconds | lines/s | backend CPU s | others' busy cores | load1 before/after |")
        log("| --- | ---: | ---: | ---: | ---: | ---: | --- |")

        def row(name: str, m: Measure, lines: int) -> None:
            log(
                f"| {name} | {lines:,} | {m.seconds:.1f} | {lines / m.seconds:,.0f} | {m.backend_cpu:.1f} | "
                f"{m.others_cores:.2f} | {m.load1_before:.1f} / {m.load1_after:.1f} |"
            )

        log(
            f"| load (migrate {self.migrate:.0f} s, not counted) | - | {self.load.seconds:.1f} | - | "
            f"{self.load.backend_cpu:.1f} | {self.load.others_cores:.2f} | "
            f"{self.load.load1_before:.1f} / {self.load.load1_after:.1f} |"
        )
        row("ours: commissions_attribute_backlog", self.attribute, self.lines)
        row("ours: commissions_settle_due", self.settle, self.lines)
        log(
            f"| **ours: total** | {self.lines:,} | **{total:.1f}** | **{ours_rate:,.0f}** | "
            f"{self.attribute.backend_cpu + self.settle.backend_cpu:.1f} | - | - |"
        )
        log(
            f"| naive: attribute + book (per line) | {self.naive_lines:,} | "
            f"{self.naive.extra['attribute_seconds']:.1f} | {naive_attr:,.1f} | - | - | - |"
        )
        log(
            f"| naive: settle (per line) | {self.naive_lines:,} | {self.naive.extra['settle_seconds']:.1f} | "
            f"{naive_settle:,.1f} | - | - | - |"
        )
        row("**naive: total**", self.naive, self.naive_lines)
        log("")
        ratio = ours_rate / naive_rate
        log(f"naive extrapolated to {self.lines:,} lines: {self.lines / naive_rate / 3600:.1f} h")
        log(
            f"ratio ours / naive: {ratio:.0f}x (attribute {self.lines / self.attribute.seconds / naive_attr:.0f}x, "
            f"settle {self.lines / self.settle.seconds / naive_settle:.0f}x)"
        )
        log(
            f"target: {self.lines:,} lines in < {TARGET_SECONDS:.0f} s: {'met' if total < TARGET_SECONDS else 'MISSED'} "
            f"({total:.1f} s); >= {TARGET_RATIO:.0f}x naive: {'met' if ratio >= TARGET_RATIO else 'MISSED'}"
        )
        log("")
        for check in self.checks:
            log(f"[{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")


if __name__ == "__main__":
    sys.exit(main())
