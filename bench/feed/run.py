"""Home-feed benchmark: 100,000 members on a power-law follow graph, 2,000,000 notes, on PostgreSQL.

    .venv/bin/python -m bench.feed.run            # load (a few minutes), then reads and fan-out

1. drops and creates a PostgreSQL database (default grassroots_feed_bench; the name must contain
   "bench"), migrates it and bulk-loads it set-based (bench/feed/load.py): members, follows, notes,
   product tags, big sources, and steady-state timelines for the readers and member 1's followers;
2. reads: the same READERS, one page of 20 each, "ours" = feeds.selectors.home_feed (what
   GET /api/v1/feeds/home calls: hidden authors, followed big sources, timeline range scan, read-time
   merge, cards, viewer state) against "naive" = notes WHERE author IN (followees) ORDER BY
   published_at DESC LIMIT 20, then one product query per note. Worker processes (forked, one
   database connection each) read their share of the readers; the phases alternate
   ours / naive / naive / ours ... at each concurrency, so both see the same background load.
   Pages/s = pages / wall time of the phase; p50/p99 over every page;
3. fan-out of a note by member 1 (TOP_FOLLOWERS followers, above FEED_FANOUT_ON_READ_THRESHOLD):
   (a) as configured (merged on read): the hook after commit, then the time from commit until every
   sampled follower's first page read shows it; (b) forced on write (threshold raised for that
   measurement only): the hook's INSERT ... SELECT into every follower's timeline plus the trim.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.feed.load import Sizes, load  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/grassroots_feed_bench"
DATA_DIR = "/tmp/gr-bench-feed"
TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(message, flush=True)


def load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def machine_busy() -> float:
    """CPU-seconds the whole machine has spent busy (all cores) since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / TICKS


def proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def database_exists(url: str) -> bool:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [parts.path.lstrip("/")]).fetchone()
    return row is not None


def recreate_database(url: str, *, drop_only: bool = False) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


# --- the two read paths ---------------------------------------------------------------------------


def ours(user: Any) -> int:
    """What GET /api/v1/feeds/home does before serialising: the page with cards and viewer state."""
    from grassroots.feeds.selectors import home_feed

    page = home_feed(viewer=user, limit=20)
    for note in page.notes:  # touch what the response reads
        _ = (note.author.display_name, [item.product.title_en for item in note.card_products])  # type: ignore[attr-defined]
    return len(page.notes)


def naive(user: Any) -> int:
    """Pull on read: the followees' newest visible notes, then the products of each note one by one."""
    from grassroots.notes.models import Note, NoteProduct
    from grassroots.social.models import Follow

    followees = Follow.objects.filter(follower_id=user.pk).values("target_id")
    notes = list(
        Note.objects.filter(author_id__in=followees, status="published", moderation="visible")
        .select_related("author")
        .order_by("-published_at", "-id")[:20]
    )
    for note in notes:
        products = list(NoteProduct.objects.filter(note_id=note.pk).select_related("product").order_by("position"))
        _ = (note.author.display_name, [tag.product.title_en for tag in products])
    return len(notes)


PATHS: dict[str, Callable[[Any], int]] = {"ours": ours, "naive": naive}


def _worker(kind: str, reader_ids: list[int], repeat: int, barrier: Any, results: Any) -> None:
    from django.db import connection

    from grassroots.accounts.models import User
    from grassroots.feeds.cards import CardStats

    CardStats.reset()
    users = list(User.objects.filter(pk__in=reader_ids))
    users.sort(key=lambda user: reader_ids.index(user.pk))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    fn = PATHS[kind]
    barrier.wait()
    cpu0, db0 = time.process_time(), proc_cpu(backend)
    latencies, notes = [], 0
    for _ in range(repeat):
        for user in users:
            start = time.perf_counter()
            notes += fn(user)
            latencies.append(time.perf_counter() - start)
    cpu, db = time.process_time() - cpu0, proc_cpu(backend) - db0
    results.put((latencies, notes, cpu, db, CardStats.hits, CardStats.misses))
    connection.close()


def run_phase(kind: str, reader_ids: list[int], procs: int, repeat: int) -> dict[str, Any]:
    """`procs` forked processes read every reader's first page `repeat` times; wall time from a common start."""
    from django.db import connections

    connections.close_all()
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(procs + 1)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(kind, reader_ids[i::procs], repeat, barrier, results)) for i in range(procs)
    ]
    for worker in workers:
        worker.start()
    load_before = load1()
    barrier.wait()
    start, busy0 = time.perf_counter(), machine_busy()
    outs = [results.get() for _ in workers]
    wall, busy = time.perf_counter() - start, machine_busy() - busy0
    for worker in workers:
        worker.join()
    latencies = [value for out in outs for value in out[0]]
    client_cpu = sum(out[2] for out in outs)
    db_cpu = sum(out[3] for out in outs)
    hits, misses = sum(out[4] for out in outs), sum(out[5] for out in outs)
    return {
        "kind": kind,
        "procs": procs,
        "pages": len(latencies),
        "notes": sum(out[1] for out in outs),
        "wall_s": wall,
        "pages_per_s": len(latencies) / wall,
        "p50_ms": pct(latencies, 0.5) * 1000,
        "p99_ms": pct(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000,
        "client_cpu_s": client_cpu,
        "db_cpu_s": db_cpu,
        "others_cpu_s": max(0.0, busy - client_cpu - db_cpu),
        "machine_busy_cores": busy / wall,
        "load1": [load_before, load1()],
        "card_hits": hits,
        "card_misses": misses,
        "card_hit_rate": hits / (hits + misses) if hits + misses else None,
    }


def _hit_rate(phase: dict[str, Any]) -> str:
    rate = phase.get("card_hit_rate")
    return "" if rate is None else f"; card cache hit rate {rate:.1%}"


def clear_cards() -> int:
    """Drop every cached note card (a cold cache). Returns how many there were."""
    from django.core.cache import cache

    if not hasattr(cache, "delete_pattern"):
        return 0
    return int(cache.delete_pattern("feeds:card:*") or 0)


def measure_reads(reader_ids: list[int], concurrency: list[int], rounds: int, repeat: int) -> list[dict[str, Any]]:
    phases = []
    for procs in concurrency:
        for r in range(rounds):
            order = ("ours", "naive") if r % 2 == 0 else ("naive", "ours")
            for kind in order:
                phase = run_phase(kind, reader_ids, procs, repeat)
                phases.append(phase)
                log(
                    f"  {kind:5} x{procs} round {r + 1}: {phase['pages']} pages in {phase['wall_s']:.1f} s = "
                    f"{phase['pages_per_s']:.0f}/s, p50 {phase['p50_ms']:.1f} ms, p99 {phase['p99_ms']:.1f} ms; "
                    f"CPU s client {phase['client_cpu_s']:.1f} db {phase['db_cpu_s']:.1f} "
                    f"others {phase['others_cpu_s']:.1f}; load1 {phase['load1']}{_hit_rate(phase)}"
                )
    return phases


def summarise_reads(phases: list[dict[str, Any]]) -> dict[int, dict[str, dict[str, float]]]:
    """Per concurrency and path: the median of the rounds' rates and p99s; ratios ours/naive."""
    summary: dict[int, dict[str, dict[str, float]]] = {}
    for procs in sorted({phase["procs"] for phase in phases}):
        row: dict[str, dict[str, float]] = {}
        for kind in PATHS:
            mine = [phase for phase in phases if phase["procs"] == procs and phase["kind"] == kind]
            row[kind] = {
                "pages_per_s": statistics.median(p["pages_per_s"] for p in mine),
                "p50_ms": statistics.median(p["p50_ms"] for p in mine),
                "p99_ms": statistics.median(p["p99_ms"] for p in mine),
                "others_cpu_s_per_s": statistics.median(p["others_cpu_s"] / p["wall_s"] for p in mine),
            }
            hits, misses = sum(p.get("card_hits", 0) for p in mine), sum(p.get("card_misses", 0) for p in mine)
            if hits + misses:
                row[kind]["card_hit_rate"] = hits / (hits + misses)
        row["ratio"] = {
            "pages_per_s": row["ours"]["pages_per_s"] / row["naive"]["pages_per_s"],
            "p99": row["naive"]["p99_ms"] / row["ours"]["p99_ms"],
        }
        summary[procs] = row
    return summary


# --- fan-out of the 20,000-follower note ----------------------------------------------------------


class StatementTimer:
    """connection.execute_wrapper: wall time of each statement run through the ORM connection."""

    def __init__(self) -> None:
        self.statements: list[tuple[float, float, str]] = []  # (seconds, ended at perf_counter, sql)

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            end = time.perf_counter()
            self.statements.append((end - start, end, " ".join(sql.split())[:90]))


def _publish(author_id: int, title: str) -> tuple[int, float, float, StatementTimer]:
    """Create a published note and run the feed hook after commit, as notes.services does.
    Returns (note id, commit moment, hook seconds, statements of the hook)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from grassroots.feeds.services import feed_note_published
    from grassroots.notes.models import Note

    timer = StatementTimer()
    hook: dict[str, float] = {}

    def run_hook(note_id: int) -> None:
        hook["committed"] = time.perf_counter()
        with connection.execute_wrapper(timer):
            feed_note_published(note_id=note_id)
        hook["seconds"] = time.perf_counter() - hook["committed"]

    with transaction.atomic():
        now = timezone.now()
        note = Note.objects.create(
            author_id=author_id, title=title, body=title, status="published", published_at=now, created_at=now
        )
        transaction.on_commit(lambda: run_hook(note.pk))
    return note.pk, hook["committed"], hook["seconds"], timer


def _sees_worker(note_id: Any, follower_ids: list[int], t_commit: Any, barrier: Any, results: Any) -> None:
    from django.db import connection

    from grassroots.accounts.models import User
    from grassroots.feeds.selectors import home_feed_ids

    users = list(User.objects.filter(pk__in=follower_ids))
    barrier.wait()  # connected and ready
    barrier.wait()  # the note is committed
    seen, lags = 0, []
    for user in users:
        ids, _cursor = home_feed_ids(viewer_id=user.pk, limit=20)
        seen += bool(ids) and ids[0] == note_id.value
        lags.append(time.perf_counter() - t_commit.value)
    results.put((seen, lags))
    connection.close()


def measure_fanout(sample: int, procs: int, threshold: int) -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection, connections

    from grassroots.feeds.models import FeedBigSource, TimelineEntry
    from grassroots.notes.models import Note
    from grassroots.social.models import Follow

    out: dict[str, Any] = {"followers": Follow.objects.filter(target_kind="user", target_id=1).count()}
    with connection.cursor() as cursor:  # the measured readers who follow member 1 first, then others
        cursor.execute(
            """
            SELECT f.follower_id FROM social_follow AS f LEFT JOIN bench_reader AS r ON r.reader_id = f.follower_id
            WHERE f.target_kind = 'user' AND f.target_id = 1
            ORDER BY r.reader_id IS NULL, hashint8(f.follower_id) LIMIT %s
            """,
            [sample],
        )
        followers = [row[0] for row in cursor.fetchall()]
    created = []

    # (a) as configured: member 1 is a big source, merged on read.
    big_before = FeedBigSource.objects.filter(target_kind="user", target_id=1).exists()
    connections.close_all()
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(procs + 1)
    results = ctx.Queue()
    shared_note, shared_commit = ctx.Value("q", 0), ctx.Value("d", 0.0)
    # The readers connect and wait; the note is committed (perf_counter is CLOCK_MONOTONIC, shared by
    # all processes); then each reads its followers' first pages, one after the other.
    workers = [
        ctx.Process(target=_sees_worker, args=(shared_note, followers[i::procs], shared_commit, barrier, results))
        for i in range(procs)
    ]
    for worker in workers:
        worker.start()
    barrier.wait()
    note_id, t_commit, hook_s, timer = _publish(1, "Big news (read merge)")
    created.append(note_id)
    shared_note.value, shared_commit.value = note_id, t_commit
    barrier.wait()
    outs = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    lags = sorted(lag for out in outs for lag in out[1])
    out["read_merge"] = {
        "big_source": big_before,
        "hook_ms": hook_s * 1000,
        "rows_written": TimelineEntry.objects.filter(note_id=note_id).count(),
        "sampled_followers": len(followers),
        "saw_it_on_first_read": sum(out[0] for out in outs),
        "procs": procs,
        "all_sampled_seen_after_commit_s": lags[-1],
        "first_seen_after_commit_ms": lags[0] * 1000,
    }
    log(f"  read merge: {out['read_merge']}")

    # (b) forced fan-out on write: member 1 is not big and the threshold is above its follower count.
    FeedBigSource.objects.filter(target_kind="user", target_id=1).delete()
    original = settings.GRASSROOTS
    settings.GRASSROOTS = {**original, "FEED_FANOUT_ON_READ_THRESHOLD": 10_000_000}
    runs = []
    try:
        for i in range(3):
            load_before = load1()
            note_id, t_commit, seconds, timer = _publish(1, f"Big news (write fan-out {i + 1})")
            created.append(note_id)
            written = TimelineEntry.objects.filter(note_id=note_id).count()
            missing = (
                Follow.objects.filter(target_kind="user", target_id=1)
                .exclude(follower_id__in=TimelineEntry.objects.filter(note_id=note_id).values("owner_id"))
                .count()
            )
            slow = sorted(timer.statements, reverse=True)[:2]
            # The hook runs after the commit, in autocommit: the INSERT ... SELECT commits on its own,
            # so every follower's next read shows the note from its end on; the trim follows.
            inserted = [end for _s, end, sql in timer.statements if sql.startswith("INSERT INTO feeds_timelineentry")]
            run = {
                "reach_s": inserted[0] - t_commit if inserted else None,
                "seconds": seconds,
                "rows_written": written,
                "followers_missing_it": missing,
                "slowest": [(round(s * 1000, 1), sql) for s, _end, sql in slow],
                "load1": [load_before, load1()],
            }
            runs.append(run)
            log(f"  write fan-out #{i + 1}: {run}")
    finally:
        settings.GRASSROOTS = original
        Note.objects.filter(pk__in=created).delete()
        if big_before:
            FeedBigSource.objects.get_or_create(target_kind="user", target_id=1)
    out["write_fanout"] = {
        "runs": runs,
        "median_s": statistics.median(r["seconds"] for r in runs),
        "median_reach_s": statistics.median(r["reach_s"] for r in runs),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--users", type=int, default=Sizes.users)
    parser.add_argument("--top-followers", type=int, default=Sizes.top_followers)
    parser.add_argument("--followees", type=int, default=Sizes.followees)
    parser.add_argument("--notes", type=int, default=Sizes.notes)
    parser.add_argument("--readers", type=int, default=Sizes.readers)
    parser.add_argument(
        "--warm-followers", type=int, default=None, help="member 1's followers given a full timeline (default all)"
    )
    parser.add_argument("--concurrency", type=int, action="append", help="worker processes (repeatable; 1 and 4)")
    parser.add_argument("--rounds", type=int, default=2, help="phases per path and concurrency (alternating)")
    parser.add_argument("--repeat", type=int, default=2, help="pages per reader in a phase")
    parser.add_argument("--sample", type=int, default=500, help="followers checked for the read-merge visibility")
    parser.add_argument("--reuse", action="store_true", help="measure on the already loaded database")
    parser.add_argument("--skip-reads", action="store_true", help="only the fan-out measurement")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", ""),
        help="cache note cards in this Redis (timelines stay in the database); without it no card cache",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    concurrency = args.concurrency or [1, 4]
    sizes = Sizes(
        users=args.users,
        top_followers=args.top_followers,
        followees=args.followees,
        notes=args.notes,
        readers=args.readers,
        warm_followers=args.top_followers if args.warm_followers is None else args.warm_followers,
    )

    if not (args.reuse and database_exists(args.database_url)):
        args.reuse = False
        recreate_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "grassroots.settings"
    os.environ["GRASSROOTS_DATA_DIR"] = DATA_DIR
    if args.redis_url:
        os.environ["REDIS_URL"] = args.redis_url  # the cache (note cards), not the timelines
    else:
        os.environ.pop("REDIS_URL", None)
    Path(DATA_DIR).mkdir(parents=True, exist_ok=True)
    import django

    django.setup()
    from django.conf import settings

    # Timelines are loaded into the database table; the card cache is on exactly when Redis is given.
    settings.GRASSROOTS["FEED_BACKEND"] = "db"
    settings.GRASSROOTS["FEED_CARD_CACHE"] = "on" if args.redis_url else "off"
    from django.core.management import call_command
    from django.db import connection

    from grassroots.feeds.conf import feeds_setting
    from grassroots.feeds.timeline import timeline_backend

    threshold = int(feeds_setting("FEED_FANOUT_ON_READ_THRESHOLD"))
    cap = int(feeds_setting("FEED_TIMELINE_CAP"))
    report: dict[str, Any] = {"sizes": sizes.__dict__, "threshold": threshold, "cap": cap, "cores": os.cpu_count()}
    card_ttl = int(feeds_setting("FEED_CARD_TTL"))
    report["card_cache"] = {"redis": bool(args.redis_url), "ttl_s": card_ttl}
    log(
        f"sizes {sizes}; threshold {threshold}, cap {cap}, timeline backend {timeline_backend().name}, "
        f"card cache {'Redis, TTL ' + str(card_ttl) + ' s' if args.redis_url else 'off'}"
    )
    if not args.reuse:
        call_command("migrate", verbosity=0, interactive=False)
        log(f"load1 before load: {load1()}")
        start, busy0 = time.perf_counter(), machine_busy()
        with connection.cursor() as cursor:
            timings = load(cursor, sizes=sizes, threshold=threshold, cap=cap, log=log)
        wall = time.perf_counter() - start
        report["load"] = {
            "steps_s": timings,
            "total_s": wall,
            "machine_busy_cores": (machine_busy() - busy0) / wall,
            "load1_after": load1(),
        }
        log(f"load total {wall:.0f} s; machine busy {report['load']['machine_busy_cores']:.2f} cores; load1 {load1()}")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT (SELECT count(*) FROM social_follow), (SELECT count(*) FROM notes_note),
                   (SELECT count(DISTINCT note_id) FROM notes_noteproduct), (SELECT count(*) FROM feeds_feedbigsource),
                   (SELECT count(*) FROM feeds_timelineentry), (SELECT count(DISTINCT owner_id) FROM feeds_timelineentry),
                   pg_size_pretty(pg_database_size(current_database()))
            """
        )
        follows, notes, tagged, big, entries, owners, size = cursor.fetchone()
        cursor.execute("SELECT target_id, count(*) FROM social_follow GROUP BY target_id ORDER BY 2 DESC, 1 LIMIT 6")
        top = cursor.fetchall()
        cursor.execute("SELECT reader_id FROM bench_reader ORDER BY ord")
        reader_ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT avg(n), percentile_cont(0.5) WITHIN GROUP (ORDER BY n), max(n) FROM "
            "(SELECT count(*) AS n FROM social_follow GROUP BY follower_id) AS x"
        )
        mean_followees, median_followees, max_followees = cursor.fetchone()
    report["data"] = {
        "follows": follows,
        "mean_followees": float(mean_followees),
        "median_followees": float(median_followees),
        "max_followees": max_followees,
        "top_followed": top,
        "notes": notes,
        "notes_with_products": tagged,
        "big_sources": big,
        "timeline_entries": entries,
        "timeline_owners": owners,
        "readers": len(reader_ids),
        "database_size": size,
    }
    log(f"data: {report['data']}")

    summary: dict[int, dict[str, dict[str, float]]] = {}
    if not args.skip_reads:
        if args.redis_url:
            log(f"cold card cache: {clear_cards()} cards dropped, then every reader once, one process")
            cold = run_phase("ours", reader_ids, 1, 1)
            report["cold"] = cold
            log(
                f"  ours x1 from an empty cache: {cold['pages']} pages, {cold['pages_per_s']:.0f}/s, "
                f"p50 {cold['p50_ms']:.1f} ms, p99 {cold['p99_ms']:.1f} ms{_hit_rate(cold)}"
            )
        log("warm-up: every reader once per path")
        run_phase("ours", reader_ids, 2, 1)
        run_phase("naive", reader_ids, 2, 1)
        log("reads:")
        phases = measure_reads(reader_ids, concurrency, args.rounds, args.repeat)
        summary = summarise_reads(phases)
        report["reads"] = {"phases": phases, "summary": summary}

    log("fan-out of a note by member 1:")
    report["fanout"] = measure_fanout(args.sample, 2, threshold)

    log("\n| procs | path | pages/s | p50 ms | p99 ms | others' CPU (cores) |\n| --- | --- | --- | --- | --- | --- |")
    for procs, row in summary.items():
        for kind in PATHS:
            r = row[kind]
            log(
                f"| {procs} | {kind} | {r['pages_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                f"{r['others_cpu_s_per_s']:.2f} |"
            )
    for procs, row in summary.items():
        log(
            f"ratio ours/naive at {procs} process(es): x{row['ratio']['pages_per_s']:.1f} pages/s, p99 naive/ours "
            f"x{row['ratio']['p99']:.1f}"
        )
    fan = report["fanout"]
    log(
        f"read merge: hook {fan['read_merge']['hook_ms']:.1f} ms, {fan['read_merge']['rows_written']} rows written, "
        f"{fan['read_merge']['saw_it_on_first_read']}/{fan['read_merge']['sampled_followers']} sampled followers saw "
        f"it on their first read; all of them within {fan['read_merge']['all_sampled_seen_after_commit_s']:.2f} s "
        f"of the commit"
    )
    log(
        f"write fan-out to {fan['followers']} followers: in every timeline after (median) "
        f"{fan['write_fanout']['median_reach_s']:.2f} s, hook with the trim {fan['write_fanout']['median_s']:.2f} s"
    )
    targets = {
        **{
            f"10x naive pages/s ({procs} processes)": row["ratio"]["pages_per_s"] >= 10
            for procs, row in summary.items()
        },
        **{f"p99 < 50 ms ({procs} processes)": row["ours"]["p99_ms"] < 50 for procs, row in summary.items()},
        "write fan-out reaches every follower < 5 s": fan["write_fanout"]["median_reach_s"] < 5,
        "write fan-out hook incl. trim < 5 s": fan["write_fanout"]["median_s"] < 5,
    }
    report["targets"] = targets
    log(f"targets: {targets}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    if args.drop:
        connection.close()
        recreate_database(args.database_url, drop_only=True)
        log("database dropped")


if __name__ == "__main__":
    main()
