"""Flash-sale benchmark: one SKU, a fixed stock, N concurrent buyers through the real HTTP API.

    .venv/bin/python -m bench.flash_sale.run            # 3 trials each of ours and the naive baseline

What it does (see bench/README.md):
1. drops and creates a PostgreSQL database (default grassroots_bench), migrates it and seeds N buyers
   (each with a personal access token and an address), one verified merchant and one listed SKU;
2. for each trial, resets the stock and the order tables, starts granian exactly like `make run`
   (WSGI, 2 workers, 4 blocking threads) on a free port, warms it up, and fires N buyers at once,
   each POSTing one checkout of quantity 1 (its own connection and Idempotency-Key);
3. measures successful orders/s, p50/p99 latency, CPU-seconds per order (granian process tree plus
   the PostgreSQL backends of the bench database), oversold units and the stock invariant;
4. runs "ours" (POST /api/v1/orders/checkout) and "naive" (bench/flash_sale/naive_app.py, a
   select_for_update read-check-write view) alternately, and prints the medians and the ratio.

Not part of the test suite. Exit status 1 when a trial oversold or broke the stock invariant.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/grassroots_bench"
DATA_DIR = "/tmp/gr-bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Kind:
    method: str
    path: str
    settings: str
    success: str  # the status that counts as a success
    places_orders: bool = True
    app: str = "grassroots.wsgi:application"
    claims: bool = False  # counts claims in the lane's tables instead of orders


KINDS = {
    # The real endpoint, served by the real settings: what the targets are about.
    "ours": Kind("POST", "/api/v1/orders/checkout", "grassroots.settings", "201"),
    # The classic select_for_update read-check-write (bench/flash_sale/naive_app.py).
    "naive": Kind("POST", "/bench/naive/checkout", "bench.flash_sale.settings", "201"),
    # Optional: a checkout request that does nothing (bench/flash_sale/noop_app.py), as a ceiling.
    "noop": Kind("POST", "/bench/noop/checkout", "bench.flash_sale.settings", "201", places_orders=False),
    # Optional: the cheapest authenticated API call (token check + one small JSON), as a ceiling.
    "floor": Kind("GET", "/api/v1/accounts/me", "grassroots.settings", "200", places_orders=False),
    # Optional: one-statement admission outside Django (bench/flash_sale/lane_app.py), as a ceiling of
    # any design that durably admits each buyer before placing orders in batches.
    "lane": Kind(
        "POST",
        "/bench/lane/claim",
        "grassroots.settings",
        "202",
        places_orders=False,
        app="bench.flash_sale.lane_app:application",
        claims=True,
    ),
}
# The same command line as `make run` (Makefile), only the port differs.
GRANIAN_ARGS = [
    *("--interface", "wsgi", "--host", "127.0.0.1", "--workers", "2", "--blocking-threads", "4"),
    *("--backlog", "4096", "--backpressure", "2048"),
]
PRICE = 9900
MONITOR = "flash-sale-monitor"  # application_name of the bench's own sampling connections (not counted)


# --- database ------------------------------------------------------------------------------------


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "grassroots.settings"
    os.environ["GRASSROOTS_DATA_DIR"] = DATA_DIR
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)


@dataclass
class Seed:
    sku_id: int
    buyers: list[tuple[str, int]]  # (token, address_id)
    warmup_token: str


def seed(*, buyers: int, stock: int) -> Seed:
    """One verified merchant, one listed product with one SKU, N buyers with a token and an address."""
    from django.utils import timezone

    from bench.flash_sale.lane_app import lane_tables_create
    from grassroots.accounts.models import User
    from grassroots.accounts.services import api_token_create
    from grassroots.catalog.models import Category, Product, Sku
    from grassroots.merchants.models import Merchant, MerchantMember
    from grassroots.orders.models import Address

    now = timezone.now()
    owner = User.objects.create_user(email="merchant@bench.local", password=None, display_name="Bench merchant")
    merchant = Merchant.objects.create(
        name="Flash Brand", slug="flash-brand", status=Merchant.Status.VERIFIED, verified_at=now, applicant=owner
    )
    MerchantMember.objects.create(merchant=merchant, user=owner, role=MerchantMember.Role.OWNER)
    category = Category.objects.create(slug="flash", name_en="Flash", name_zh="秒杀")
    product = Product.objects.create(
        merchant=merchant,
        category=category,
        slug="flash-tea",
        title_en="Flash-sale tea",
        title_zh="秒杀茶叶",
        currency="CNY",
        min_price=PRICE,
        status=Product.Status.LISTED,
        is_listed=True,
        listed_at=now,
        search_text="flash-sale tea 秒杀茶叶",
    )
    sku = Sku.objects.create(product=product, code="TEA-1", price_amount=PRICE, currency="CNY", stock=stock)

    users = [User(email=f"buyer{i}@bench.local", display_name=f"Buyer {i}") for i in range(buyers + 1)]
    for user in users:
        user.set_unusable_password()
    users = User.objects.bulk_create(users)
    addresses = Address.objects.bulk_create(
        [
            Address(
                owner=u,
                name=u.display_name,
                phone="+86 138 0000 0000",
                region="Zhejiang",
                city="Hangzhou",
                line1=f"{i} West Lake Road",
                is_default=True,
            )
            for i, u in enumerate(users)
        ]
    )
    tokens = [api_token_create(user=u, name="flash-sale bench")[1] for u in users]
    lane_tables_create()
    pairs = list(zip(tokens, [a.pk for a in addresses], strict=True))
    return Seed(sku_id=sku.pk, buyers=pairs[1:], warmup_token=pairs[0][0])


def reset(*, seed_: Seed, stock: int) -> None:
    """Empty the order tables, put the stock back, and make every token 'used just now' (buyers were
    refreshing the page before the sale), so no trial pays for the once-a-minute last_used write."""
    from django.db import connection

    from bench.flash_sale.lane_app import lane_reset
    from grassroots.accounts.models import ApiToken
    from grassroots.catalog.models import Sku
    from grassroots.core.models import IdempotencyRecord
    from grassroots.orders.models import Checkout, Order, OrderLine, OrderStatusChange

    tables = [m._meta.db_table for m in (OrderStatusChange, OrderLine, Order, Checkout, IdempotencyRecord)]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        cursor.execute(
            f"UPDATE {Sku._meta.db_table} SET stock = %s, reserved = 0, sold = 0 WHERE id = %s", [stock, seed_.sku_id]
        )
        cursor.execute(f"UPDATE {ApiToken._meta.db_table} SET last_used_at = now()")
        cursor.execute(f"VACUUM ANALYZE {Sku._meta.db_table}, {ApiToken._meta.db_table}")
    lane_reset(stock=stock)
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


@dataclass
class Outcome:
    stock: int
    reserved: int
    sold: int
    orders: int
    units: int


def outcome(*, seed_: Seed) -> Outcome:
    from django.db.models import Sum

    from grassroots.catalog.models import Sku
    from grassroots.orders.models import Order, OrderLine

    sku = Sku.objects.get(pk=seed_.sku_id)
    units = OrderLine.objects.filter(sku_id=seed_.sku_id).aggregate(n=Sum("quantity"))["n"] or 0
    return Outcome(
        stock=sku.stock, reserved=sku.reserved, sold=sku.sold, orders=Order.objects.count(), units=int(units)
    )


# --- CPU accounting ------------------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user+system CPU seconds) from /proc/<pid>/stat, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_tree_cpu(root_pid: int) -> dict[int, float]:
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _proc_stat(int(entry))) is not None:
            parents[int(entry)], cpu[int(entry)] = stat
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return {pid: cpu[pid] for pid in tree if pid in cpu}


def backend_pids() -> list[int]:
    """PostgreSQL backends connected to the bench database, except this script's own."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            f"AND application_name <> '{MONITOR}'"
        )
        return [row[0] for row in cursor.fetchall()]


def backends_cpu(pids: list[int]) -> dict[int, float]:
    return {pid: stat[1] for pid in pids if (stat := _proc_stat(pid)) is not None}


class BackendTracker(threading.Thread):
    """Reads the bench database's backends' CPU every `interval` s during the burst, so a backend that
    exits (Django closes connections older than CONN_MAX_AGE) is counted up to its last reading."""

    def __init__(self, url: str, exclude: set[int], interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.url, self.exclude, self.interval = url, exclude, interval
        self.last: dict[int, float] = {}
        self.stop = threading.Event()

    def read(self, conn: Any) -> None:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            f"AND application_name <> '{MONITOR}'"
        ).fetchall()
        self.last.update(backends_cpu([row[0] for row in rows if row[0] not in self.exclude]))

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True, application_name=MONITOR) as conn:
            while not self.stop.wait(self.interval):
                self.read(conn)


def machine_busy_cpu() -> tuple[float, float]:
    """(busy, of which in the kernel) CPU-seconds of the whole machine (all cores, everyone) since
    boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    kernel = fields[2] + fields[5] + fields[6]  # system + irq + softirq
    return (sum(fields[:8]) - idle) / CLK_TCK, kernel / CLK_TCK


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    # A process that appeared during the burst counts from zero; one that vanished is lost (warned).
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


class WaitSampler(threading.Thread):
    """Samples pg_stat_activity every `interval` s: what the bench database's backends wait on."""

    def __init__(self, url: str, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.url, self.interval = url, interval
        self.counts: Counter[str] = Counter()
        self.samples = 0
        self.stop = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True, application_name=MONITOR) as conn:
            while not self.stop.is_set():
                rows = conn.execute(
                    "SELECT state, coalesce(wait_event_type, 'CPU'), coalesce(wait_event, '-') FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                ).fetchall()
                self.samples += 1
                for state, wtype, wevent in rows:
                    self.counts[f"{state}: {wtype}/{wevent}" if state != "idle" else "idle"] += 1
                time.sleep(self.interval)


# --- server ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def granian_bin() -> str:
    candidate = Path(sys.executable).parent / "granian"
    return str(candidate if candidate.exists() else ROOT / ".venv" / "bin" / "granian")


def start_server(*, kind: str, port: int, url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": KINDS[kind].settings,
        "GRASSROOTS_DATA_DIR": DATA_DIR,
        "PYTHONPATH": str(ROOT),
    }
    command = [granian_bin(), *GRANIAN_ARGS, "--port", str(port), KINDS[kind].app]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )


def stop_server(server: subprocess.Popen[bytes]) -> str:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    return (server.stderr.read() if server.stderr else b"").decode(errors="replace")


# --- load -----------------------------------------------------------------------------------------


@dataclass
class Response:
    status: str
    seconds: float
    body: str = ""


async def _get(session: Any, url: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.get(url, headers=headers) as response:
        await response.read()
        return int(response.status)


async def wait_ready(base: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError("granian exited: " + stop_server(server)[-2000:])
            try:
                await _get(session, base + "/api/v1/orders/cart/items", None)
                return
            except (aiohttp.ClientError, OSError):
                await asyncio.sleep(0.2)
    raise RuntimeError("granian did not answer in time")


async def warm_up(base: str, token: str, concurrency: int = 64) -> None:
    """Load the URLconf and open a database connection in every worker thread before measuring."""
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        for _round in range(3):
            await asyncio.gather(*[_get(session, base + "/api/v1/orders/orders", token) for _ in range(concurrency)])


async def burst(*, base: str, kind: str, seed_: Seed, pool: int) -> tuple[float, list[Response]]:
    """Every buyer POSTs one checkout of quantity 1 at the same moment; returns (wall seconds, responses)."""
    import aiohttp

    start = asyncio.Event()
    spec = KINDS[kind]
    url = base + spec.path
    connector = aiohttp.TCPConnector(limit=pool, limit_per_host=pool)  # 0: one connection per buyer
    timeout = aiohttp.ClientTimeout(total=180)

    async def buyer(session: Any, token: str, address_id: int) -> Response:
        body = {"address_id": address_id, "items": [{"sku_id": seed_.sku_id, "quantity": 1}]}
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
        await start.wait()
        began = time.perf_counter()
        try:
            json_body = body if spec.method == "POST" else None
            async with session.request(spec.method, url, json=json_body, headers=headers) as response:
                text = await response.text()
                status = str(response.status)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            text, status = repr(exc), f"error:{type(exc).__name__}"
        return Response(status=status, seconds=time.perf_counter() - began, body="" if status == spec.success else text)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = [asyncio.create_task(buyer(session, token, address)) for token, address in seed_.buyers]
        await asyncio.sleep(0.2)  # every task is parked on the event
        began = time.perf_counter()
        start.set()
        responses = await asyncio.gather(*tasks)
        wall = time.perf_counter() - began
    return wall, list(responses)


# --- one trial ------------------------------------------------------------------------------------


@dataclass
class Trial:
    kind: str
    trial: int
    wall_s: float
    ok: int
    orders_per_s: float
    p50_ms: float
    p99_ms: float
    ok_p50_ms: float
    ok_p99_ms: float
    server_cpu_s: float
    pg_cpu_s: float
    cpu_ms_per_order: float
    client_cpu_s: float
    oversold: int
    stock: int
    reserved: int
    sold: int
    orders_in_db: int
    invariant_ok: bool
    statuses: dict[str, int]
    error_samples: list[str] = field(default_factory=list)
    waits: dict[str, float] = field(default_factory=dict)
    backends: int = 0
    machine_cpu_s: float = 0.0
    kernel_pct: float = 0.0  # of the machine's busy CPU during the burst, the percentage spent in the kernel
    other_cpu_s: float = 0.0
    load1: float = 0.0
    notes: list[str] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 1)) - 1))]


def py_spy_start(root_pid: int, out: Path, idle: bool) -> subprocess.Popen[bytes]:
    command = [
        "py-spy",
        "record",
        "--pid",
        str(root_pid),
        "--subprocesses",
        "--rate",
        "250",
        "--format",
        "raw",
        "--output",
        str(out),
        "--nonblocking",
    ]
    if idle:
        command.append("--idle")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.5)  # attach before the burst
    return process


def run_trial(*, kind: str, trial: int, args: argparse.Namespace, seed_: Seed) -> Trial:
    from django.db import connection

    reset(seed_=seed_, stock=args.stock)
    port = free_port()
    server = start_server(kind=kind, port=port, url=args.database_url)
    base = f"http://127.0.0.1:{port}"
    notes: list[str] = []
    try:
        asyncio.run(wait_ready(base, server))
        asyncio.run(warm_up(base, seed_.warmup_token))
        pids = backend_pids()
        with connection.cursor() as cursor:  # this script's own connection (it seeded and reset) is not counted
            cursor.execute("SELECT pg_backend_pid()")
            own_pid = int(cursor.fetchone()[0])
        tracker = BackendTracker(args.database_url, exclude={own_pid})
        tree_before = process_tree_cpu(server.pid)
        pg_before = backends_cpu(pids)
        spy = None
        if args.py_spy:
            out = Path(args.py_spy) / f"{kind}-{trial}.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            spy = py_spy_start(server.pid, out, args.py_spy_idle)
            notes.append(f"profiled with py-spy: {out}")
        sampler = WaitSampler(args.database_url) if args.sample_waits else None
        if sampler:
            sampler.start()
        tracker.start()
        load1 = os.getloadavg()[0]
        machine_before = machine_busy_cpu()
        client_before = time.process_time()
        wall, responses = asyncio.run(burst(base=base, kind=kind, seed_=seed_, pool=args.pool))
        client_cpu = time.process_time() - client_before
        machine_after = machine_busy_cpu()
        machine_cpu = machine_after[0] - machine_before[0]
        kernel_cpu = machine_after[1] - machine_before[1]
        if sampler:
            sampler.stop.set()
            sampler.join()
        tree_after = process_tree_cpu(server.pid)
        after_pids = backend_pids()
        tracker.stop.set()
        tracker.join()
        pg_after = {**tracker.last, **backends_cpu(sorted(set(pids) | set(after_pids)))}
        if spy:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        gone = [pid for pid in pg_after if pid not in after_pids]
        if gone:
            notes.append(f"{len(gone)} PostgreSQL backend(s) exited during the burst: counted to their last reading")
    finally:
        stop_server(server)
        connection.close()

    spec = KINDS[kind]
    statuses = Counter(r.status for r in responses)
    ok = statuses.get(spec.success, 0)
    placed = ok if spec.places_orders else 0
    result = outcome(seed_=seed_)
    server_cpu = cpu_delta(tree_before, tree_after)
    pg_cpu = cpu_delta(pg_before, pg_after)
    ok_times = [r.seconds for r in responses if r.status == spec.success]
    total = result.stock + result.reserved + result.sold
    invariant = (
        result.stock >= 0 and total == args.stock and result.reserved == result.units and result.orders == placed
    )
    oversold = max(0, result.units - args.stock)
    if spec.claims:  # the lane admits claims against its own allocation and places no order
        from bench.flash_sale.lane_app import lane_outcome

        remaining, claims = lane_outcome()
        invariant = invariant and remaining >= 0 and remaining + claims == args.stock and claims == ok
        oversold = max(0, claims - args.stock)
    return Trial(
        kind=kind,
        trial=trial,
        wall_s=wall,
        ok=ok,
        orders_per_s=ok / wall if wall else 0.0,
        p50_ms=percentile([r.seconds for r in responses], 0.50) * 1000,
        p99_ms=percentile([r.seconds for r in responses], 0.99) * 1000,
        ok_p50_ms=percentile(ok_times, 0.50) * 1000,
        ok_p99_ms=percentile(ok_times, 0.99) * 1000,
        server_cpu_s=server_cpu,
        pg_cpu_s=pg_cpu,
        cpu_ms_per_order=(server_cpu + pg_cpu) / ok * 1000 if ok else float("nan"),
        client_cpu_s=client_cpu,
        oversold=oversold,
        stock=result.stock,
        reserved=result.reserved,
        sold=result.sold,
        orders_in_db=result.orders,
        invariant_ok=invariant,
        statuses=dict(sorted(statuses.items())),
        error_samples=sorted({r.body[:200] for r in responses if r.status != spec.success})[:5],
        waits=(
            {k: round(v / sampler.samples, 2) for k, v in sampler.counts.most_common(8)}
            if sampler and sampler.samples
            else {}
        ),
        backends=len(after_pids),
        machine_cpu_s=machine_cpu,
        kernel_pct=100 * kernel_cpu / machine_cpu if machine_cpu else 0.0,
        other_cpu_s=max(0.0, machine_cpu - server_cpu - pg_cpu - client_cpu),
        load1=load1,
        notes=notes,
    )


# --- report ---------------------------------------------------------------------------------------

COLUMNS = [
    ("ok/s", "orders_per_s", "{:.0f}"),
    ("ok", "ok", "{:.0f}"),
    ("wall s", "wall_s", "{:.2f}"),
    ("p50 ms", "p50_ms", "{:.0f}"),
    ("p99 ms", "p99_ms", "{:.0f}"),
    ("CPU ms/ok", "cpu_ms_per_order", "{:.2f}"),
    ("app CPU s", "server_cpu_s", "{:.2f}"),
    ("PG CPU s", "pg_cpu_s", "{:.2f}"),
    ("client CPU s", "client_cpu_s", "{:.2f}"),
    ("others CPU s", "other_cpu_s", "{:.2f}"),
    ("kernel %", "kernel_pct", "{:.0f}"),
    ("load1", "load1", "{:.1f}"),
    ("oversold", "oversold", "{:.0f}"),
]


def median_of(trials: list[Trial], attr: str) -> float:
    return float(statistics.median(getattr(t, attr) for t in trials))


def table(rows: list[tuple[str, dict[str, float]]]) -> str:
    header = ["", *[name for name, _attr, _fmt in COLUMNS]]
    lines = [header]
    for label, values in rows:
        lines.append([label, *[fmt.format(values[attr]) for _name, attr, fmt in COLUMNS]])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def report(trials: list[Trial], args: argparse.Namespace) -> int:
    kinds = [k for k in KINDS if any(t.kind == k for t in trials)]
    print("\nPer trial:")
    print(table([(f"{t.kind} #{t.trial}", asdict(t)) for t in trials]))
    for t in trials:
        extra = f" waits={t.waits}" if t.waits else ""
        print(
            f"  {t.kind} #{t.trial}: statuses={t.statuses} stock/reserved/sold={t.stock}/{t.reserved}/{t.sold} "
            f"orders_in_db={t.orders_in_db} invariant={'ok' if t.invariant_ok else 'BROKEN'} "
            f"backends={t.backends}{extra}"
        )
        for sample in t.error_samples:
            print(f"    error: {sample}")
        for note in t.notes:
            print(f"    note: {note}")
    medians = {
        k: {attr: median_of([t for t in trials if t.kind == k], attr) for _n, attr, _f in COLUMNS} for k in kinds
    }
    print(f"\nMedian of {args.repeats} (buyers={args.buyers}, stock={args.stock}):")
    print(table([(k, medians[k]) for k in kinds]))
    print(
        "ok/s: successful responses per second of the burst (201; 200 for floor; 202 claims for lane; noop and lane\n"
        "place no order). CPU ms/ok: app server process tree + PostgreSQL backends of the bench database, per success.\n"
        "others CPU s: what the rest of the machine (other tenants, PostgreSQL's background processes) burned during\n"
        "the burst. kernel %: the share of the whole machine's busy CPU spent in the kernel during the burst."
    )
    for k in kinds:
        if k not in ("ours", "naive") and "ours" in medians and medians["ours"]["orders_per_s"]:
            print(f"{k}/ours: ok/s x{medians[k]['orders_per_s'] / medians['ours']['orders_per_s']:.2f}")
    correct = all(t.oversold == 0 and t.invariant_ok for t in trials)
    if "ours" in medians and "naive" in medians and medians["naive"]["orders_per_s"]:
        ratio = medians["ours"]["orders_per_s"] / medians["naive"]["orders_per_s"]
        cpu_ratio = medians["ours"]["cpu_ms_per_order"] / medians["naive"]["cpu_ms_per_order"]
        print(f"\nratio ours/naive: orders/s x{ratio:.2f}, CPU per order x{cpu_ratio:.2f}")
        print("targets:")
        print(f"  0 oversold, invariant held in every trial ...... {'MET' if correct else 'MISSED'}")
        print(f"  ours >= 5x naive orders/s ...................... {'MET' if ratio >= 5 else 'MISSED'} (x{ratio:.2f})")
        ours = medians["ours"]["orders_per_s"]
        print(f"  ours >= 1,000 orders/s ......................... {'MET' if ours >= 1000 else 'MISSED'} ({ours:.0f})")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "args": vars(args),
                    "load_average": os.getloadavg(),
                    "trials": [asdict(t) for t in trials],
                    "medians": medians,
                },
                indent=2,
            )
        )
        print(f"\nwrote {args.json}")
    return 0 if correct else 1


def code_version() -> str:
    """The commit measured, and whether the app code differs from it (a benchmark of a moving tree
    is not reproducible: run it from a clean checkout, or from `git archive HEAD` plus bench/)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "grassroots"], capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"unknown (not a git checkout: {ROOT})"
    return f"{head}{' with uncommitted changes in grassroots/' if dirty else ''}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--buyers", type=int, default=1000)
    parser.add_argument("--stock", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=list(KINDS), action="append", help="run only these (repeatable)")
    parser.add_argument(
        "--extra",
        choices=["noop", "floor", "lane"],
        action="append",
        default=[],
        help="also run these diagnostics",
    )
    parser.add_argument("--pool", type=int, default=0, help="client connection limit (0: one per buyer)")
    parser.add_argument("--json", help="also write every trial and the medians to this file")
    parser.add_argument("--sample-waits", action="store_true", help="sample pg_stat_activity wait events")
    parser.add_argument("--py-spy", metavar="DIR", help="record the app server with py-spy (raw stacks) into DIR")
    parser.add_argument("--py-spy-idle", action="store_true", help="with --py-spy: include idle/waiting threads")
    args = parser.parse_args()

    args.code = os.environ.get("BENCH_CODE_VERSION") or code_version()
    print(f"code: {args.code}")
    print(f"load average before: {os.getloadavg()}  (2-core machine shared by client, app server and PostgreSQL)")
    started = time.monotonic()
    recreate_database(args.database_url)
    django_setup(args.database_url)
    seed_ = seed(buyers=args.buyers, stock=args.stock)
    print(
        f"seeded {args.buyers} buyers and SKU {seed_.sku_id} (stock {args.stock}) in {time.monotonic() - started:.1f}s"
    )

    kinds = args.only or ["ours", "naive", *args.extra]
    trials: list[Trial] = []
    for number in range(1, args.repeats + 1):
        for kind in kinds:  # alternate, so both see the same background load
            trial = run_trial(kind=kind, trial=number, args=args, seed_=seed_)
            trials.append(trial)
            print(
                f"{kind} #{number}: {trial.ok} ok in {trial.wall_s:.2f}s = {trial.orders_per_s:.0f} orders/s, "
                f"p50 {trial.p50_ms:.0f} ms, p99 {trial.p99_ms:.0f} ms, {trial.cpu_ms_per_order:.2f} CPU ms/order, "
                f"oversold {trial.oversold}, statuses {trial.statuses}",
                flush=True,
            )
    return report(trials, args)


if __name__ == "__main__":
    raise SystemExit(main())
