"""Bulk-load the synthetic settlement data set with set-based SQL (INSERT ... SELECT generate_series).

Deterministic: every "random" choice is a hash of a row number (`hashint8`), so two loads with the
same sizes give the same rows, whatever the plan or the parallelism.

The data (sizes are the defaults of run.py):
- users 1..SHOPKEEPERS own one shop each (id = owner id); 30% of them were invited by another
  shopkeeper (the team override goes to that inviter while its shop is not suspended). 97% of the
  shops are active, 2% paused, 1% suspended. Users above SHOPKEEPERS are buyers.
- PRODUCTS products of 1,000 merchants, one SKU each. Commission rates: one rate 120 days back
  (2% of products have none: they earn nothing); 20% change once inside the click period (up or
  down); 1% of those get a second row with the same effective_from (the later row wins); 3% have a
  cancelled row that must never apply.
- every shop carries ~22 products; one share link per shop and per (shop, product).
- CLICKS clicks over 30 days: 3% bots, 12% anonymous (device only), 3% by shopkeepers' own
  accounts, the rest by buyers; 30% through the shop link, 70% through a product link; 5% are
  duplicates (the same visitor and link again within 30 minutes). Every member clicks from their
  own device key and IP hash, except "rings": buyers whose id is a multiple of 211 use the device and
  IP of a shopkeeper and click that shopkeeper's shop half the time (self-referral: held for review).
- orders: most start from a click (the buyer buys an item of the clicked shop 0-9 days later, so
  some fall outside the 7-day window), 15% are organic (random products), 1.5% are shopkeepers
  buying from their own shop (self purchase). 1-5 lines each, one line per product. Placed 10-40
  days ago; 98.5% delivered 1-2 days later (so more than 7 days ago), 0.5% completed, 1% still
  shipped (not due); 0.3% of the delivered ones have an open return (not due).
- lines: exactly `lines` lines for the measured run plus a sample of whole orders (about
  `sample` lines) for the naive loop, marked in the table bench_sample_order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bench import sqlload
from bench.sqlload import h

MERCHANTS = 1_000
ITEMS_PER_SHOP = 22
CURRENCY = "CNY"
PLATFORM_FEE_BPS = 500  # the fee booked at capture for a line without a shopkeeper (settings default)
# Tables whose secondary indexes are dropped while loading and rebuilt afterwards (much faster).
BIG_TABLES = [
    "attribution_click",
    "orders_orderline",
    "orders_order",
    "orders_checkout",
    "attribution_sharelink",
    "shops_shopitem",
]


@dataclass(frozen=True)
class Sizes:
    shopkeepers: int = 10_000
    buyers: int = 300_000
    products: int = 50_000
    clicks: int = 2_000_000
    lines: int = 1_000_000
    sample: int = 2_000


def u(expr: str, salt: int) -> str:
    """Uniform in [0, 1)."""
    return f"({h(expr, salt)} / 2147483648.0)"


def load(cursor: object, *, t0: datetime, sizes: Sizes, log: Callable[[str], None]) -> dict[str, float]:
    """Fill the (freshly migrated, empty) database. Returns seconds per step."""
    run = _Runner(cursor, t0, log)
    sk, nb, npr = sizes.shopkeepers, sizes.buyers, sizes.products
    users = sk + nb
    run.sql("SET synchronous_commit = off")
    run.sql("SET work_mem = '256MB'")
    run.sql("SET maintenance_work_mem = '512MB'")
    # Foreign keys are checked by triggers; the generator only makes valid references, and
    # check_references() verifies them afterwards in a few set-based queries.
    run.sql("SET session_replication_role = replica")
    indexes = run.drop_secondary_indexes(BIG_TABLES)

    run.step(
        "users",
        f"""
        INSERT INTO accounts_user (id, password, is_superuser, email, display_name, avatar, bio,
            invite_code_used, invite_code, preferred_language, is_active, is_staff, date_joined, invited_by_id)
        SELECT i, '!', false, 'u' || i || '@bench.local', 'User ' || i, '', '', '', NULL, 'en', true, false,
               T0 - interval '200 days',
               CASE WHEN i <= {sk} AND {h("i", 1)} % 10 < 3
                    THEN NULLIF(1 + {h("i", 2)} % {sk}, i) END
        FROM generate_series(1, {users}) AS i
        """,
    )
    run.step(
        "merchants, category, products, skus",
        f"""
        INSERT INTO merchants_merchant (id, name, slug, description, brand_names, contact_email, status,
            status_reason, created_at, verified_at, applicant_id)
        SELECT m, 'Merchant ' || m, 'merchant-' || m, '', '', 'm' || m || '@bench.local', 'verified', '',
               T0 - interval '300 days', T0 - interval '300 days', NULL
        FROM generate_series(1, {MERCHANTS}) AS m;
        INSERT INTO catalog_category (id, slug, name_en, name_zh, position, parent_id)
        VALUES (1, 'bench', 'Bench', '测试', 0, NULL);
        CREATE TEMP TABLE bench_product AS
        SELECT p, 1 + (p - 1) % {MERCHANTS} AS merchant_id, 500 + {h("p", 3)} % 49500 AS price
        FROM generate_series(1, {npr}) AS p;
        INSERT INTO catalog_product (id, slug, title_en, title_zh, brand, origin, description_md,
            description_html, currency, min_price, status, is_listed, search_text, passed_stages, listed_at,
            created_at, updated_at, category_id, merchant_id)
        SELECT p, 'product-' || p, 'Product ' || p, '商品 ' || p, '', '', '', '', '{CURRENCY}', price, 'listed',
               true, 'product ' || p, '[]'::jsonb, T0 - interval '150 days', T0 - interval '150 days',
               T0 - interval '150 days', 1, merchant_id
        FROM bench_product;
        INSERT INTO catalog_sku (id, code, options, price_amount, currency, stock, reserved, sold, max_per_user,
            is_active, position, product_id)
        SELECT p, 'SKU-' || p, '{{}}'::jsonb, price, '{CURRENCY}', 1000, 0, 0, 0, true, 0, p FROM bench_product
        """,
    )
    run.step(
        "commission rates",
        f"""
        INSERT INTO shops_commissionrate (rate_bps, effective_from, created_at, created_by_id, product_id,
            cancelled_at)
        SELECT rate_bps, effective_from, effective_from - interval '1 day', NULL, p, cancelled_at
        FROM (
            SELECT p, 1 AS n, T0 - interval '120 days' AS effective_from, NULL::timestamptz AS cancelled_at,
                   CASE WHEN {h("p", 5)} % 10 = 0 THEN 100 + {h("p", 6)} % 7901
                        ELSE 100 + {h("p", 6)} % 2900 END AS rate_bps
            FROM generate_series(1, {npr}) AS p WHERE {h("p", 4)} % 100 >= 2
            UNION ALL
            SELECT p, 2, T0 - interval '40 days' + {u("p", 8)} * interval '30 days', NULL,
                   100 + {h("p", 9)} % 3900
            FROM generate_series(1, {npr}) AS p WHERE {h("p", 4)} % 100 >= 2 AND {h("p", 7)} % 100 < 20
            UNION ALL
            SELECT p, 3, T0 - interval '40 days' + {u("p", 8)} * interval '30 days', NULL,
                   100 + {h("p", 11)} % 3900
            FROM generate_series(1, {npr}) AS p
            WHERE {h("p", 4)} % 100 >= 2 AND {h("p", 7)} % 100 < 20 AND {h("p", 10)} % 100 < 5
            UNION ALL
            SELECT p, 4, T0 - interval '25 days', T0 - interval '30 days', 7000
            FROM generate_series(1, {npr}) AS p WHERE {h("p", 12)} % 100 < 3
        ) AS r
        ORDER BY p, n
        """,
    )
    run.step(
        "shops, items, share links",
        f"""
        INSERT INTO shops_shop (id, slug, name, pitch, avatar, status, terms_accepted_at, created_at, owner_id,
            item_count)
        SELECT s, 'shop-' || s, 'Shop ' || s, '', '',
               CASE WHEN {h("s", 13)} % 100 = 0 THEN 'suspended' WHEN {h("s", 13)} % 100 < 3 THEN 'paused'
                    ELSE 'active' END,
               T0 - interval '180 days', T0 - interval '180 days', s, 0
        FROM generate_series(1, {sk}) AS s;
        CREATE TEMP TABLE bench_item0 AS
        SELECT shop_id, product_id, (row_number() OVER (PARTITION BY shop_id ORDER BY j) - 1)::int AS k
        FROM (
            SELECT DISTINCT ON (s, product_id) s AS shop_id, product_id, j
            FROM (
                SELECT s, j, 1 + {h("s * 64 + j", 14)} % {npr} AS product_id
                FROM generate_series(1, {sk}) AS s, generate_series(0, {ITEMS_PER_SHOP - 1}) AS j
            ) AS x
            ORDER BY s, product_id, j
        ) AS y;
        CREATE TEMP TABLE bench_item AS
        SELECT shop_id, product_id, k, row_number() OVER (ORDER BY shop_id, k) AS id,
               {sk} + row_number() OVER (ORDER BY shop_id, k) AS link_id
        FROM bench_item0;
        CREATE INDEX ON bench_item (shop_id, k);
        ANALYZE bench_item;
        INSERT INTO shops_shopitem (id, recommendation, position, added_at, product_id, shop_id)
        SELECT id, '', k, T0 - interval '170 days', product_id, shop_id FROM bench_item ORDER BY id;
        UPDATE shops_shop SET item_count = n FROM (SELECT shop_id, count(*) AS n FROM bench_item GROUP BY 1) AS c
        WHERE c.shop_id = shops_shop.id;
        CREATE TEMP TABLE bench_shop AS
        SELECT id AS shop_id, item_count AS n FROM shops_shop;
        ALTER TABLE bench_shop ADD PRIMARY KEY (shop_id);
        INSERT INTO attribution_sharelink (id, code, kind, click_count, created_at, product_id, shop_id)
        SELECT s, 'S' || lpad(s::text, 7, '0'), 'shop', 0, T0 - interval '170 days', NULL, s
        FROM generate_series(1, {sk}) AS s;
        INSERT INTO attribution_sharelink (id, code, kind, click_count, created_at, product_id, shop_id)
        SELECT link_id, 'P' || lpad(link_id::text, 7, '0'), 'product', 0, T0 - interval '170 days',
               product_id, shop_id
        FROM bench_item ORDER BY link_id
        """,
    )
    base = sizes.clicks - sizes.clicks // 20
    dups = sizes.clicks - base
    # Who clicks: kind < 30 bot, < 150 anonymous, < 180 a shopkeeper's own account, else a buyer.
    run.step(
        f"clicks ({sizes.clicks:,})",
        f"""
        CREATE TEMP TABLE bench_click_plan AS
        SELECT i, kind, who,
               -- rings: a buyer on a shopkeeper's device and IP, clicking that shop half the time
               CASE WHEN who > {sk} AND who % 211 = 0 THEN 1 + who % {sk} ELSE who END AS device_of,
               CASE WHEN who > {sk} AND who % 211 = 0 AND {h("i", 15)} % 2 = 0 THEN 1 + who % {sk}
                    ELSE 1 + {h("i", 16)} % {sk} END AS shop_id,
               {h("i", 17)} % 10 < 3 AS via_shop_link,
               {h("i", 18)} AS pick,
               T0 - interval '40 days' + {u("i", 19)} * interval '30 days' AS created_at
        FROM (
            SELECT i, {h("i", 20)} % 1000 AS kind,
                   CASE WHEN {h("i", 20)} % 1000 < 150 THEN NULL
                        WHEN {h("i", 20)} % 1000 < 180 THEN 1 + {h("i", 21)} % {sk}
                        ELSE {sk} + 1 + {h("i", 21)} % {nb} END AS who
            FROM generate_series(1, {base}) AS i
        ) AS x;
        INSERT INTO attribution_click (id, visitor_key, ip_hash, user_agent, is_bot, is_duplicate, created_at,
            product_id, shop_id, user_id, link_id)
        SELECT c.i,
               CASE WHEN c.kind < 30 THEN 'bot' || lpad(c.i::text, 13, '0')
                    WHEN c.kind < 150 THEN 'anon' || lpad(c.i::text, 12, '0')
                    ELSE 'dev' || lpad(c.device_of::text, 13, '0') END,
               CASE WHEN c.kind < 150 THEN 'ip-anon-' || (c.i % 50000)
                    ELSE 'ip-' || c.device_of END,
               CASE WHEN c.kind < 30 THEN 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'
                    ELSE 'Mozilla/5.0 (X11; Linux x86_64) bench' END,
               c.kind < 30, false, c.created_at,
               bi.product_id, c.shop_id, CASE WHEN c.kind >= 30 THEN c.who END,
               COALESCE(bi.link_id, c.shop_id)
        FROM bench_click_plan AS c
        JOIN bench_shop AS bs ON bs.shop_id = c.shop_id
        LEFT JOIN bench_item AS bi ON NOT c.via_shop_link AND bi.shop_id = c.shop_id AND bi.k = c.pick % bs.n;
        INSERT INTO attribution_click (id, visitor_key, ip_hash, user_agent, is_bot, is_duplicate, created_at,
            product_id, shop_id, user_id, link_id)
        SELECT {base} + row_number() OVER (ORDER BY id), visitor_key, ip_hash, user_agent, false, true,
               created_at + (1 + {h("id", 22)} % 25) * interval '1 minute', product_id, shop_id, user_id, link_id
        FROM (
            SELECT * FROM attribution_click WHERE NOT is_bot AND user_id IS NOT NULL AND {h("id", 23)} % 15 = 0
            ORDER BY id LIMIT {dups}
        ) AS d;
        UPDATE attribution_sharelink SET click_count = n
        FROM (SELECT link_id, count(*) AS n FROM attribution_click WHERE NOT is_bot AND NOT is_duplicate
              GROUP BY 1) AS c
        WHERE c.link_id = attribution_sharelink.id
        """,
    )
    # Enough orders for lines + sample after de-duplicating products within an order.
    seeded_per_mille = 190
    organic = 50_000 * sizes.lines // 1_000_000
    own = 5_000 * sizes.lines // 1_000_000
    run.step(
        "orders plan",
        f"""
        CREATE TEMP TABLE bench_order_plan AS
        SELECT row_number() OVER (ORDER BY placed_at, src, ref) AS oid, *
        FROM (
            SELECT 'click' AS src, id AS ref, user_id AS buyer, shop_id AS seed_shop, product_id AS seed_product,
                   least(created_at + {u("id", 24)} * interval '9 days', T0 - interval '10 days') AS placed_at
            FROM attribution_click
            WHERE id <= {base} AND NOT is_bot AND user_id IS NOT NULL AND {h("id", 25)} % 1000 < {seeded_per_mille}
            UNION ALL
            SELECT 'organic', j, {sk} + 1 + {h("j", 26)} % {nb}, NULL, NULL,
                   T0 - interval '40 days' + {u("j", 27)} * interval '30 days'
            FROM generate_series(1, {organic}) AS j
            UNION ALL
            SELECT 'own', j, 1 + {h("j", 28)} % {sk}, NULL, NULL,
                   T0 - interval '40 days' + {u("j", 29)} * interval '30 days'
            FROM generate_series(1, {own}) AS j
        ) AS o;
        UPDATE bench_order_plan SET seed_shop = buyer WHERE src = 'own';
        CREATE TEMP TABLE bench_line_plan AS
        SELECT DISTINCT ON (oid, product_id) oid, j, product_id
        FROM (
            SELECT o.oid, g.j,
                   CASE WHEN g.j = 1 AND o.seed_product IS NOT NULL THEN o.seed_product
                        WHEN o.seed_shop IS NOT NULL AND (g.j = 1 OR {h("o.oid * 8 + g.j", 30)} % 2 = 0)
                        THEN bi.product_id
                        ELSE 1 + {h("o.oid * 8 + g.j", 31)} % {npr} END AS product_id
            FROM bench_order_plan AS o
            CROSS JOIN LATERAL generate_series(1, 1 + {h("o.oid", 32)} % 5) AS g(j)
            LEFT JOIN bench_shop AS bs ON bs.shop_id = o.seed_shop
            LEFT JOIN bench_item AS bi ON bi.shop_id = o.seed_shop AND bi.k = {h("o.oid * 8 + g.j", 33)} % bs.n
        ) AS x
        ORDER BY oid, product_id, j;
        -- The naive loop's sample: random whole orders, about `sample` lines.
        CREATE TABLE bench_sample_order AS
        SELECT oid AS order_id FROM (
            SELECT oid, sum(n) OVER (ORDER BY {h("oid", 34)}, oid) AS upto
            FROM (SELECT oid, count(*) AS n FROM bench_line_plan GROUP BY oid) AS c
        ) AS s WHERE upto <= {sizes.sample};
        ALTER TABLE bench_sample_order ADD PRIMARY KEY (order_id);
        -- Exactly `lines` lines outside the sample (the last order may lose some).
        DELETE FROM bench_line_plan AS l USING (
            SELECT oid, j FROM (
                SELECT oid, j, row_number() OVER (ORDER BY oid, j) AS n FROM bench_line_plan
                WHERE oid NOT IN (SELECT order_id FROM bench_sample_order)
            ) AS r WHERE n > {sizes.lines}
        ) AS extra
        WHERE l.oid = extra.oid AND l.j = extra.j;
        DELETE FROM bench_order_plan WHERE oid NOT IN (SELECT oid FROM bench_line_plan)
        """,
    )
    rhd = "(({x}) / 10000 + CASE WHEN 2 * (({x}) % 10000) > 10000 THEN 1 ELSE 0 END)"
    fee0 = rhd.format(x=f"paid * {PLATFORM_FEE_BPS}")
    run.step(
        "orders, lines, checkouts, returns",
        f"""
        CREATE TEMP TABLE bench_line AS
        SELECT row_number() OVER (ORDER BY l.oid, l.j) AS id, l.oid, l.j, l.product_id, p.price AS unit_price,
               p.merchant_id,
               q.quantity, q.discount, p.price * q.quantity - q.discount AS paid
        FROM bench_line_plan AS l
        JOIN bench_product AS p ON p.p = l.product_id
        CROSS JOIN LATERAL (
            SELECT CASE WHEN {h("l.oid * 8 + l.j", 35)} % 10 = 0 THEN 2
                        WHEN {h("l.oid * 8 + l.j", 35)} % 25 = 1 THEN 3 ELSE 1 END AS quantity,
                   CASE WHEN {h("l.oid * 8 + l.j", 36)} % 10 = 0
                        THEN p.price * (CASE WHEN {h("l.oid * 8 + l.j", 35)} % 10 = 0 THEN 2 ELSE 1 END) / 20
                        ELSE 0 END AS discount
        ) AS q;
        ALTER TABLE bench_line ADD COLUMN fee bigint;
        UPDATE bench_line SET fee = {fee0};
        CREATE TEMP TABLE bench_order AS
        SELECT o.oid, o.buyer, o.placed_at,
               (array_agg(l.merchant_id ORDER BY l.j))[1] AS merchant_id,
               sum(l.unit_price * l.quantity) AS goods, sum(l.discount) AS discount, sum(l.fee) AS fee,
               CASE WHEN {h("o.oid", 37)} % 1000 < 10 THEN 'shipped'
                    WHEN {h("o.oid", 37)} % 1000 < 15 THEN 'completed' ELSE 'delivered' END AS status,
               o.placed_at + interval '1 day' + {u("o.oid", 38)} * interval '1 day' AS delivered_at
        FROM bench_order_plan AS o JOIN bench_line AS l ON l.oid = o.oid
        GROUP BY o.oid, o.buyer, o.placed_at;
        INSERT INTO orders_checkout (id, currency, goods_total, shipping_total, discount_total, total, coupon_code,
            status, intent_id, expires_at, created_at, paid_at, closed_at, buyer_id)
        SELECT oid, '{CURRENCY}', goods, CASE WHEN goods >= 9900 THEN 0 ELSE 800 END, discount,
               goods - discount + CASE WHEN goods >= 9900 THEN 0 ELSE 800 END, '', 'paid', NULL,
               placed_at + interval '30 minutes', placed_at, placed_at + interval '2 minutes', NULL, buyer
        FROM bench_order ORDER BY oid;
        INSERT INTO orders_order (id, address, status, currency, goods_total, shipping_total, discount_total, total,
            platform_fee, placed_at, paid_at, shipped_at, carrier, tracking_number, delivered_at, completed_at,
            cancelled_at, buyer_id, checkout_id, merchant_id)
        SELECT oid, '{{}}'::jsonb, status, '{CURRENCY}', goods, CASE WHEN goods >= 9900 THEN 0 ELSE 800 END,
               discount, goods - discount + CASE WHEN goods >= 9900 THEN 0 ELSE 800 END, fee, placed_at,
               placed_at + interval '2 minutes', placed_at + interval '12 hours', 'SF', 'SF' || oid,
               CASE WHEN status <> 'shipped' THEN delivered_at END,
               CASE WHEN status = 'completed' THEN delivered_at + interval '7 days' END,
               NULL, buyer, oid, merchant_id
        FROM bench_order ORDER BY oid;
        INSERT INTO orders_orderline (id, product_title, sku_label, unit_price, quantity, discount_amount,
            paid_amount, platform_fee, refunded_amount, refunded_quantity, order_id, product_id, sku_id,
            attributed_shop_id, attributed_shopkeeper_id, attribution_click_id, attribution_held,
            attribution_hold_reason, attribution_rule, commission_rate_bps, member_discount, platform_discount)
        SELECT id, 'Product ' || product_id, '', unit_price, quantity, discount, paid, fee, 0, 0, oid, product_id,
               product_id, NULL, NULL, NULL, false, '', '', 0, 0, 0
        FROM bench_line ORDER BY id;
        INSERT INTO orders_returnrequest (kind, status, currency, reason, reject_reason, carrier, tracking_number,
            refund_amount, shipping_refund, platform_fee_reversed, payment_refund_id, form_token, created_at,
            updated_at, buyer_id, merchant_id, order_id)
        SELECT 'return', 'requested', '{CURRENCY}', 'bench', '', '', '', 0, 0, 0, NULL, '',
               delivered_at + interval '1 day', delivered_at + interval '1 day', buyer, merchant_id, oid
        FROM bench_order WHERE status = 'delivered' AND {h("oid", 39)} % 1000 < 3
        """,
    )
    run.sql("SET session_replication_role = DEFAULT")
    run.restore_indexes(indexes)
    for table in (
        "accounts_user",
        "merchants_merchant",
        "catalog_category",
        "catalog_product",
        "catalog_sku",
        "shops_commissionrate",
        "shops_shop",
        "shops_shopitem",
        "attribution_sharelink",
        "attribution_click",
        "orders_checkout",
        "orders_order",
        "orders_orderline",
        "orders_returnrequest",
    ):
        run.sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    run.timings["check references"] = check_references(cursor)
    run.sql("RESET work_mem")
    return run.timings


FOREIGN_KEYS = [
    ("attribution_click", "link_id", "attribution_sharelink"),
    ("attribution_click", "shop_id", "shops_shop"),
    ("attribution_click", "user_id", "accounts_user"),
    ("attribution_click", "product_id", "catalog_product"),
    ("orders_orderline", "order_id", "orders_order"),
    ("orders_orderline", "product_id", "catalog_product"),
    ("orders_order", "buyer_id", "accounts_user"),
    ("orders_order", "checkout_id", "orders_checkout"),
    ("orders_order", "merchant_id", "merchants_merchant"),
    ("shops_shopitem", "product_id", "catalog_product"),
    ("accounts_user", "invited_by_id", "accounts_user"),
]


def check_references(cursor: object) -> float:
    """The foreign keys skipped while loading hold (bench.sqlload.check_references)."""
    return sqlload.check_references(cursor, FOREIGN_KEYS)


class _Runner:
    def __init__(self, cursor: object, t0: datetime, log: Callable[[str], None]) -> None:
        self.cursor = cursor
        self.t0 = t0
        self.log = log
        self.timings: dict[str, float] = {}

    def sql(self, statement: str) -> None:
        literal = f"'{self.t0.isoformat()}'::timestamptz"
        self.cursor.execute(statement.replace("T0", literal))  # type: ignore[attr-defined]

    def step(self, name: str, statements: str) -> None:
        start = time.perf_counter()
        for statement in statements.split(";\n"):
            if statement.strip():
                self.sql(statement)
        self.timings[name] = time.perf_counter() - start
        self.log(f"  load {name}: {self.timings[name]:.1f} s")

    def drop_secondary_indexes(self, tables: list[str]) -> list[str]:
        """Drop the indexes that back no constraint; return their definitions."""
        self.cursor.execute(  # type: ignore[attr-defined]
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index AS i
            WHERE i.indrelid = ANY(%s::regclass[])
              AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)
            """,
            [tables],
        )
        rows = self.cursor.fetchall()  # type: ignore[attr-defined]
        for name, _definition in rows:
            self.sql(f'DROP INDEX "{name}"')
        return [definition for _name, definition in rows]

    def restore_indexes(self, definitions: list[str]) -> None:
        start = time.perf_counter()
        for definition in definitions:
            self.sql(definition)
        self.timings["rebuild indexes"] = time.perf_counter() - start
        self.log(f"  load rebuild {len(definitions)} indexes: {self.timings['rebuild indexes']:.1f} s")
