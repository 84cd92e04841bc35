"""What the writer half of batched placement would cost per order: the real placement code, many
buyers' orders per transaction, no HTTP, no concurrency.

    .venv/bin/python -m bench.flash_sale.batched_write [--orders 500] [--batch 1 --batch 10 --batch 100]

Needs the database seeded by bench/flash_sale/run.py (it reuses its buyers: run that first; it
empties the order tables afterwards, as run.py does before each trial). For each batch size it
places `--orders` orders of one unit with the same steps as `checkout_place` (address, the plan
read, attribution, `_checkout_write`: the four INSERTs and the reserving UPDATE) but commits once per
batch, and prints the CPU milliseconds per order of this process (Python) and of its PostgreSQL
backend (read from /proc). Each order still runs its own statements ("real").

`--merged` adds a sketch of a writer that merges a batch's statements: one plan read, one address
read and one INSERT per table for the whole batch (the same rows `_checkout_write` builds, for the
case of a flash sale: one SKU, no coupon, no cart, no member price) and one reserving UPDATE; the
attribution check stays one call per buyer. It is the order of magnitude of what generalising
`_checkout_write` to many buyers would cost, not production code. Together with the "lane" side of
run.py (the admission half) it bounds what a flash-sale lane could reach end to end on this machine.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from datetime import timedelta
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
    parser.add_argument("--merged", action="store_true", help="also run the merged-statements sketch")
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
    from grassroots.catalog.stock import stock_reserve
    from grassroots.commissions.services import NO_ATTRIBUTION, checkout_attribution
    from grassroots.core.rawsql import insert_rows
    from grassroots.orders.models import Address, Checkout, Order, OrderLine, OrderStatusChange
    from grassroots.orders.services.checkout import _checkout_write, _order_line, checkout_plan
    from grassroots.orders.services.common import orders_setting

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

    def place_merged(batch: list[User]) -> None:
        now = timezone.now()
        expires_at = now + timedelta(minutes=orders_setting("ORDER_PAYMENT_TIMEOUT_MINUTES"))
        plan = checkout_plan(items=[(sku.pk, 1)])
        group = plan.groups[0]
        ((line_sku, quantity),) = group.lines
        owned = {a.owner_id: a for a in Address.objects.filter(owner__in=batch)}
        snapshots = [owned[buyer.pk].snapshot() for buyer in batch]
        attributions = [
            checkout_attribution(
                buyer=buyer, visitor_key=None, product_ids=[sku.product_id], address=snapshot, at=now
            ).get(sku.product_id, NO_ATTRIBUTION)
            for buyer, snapshot in zip(batch, snapshots, strict=True)
        ]
        checkouts = [
            Checkout(
                buyer=buyer,
                currency=plan.currency,
                goods_total=plan.goods_total,
                shipping_total=plan.shipping_total,
                total=plan.total,
                expires_at=expires_at,
            )
            for buyer in batch
        ]
        insert_rows(checkouts)
        orders = [
            Order(
                checkout=checkout,
                merchant=group.merchant,
                buyer=buyer,
                address=snapshot,
                currency=plan.currency,
                goods_total=group.goods_total,
                shipping_total=group.shipping_total,
                total=group.total,
                placed_at=now,
            )
            for checkout, buyer, snapshot in zip(checkouts, batch, snapshots, strict=True)
        ]
        insert_rows(orders)
        insert_rows(
            [
                _order_line(
                    order=order,
                    sku=line_sku,
                    quantity=quantity,
                    coupon_discount=0,
                    platform_funded=False,
                    member=0,
                    attribution=attribution,
                )
                for order, attribution in zip(orders, attributions, strict=True)
            ]
        )
        insert_rows(
            [
                OrderStatusChange(order=order, from_status="", to_status=order.status, action="place", actor=buyer)
                for order, buyer in zip(orders, batch, strict=True)
            ]
        )
        stock_reserve(lines={sku.pk: quantity * len(batch)})

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = int(cursor.fetchone()[0])
    print(f"{args.orders} orders of one unit per batch size; CPU ms per order (this process + its PostgreSQL backend)")

    def place_each(batch: list[User]) -> None:
        for buyer in batch:
            place(buyer)

    writers = [("real", place_each), *([("merged", place_merged)] if args.merged else [])]
    for (name, writer), batch in itertools.product(writers, args.batch or [1, 10, 100]):
        reset()
        with transaction.atomic():
            writer(buyers[:batch])  # warm up the statement caches
        reset()
        chosen = buyers[: args.orders]
        cpu, pg, wall = time.process_time(), backend_cpu_s(backend), time.perf_counter()
        for start in range(0, len(chosen), batch):
            with transaction.atomic():
                writer(chosen[start : start + batch])
        cpu, pg = time.process_time() - cpu, backend_cpu_s(backend) - pg
        wall = time.perf_counter() - wall
        assert Order.objects.count() == args.orders
        assert OrderLine.objects.count() == args.orders
        sku.refresh_from_db()
        assert (sku.stock, sku.reserved) == (0, args.orders)
        per = 1000 / args.orders
        print(
            f"  {name:<6} batch {batch:>4}: Python {cpu * per:.2f} + PostgreSQL {pg * per:.2f} = "
            f"{(cpu + pg) * per:.2f} ms; {args.orders / wall:.0f} orders/s on one connection"
        )
    reset()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
