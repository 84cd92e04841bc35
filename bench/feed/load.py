"""Bulk-load the synthetic feed data set with set-based SQL (INSERT ... SELECT generate_series).

Deterministic: every "random" choice is a hash of a row number (`hashint8`), so two loads with the
same sizes give the same rows, whatever the plan.

How it stays fast: foreign-key triggers are skipped while loading (`session_replication_role =
replica`; `check_references` verifies every reference afterwards with one anti-join per key), the
secondary indexes and the unique and check constraints of the big tables are dropped before the bulk
inserts and recreated after them (one sorted build each instead of millions of random inserts), and
`VACUUM ANALYZE` leaves visibility maps and statistics as a long-running database would have them.

The data (defaults of run.py):
- USERS members (ids 1..USERS), 100 verified merchants, 2,000 listed products.
- follows: member 1 is followed by exactly TOP_FOLLOWERS others; every member also follows
  FOLLOWEES - 1 targets drawn from a power law (target = 2 + (USERS - 1) * u^1.8, duplicates and self
  dropped), so a handful of members have thousands of followers and most have a few dozen.
- NOTES notes over the last 60 days, authors uniform, ids in publication order; 30% tag one product
  and half of those a second one.
- sources with more than FEED_FANOUT_ON_READ_THRESHOLD followers are marked big (merged on read).
- timelines: the READERS sampled members (the ones the reads measure) and `warm_followers` of member
  1's followers get the timeline fan-out on write would have left them: the newest FEED_TIMELINE_CAP
  notes of their small followed sources (big sources are merged on read, never fanned out).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bench import sqlload
from bench.sqlload import h

PRODUCTS = 2_000
MERCHANTS = 100
# Tables whose secondary indexes and unique/check constraints are dropped while loading.
BIG_TABLES = ["social_follow", "notes_note", "notes_noteproduct", "feeds_timelineentry"]
FOREIGN_KEYS = [
    ("social_follow", "follower_id", "accounts_user"),
    ("notes_note", "author_id", "accounts_user"),
    ("notes_noteproduct", "note_id", "notes_note"),
    ("notes_noteproduct", "product_id", "catalog_product"),
    ("catalog_product", "merchant_id", "merchants_merchant"),
    ("feeds_timelineentry", "owner_id", "accounts_user"),
    ("feeds_timelineentry", "note_id", "notes_note"),
]


@dataclass(frozen=True)
class Sizes:
    users: int = 100_000
    top_followers: int = 20_000
    followees: int = 100
    notes: int = 2_000_000
    readers: int = 500
    warm_followers: int = 20_000


def u(expr: str, salt: int) -> str:
    """Uniform in [0, 1)."""
    return f"({h(expr, salt)} / 2147483648.0::float8)"


class Runner:
    def __init__(self, cursor: object, log: Callable[[str], None]) -> None:
        self.cursor = cursor
        self.log = log
        self.timings: dict[str, float] = {}

    def sql(self, statement: str, params: object = None) -> None:
        self.cursor.execute(statement, params)  # type: ignore[attr-defined]

    def step(self, name: str, statements: str) -> None:
        start = time.perf_counter()
        for statement in statements.split(";\n"):
            if statement.strip():
                self.sql(statement)
        self.timings[name] = time.perf_counter() - start
        self.log(f"  load {name}: {self.timings[name]:.1f} s")

    def drop_secondary(self, tables: list[str]) -> list[tuple[str, str]]:
        """Drop the unique and check constraints and the indexes backing no constraint (primary and
        foreign keys stay); return (table, statement) pairs that recreate them."""
        self.cursor.execute(  # type: ignore[attr-defined]
            """
            SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
            FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('u', 'c')
            """,
            [tables],
        )
        constraints = self.cursor.fetchall()  # type: ignore[attr-defined]
        restore: list[tuple[str, str]] = []
        for table, name, definition in constraints:
            self.sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            restore.append((table, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
        self.cursor.execute(  # type: ignore[attr-defined]
            """
            SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index AS i
            WHERE i.indrelid = ANY(%s::regclass[])
              AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)
            """,
            [tables],
        )
        for table, name, definition in self.cursor.fetchall():  # type: ignore[attr-defined]
            self.sql(f'DROP INDEX "{name}"')
            restore.append((table, definition))
        return restore

    def restore(self, name: str, statements: list[tuple[str, str]], tables: list[str]) -> None:
        start = time.perf_counter()
        for table, statement in statements:
            if table in tables:
                self.sql(statement)
        self.timings[name] = time.perf_counter() - start
        self.log(f"  load {name}: {self.timings[name]:.1f} s")


def load(cursor: object, *, sizes: Sizes, threshold: int, cap: int, log: Callable[[str], None]) -> dict[str, float]:
    """Fill the (freshly migrated, empty) database. Returns seconds per step."""
    run = Runner(cursor, log)
    n, top, notes = sizes.users, sizes.top_followers, sizes.notes
    run.sql("SET synchronous_commit = off")
    run.sql("SET work_mem = '256MB'")
    run.sql("SET maintenance_work_mem = '512MB'")
    run.sql("SET session_replication_role = replica")
    restore = run.drop_secondary(BIG_TABLES)
    run.step(
        "users, merchants, products",
        f"""
        INSERT INTO accounts_user (id, password, is_superuser, email, display_name, avatar, bio,
            invite_code_used, invite_code, handle, invited_by_id, preferred_language, is_active, is_staff,
            date_joined)
        SELECT i, '!', false, 'u' || i || '@bench.local', 'User ' || i, '', '', '', NULL, 'u' || i, NULL, 'en',
               true, false, now() - interval '200 days'
        FROM generate_series(1, {n}) AS i;
        INSERT INTO merchants_merchant (id, name, slug, description, brand_names, contact_email, status,
            status_reason, created_at, verified_at, applicant_id)
        SELECT m, 'Merchant ' || m, 'merchant-' || m, '', '', '', 'verified', '', now(), now(), NULL
        FROM generate_series(1, {MERCHANTS}) AS m;
        INSERT INTO catalog_category (id, slug, name_en, name_zh, position, parent_id)
        VALUES (1, 'bench', 'Bench', '测试', 0, NULL);
        INSERT INTO catalog_product (id, slug, title_en, title_zh, brand, origin, description_md,
            description_html, currency, min_price, status, is_listed, search_text, passed_stages, listed_at,
            created_at, updated_at, category_id, merchant_id)
        SELECT p, 'product-' || p, 'Product ' || p, '商品 ' || p, '', '', '', '', 'CNY', 990, 'listed', true,
               'product ' || p, '[]'::jsonb, now(), now(), now(), 1, 1 + p % {MERCHANTS}
        FROM generate_series(1, {PRODUCTS}) AS p
        """,
    )
    run.step(
        "follows (power law)",
        f"""
        INSERT INTO social_follow (follower_id, target_kind, target_id, created_at)
        SELECT i, 'user', t, now() - interval '100 days'
        FROM (
            SELECT f AS i, 1 AS t FROM generate_series(2, {top + 1}) AS f
            UNION
            SELECT i, 2 + floor(({n} - 1) * power({u("i * 512 + j", 1)}, 1.8))::int AS t
            FROM generate_series(1, {n}) AS i, generate_series(1, {sizes.followees - 1}) AS j
        ) AS x
        WHERE t <> i AND t <= {n}
        ORDER BY i, t
        """,
    )
    run.step(
        "notes, product tags",
        f"""
        INSERT INTO notes_note (id, author_id, merchant_id, title, body, body_html, status, moderation,
            moderation_reason, is_ad, created_at, updated_at, published_at, deleted_at, like_count,
            collect_count, comment_count, share_count)
        SELECT k, 1 + {h("k", 2)} % {n}, NULL, 'Note ' || k, 'Body of note ' || k, '<p>Body of note ' || k || '</p>',
               'published', 'visible', '', false, pa, pa, pa, NULL, {h("k", 4)} % 50, 0, 0, 0
        FROM (
            SELECT k, now() - interval '60 days' + (k::float8 / {notes}) * interval '60 days' AS pa
            FROM generate_series(1, {notes}) AS k
        ) AS x;
        INSERT INTO notes_noteproduct (note_id, product_id, position)
        SELECT k, 1 + {h("k", 6)} % {PRODUCTS}, 0 FROM generate_series(1, {notes}) AS k WHERE {h("k", 3)} % 10 < 3;
        INSERT INTO notes_noteproduct (note_id, product_id, position)
        SELECT k, 1 + ({h("k", 6)} + 1 + {h("k", 7)} % ({PRODUCTS} - 1)) % {PRODUCTS}, 1
        FROM generate_series(1, {notes}) AS k WHERE {h("k", 3)} % 10 < 3 AND {h("k", 8)} % 2 = 0
        """,
    )
    run.restore("rebuild follow and note indexes", restore, ["social_follow", "notes_note", "notes_noteproduct"])
    run.step(
        "sequences, vacuum analyze",
        f"""
        SELECT setval(pg_get_serial_sequence('accounts_user', 'id'), {n});
        SELECT setval(pg_get_serial_sequence('merchants_merchant', 'id'), {MERCHANTS});
        SELECT setval(pg_get_serial_sequence('catalog_product', 'id'), {PRODUCTS});
        SELECT setval(pg_get_serial_sequence('catalog_category', 'id'), 1);
        SELECT setval(pg_get_serial_sequence('notes_note', 'id'), {notes});
        SELECT setval(pg_get_serial_sequence('social_follow', 'id'), (SELECT max(id) FROM social_follow));
        SELECT setval(pg_get_serial_sequence('notes_noteproduct', 'id'), (SELECT max(id) FROM notes_noteproduct));
        VACUUM ANALYZE accounts_user, catalog_product, social_follow, notes_note, notes_noteproduct
        """,
    )
    # Owners with a steady-state timeline: the measured readers, then member 1's followers.
    run.step(
        "big sources, follow counters, timeline owners",
        f"""
        INSERT INTO feeds_feedbigsource (target_kind, target_id, marked_at)
        SELECT 'user', target_id, now() FROM social_follow WHERE target_kind = 'user'
        GROUP BY target_id HAVING count(*) > {threshold};
        INSERT INTO social_followcounter (target_kind, target_id, followers, following)
        SELECT 'user', i, coalesce(fr.n, 0), coalesce(fg.n, 0)
        FROM generate_series(1, {n}) AS i
        LEFT JOIN (SELECT target_id, count(*) AS n FROM social_follow GROUP BY 1) AS fr ON fr.target_id = i
        LEFT JOIN (SELECT follower_id, count(*) AS n FROM social_follow GROUP BY 1) AS fg ON fg.follower_id = i;
        DROP TABLE IF EXISTS bench_reader;
        CREATE TABLE bench_reader AS
        SELECT min(r) AS ord, reader_id FROM (
            SELECT r, 2 + {h("r", 9)} % ({n} - 1) AS reader_id FROM generate_series(1, {sizes.readers}) AS r
        ) AS x GROUP BY reader_id;
        DROP TABLE IF EXISTS bench_owner;
        CREATE TABLE bench_owner AS
        SELECT reader_id AS owner_id FROM bench_reader
        UNION
        SELECT follower_id FROM (
            SELECT follower_id FROM social_follow WHERE target_kind = 'user' AND target_id = 1
            ORDER BY {h("follower_id", 10)} LIMIT {sizes.warm_followers}
        ) AS f;
        ALTER TABLE bench_owner ADD PRIMARY KEY (owner_id);
        ANALYZE bench_reader, bench_owner, feeds_feedbigsource, social_followcounter
        """,
    )
    run.step(
        "timelines (newest cap notes of small followed sources)",
        f"""
        INSERT INTO feeds_timelineentry (owner_id, note_id, author_id, published_at)
        SELECT o.owner_id, t.id, t.author_id, t.published_at
        FROM bench_owner AS o
        CROSS JOIN LATERAL (
            SELECT n.id, n.author_id, n.published_at
            FROM social_follow AS f
            JOIN notes_note AS n ON n.author_id = f.target_id AND n.status = 'published'
            WHERE f.follower_id = o.owner_id AND f.target_kind = 'user'
              AND NOT EXISTS (SELECT 1 FROM feeds_feedbigsource AS b
                              WHERE b.target_kind = 'user' AND b.target_id = f.target_id)
            ORDER BY n.published_at DESC, n.id DESC
            LIMIT {cap}
        ) AS t
        ORDER BY o.owner_id, t.published_at DESC, t.id DESC
        """,
    )
    run.restore("rebuild timeline indexes", restore, ["feeds_timelineentry"])
    run.step(
        "timeline sequence, vacuum analyze",
        """
        SELECT setval(pg_get_serial_sequence('feeds_timelineentry', 'id'),
                      (SELECT coalesce(max(id), 1) FROM feeds_timelineentry));
        VACUUM ANALYZE feeds_timelineentry
        """,
    )
    run.sql("SET session_replication_role = DEFAULT")
    run.timings["check references"] = check_references(cursor)
    log(f"  load check references: {run.timings['check references']:.1f} s")
    return run.timings


def check_references(cursor: object) -> float:
    """The foreign keys skipped while loading hold (bench.sqlload.check_references)."""
    return sqlload.check_references(cursor, FOREIGN_KEYS)
