"""Where one checkout's CPU goes: sequential requests in-process, no concurrency, no HTTP server.

    .venv/bin/python -m bench.flash_sale.profile_checkout [--kind ours|naive] [-n 200]

Needs the database seeded by bench/flash_sale/run.py (it reuses its buyers: run that first). For the
chosen endpoint it prints the SQL statements of one request, the CPU milliseconds per request
(process time, no profiler) and a cProfile breakdown (process time) of the named steps, which
inflates every step by a similar factor, so read the shares, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.flash_sale.run import DATA_DIR, DEFAULT_DATABASE_URL, KINDS  # noqa: E402

# (label, file suffix, function name) of the steps worth naming; cumulative time of each.
STEPS = [
    ("whole request (test client)", "django/test/client.py", "request"),
    ("ninja view incl. auth + parsing", "ninja/operation.py", "run"),
    ("  token auth (1 query)", "grassroots/core/api_auth.py", "_authenticate"),
    ("  idempotent() incl. run()", "grassroots/core/idempotency.py", "idempotent"),
    ("    claim (own transaction)", "grassroots/core/idempotency.py", "_claim"),
    ("    checkout_place", "grassroots/orders/services/checkout.py", "checkout_place"),
    ("      owned_address", "grassroots/orders/services/addresses.py", "owned_address"),
    (
        "      checkout_plan (SKU, product, merchant, shipping: 1 read)",
        "grassroots/orders/services/checkout.py",
        "checkout_plan",
    ),
    ("      checkout_attribution", "grassroots/commissions/services.py", "checkout_attribution"),
    (
        "      _checkout_write (inserts, then the reservation)",
        "grassroots/orders/services/checkout.py",
        "_checkout_write",
    ),
    ("        stock_reserve (one conditional UPDATE)", "grassroots/catalog/stock.py", "stock_reserve"),
    ("    checkout_for_buyer (read back; no longer called)", "grassroots/orders/selectors.py", "checkout_for_buyer"),
    ("    _checkout_out (response schema)", "grassroots/orders/api.py", "_checkout_out"),
    ("  naive view", "bench/flash_sale/naive_app.py", "naive_checkout"),
    ("psycopg execute (all queries)", "psycopg/cursor.py", "execute"),
    ("Django SQL compile (as_sql)", "django/db/models/sql/compiler.py", "as_sql"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=["ours", "naive"], default="ours")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--top", type=int, default=0, help="also print the N functions with most cumulative time")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    args = parser.parse_args()
    os.environ.update(
        DATABASE_URL=args.database_url, DJANGO_SETTINGS_MODULE=KINDS[args.kind].settings, GRASSROOTS_DATA_DIR=DATA_DIR
    )
    import django

    django.setup()
    from django.db import connection
    from django.db.models import F
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from grassroots.accounts.models import ApiToken, User
    from grassroots.accounts.services import api_token_create
    from grassroots.catalog.models import Sku
    from grassroots.orders.models import Address

    sku = Sku.objects.get(code="TEA-1")
    needed = 2 * args.n + 21
    Sku.objects.filter(pk=sku.pk).update(stock=F("stock") + needed)
    users = list(
        User.objects.filter(email__endswith="@bench.local", addresses__isnull=False).distinct().order_by("pk")[:needed]
    )
    if len(users) < needed:
        raise SystemExit(f"need {needed} seeded buyers; run bench/flash_sale/run.py with --buyers {needed} first")
    buyers = [(api_token_create(user=u, name="profile")[1], Address.objects.filter(owner=u).first()) for u in users]
    ApiToken.objects.update(last_used_at=timezone.now())
    client = Client()
    path = KINDS[args.kind].path

    def one(token: str, address: Any) -> int:
        body = {"address_id": address.pk, "items": [{"sku_id": sku.pk, "quantity": 1}]}
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
        return int(
            client.post(path, data=json.dumps(body), content_type="application/json", headers=headers).status_code
        )

    for token, address in buyers[:20]:  # warm up
        assert one(token, address) == 201
    with CaptureQueriesContext(connection) as queries:
        assert one(*buyers[20]) == 201
    print(f"{args.kind}: {len(queries.captured_queries)} SQL statements per checkout:")
    for query in queries.captured_queries:
        print("   ", query["sql"][:110])

    timed = buyers[21 : 21 + args.n]
    cpu, wall = time.process_time(), time.perf_counter()
    for token, address in timed:
        one(token, address)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"\nsequential, in-process: {cpu / len(timed) * 1000:.2f} CPU ms and {wall / len(timed) * 1000:.2f} ms wall")
    print("per checkout (Python side only; PostgreSQL's CPU is not in it)\n")

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for token, address in buyers[21 + args.n :]:
        one(token, address)
    profiler.disable()
    if args.top:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]

    def cumulative(suffix: str, function: str) -> float:
        times = [
            ct for (file, _l, name), (_c, _n, _t, ct, _s) in stats.items() if name == function and file.endswith(suffix)
        ]
        return max(times, default=0.0)

    total = cumulative(STEPS[0][1], STEPS[0][2])
    print(f"cProfile (process time), share of the whole request, over {len(buyers) - 21 - args.n} checkouts:")
    for label, suffix, function in STEPS:
        if total and (spent := cumulative(suffix, function)):
            print(f"  {100 * spent / total:5.1f}%  {label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
