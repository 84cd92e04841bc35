"""What the writer half of batched placement would cost per order: the real placement code, many
buyers' orders per transaction, no HTTP, no concurrency.

    .venv/bin/python -m bench.flash_sale.batched_write [--orders 500] [--batch 1 --batch 10 --batch 100]

Needs the database seeded by bench/flash_sale/run.py (it reuses its buyers: run that first; it
empties the order tables afterwards, as run.py does before each trial). For each batch size it
places `--orders` orders of one unit with the same steps as `checkout_place` (address, the plan
read, attribution, `_checkout_write`: the four INSERTs and the reserving UPDATE) but commits once per
batch, and prints the CPU milliseconds per order of this process (Python) and of its PostgreSQL
backend (read from /proc). Each order still runs its own statements, so this is an upper bound for
a writer that would also merge them into multi-row INSERTs. Together with the "lane" side of run.py
(the admission half) it bounds what a flash-sale lane could reach end to end on this machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.flash_sale.run import CLK_TCK, DATA_DIR, DEFAULT_DATABASE_URL  # noqa: E402


def backend_cpu_s(pid: int) -> float:
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--batch", type=int, action="append", help="orders per transaction (repeatable)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    args = parser.parse_args()
    os.environ.update(
        DATABASE_URL=args.database_url, DJANGO_SETTINGS_MODULE="grassroots.settings", GRASSROOTS_DATA_DIR=DATA_DIR
    )
    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from grassroots.accounts.models import User
    from grassroots.catalog.models import Sku
    from grassroots.commissions.services import checkout_attribution
    from grassroots.orders.models import Address, Checkout, Order, OrderLine, OrderStatusChange
    from grassroots.orders.services.checkout import _checkout_write, checkout_plan

    sku = Sku.objects.get(code="TEA-1")
    buyers = list(User.objects.filter(email__startswith="buyer", email__endswith="@bench.local").order_by("pk"))
    if len(buyers) < args.orders:
        raise SystemExit(f"need {args.orders} seeded buyers; run bench/flash_sale/run.py first")
    addresses = {a.owner_id: a for a in Address.objects.filter(owner__in=buyers)}
    tables = [m._meta.db_table for m in (OrderStatusChange, OrderLine, Order, Checkout)]

    def reset() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
            cursor.execute(
                f"UPDATE {Sku._meta.db_table} SET stock = %s, reserved = 0, sold = 0 WHERE id = %s",
                [args.orders, sku.pk],
            )

    def place(buyer: User) -> None:
        now = timezone.now()
        plan = checkout_plan(items=[(sku.pk, 1)])
        snapshot = addresses[buyer.pk].snapshot()
        attribution = checkout_attribution(
            buyer=buyer, visitor_key=None, product_ids=[sku.product_id], address=snapshot, at=now
        )
        _checkout_write(
            buyer=buyer, plan=plan, snapshot=snapshot, cart_item_ids=[], quote=None, attribution=attribution, now=now
        )

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = int(cursor.fetchone()[0])
    print(f"{args.orders} orders of one unit per batch size; CPU ms per order (this process + its PostgreSQL backend)")
    for batch in args.batch or [1, 10, 100]:
        reset()
        with transaction.atomic():
            place(buyers[0])  # warm up the statement caches
        reset()
        chosen = buyers[: args.orders]
        cpu, pg, wall = time.process_time(), backend_cpu_s(backend), time.perf_counter()
        for start in range(0, len(chosen), batch):
            with transaction.atomic():
                for buyer in chosen[start : start + batch]:
                    place(buyer)
        cpu, pg = time.process_time() - cpu, backend_cpu_s(backend) - pg
        wall = time.perf_counter() - wall
        assert Order.objects.count() == args.orders
        per = 1000 / args.orders
        print(
            f"  batch {batch:>4}: Python {cpu * per:.2f} + PostgreSQL {pg * per:.2f} = {(cpu + pg) * per:.2f} ms; "
            f"{args.orders / wall:.0f} orders/s on one connection"
        )
    reset()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
