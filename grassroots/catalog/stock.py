"""The only code that changes Sku.stock, Sku.reserved and Sku.sold.

stock (free) -> reserved (held by an unpaid order) -> sold (paid, not returned). Every change is one
conditional UPDATE for all SKUs involved, whatever their number, and the matched row count must
equal the number of SKUs, or the function raises and the caller's atomic block rolls back, so
nothing changed (every move must run inside transaction.atomic()). The condition is on the target
row itself (no join), so PostgreSQL re-checks it against the latest committed row after waiting for
a lock.

Reserving (the checkout's hot path, see docs/benchmarks.md "Flash sale") is one statement and takes
no lock before it: for one SKU

    UPDATE sku SET stock = stock - 2, reserved = reserved + 2
    WHERE id = 7 AND stock >= 2 AND is_active AND product_id IN (SELECT id FROM product WHERE is_listed)

The UPDATE takes the row lock itself, so a caller that runs it as the last statement before COMMIT
holds the SKU row for that statement and the COMMIT only. For several SKUs the same UPDATE uses
`CASE id WHEN 7 THEN 2 ... END`, and on PostgreSQL its rows come from a materialised CTE that locks
them in ascending id order (`FOR NO KEY UPDATE`, the lock an UPDATE takes), so two multi-SKU
reservations can never deadlock. On SQLite writers are serialised by the database (IMMEDIATE
transactions), so no lock is needed. The other moves (release, commit, return) lock their rows in
ascending id order first, then run the CASE UPDATE.

stock + reserved + sold only changes through `stock_set` (a merchant stating how many free units there are).
"""

# SQL here interpolates only table and column names from model metadata and %s placeholders.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils.translation import gettext as _

from grassroots.catalog.models import Product, Sku
from grassroots.core.errors import Conflict, ValidationFailed

MAX_SKUS_PER_CALL = 200


class OutOfStock(Conflict):
    code = "out_of_stock"


class StockInvariantBroken(RuntimeError):
    """Releasing or committing more than is held: a bug, never a user error."""


def merge_lines(lines: Iterable[tuple[int, int]]) -> dict[int, int]:
    """(sku_id, quantity) pairs -> {sku_id: total quantity}, ascending by id."""
    merged: dict[int, int] = {}
    for sku_id, quantity in lines:
        merged[int(sku_id)] = merged.get(int(sku_id), 0) + int(quantity)
    return dict(sorted(merged.items()))


def _checked(lines: Mapping[int, int]) -> dict[int, int]:
    merged = dict(sorted((int(k), int(v)) for k, v in lines.items()))
    if len(merged) > MAX_SKUS_PER_CALL:
        raise ValidationFailed(_("Too many items at once."), code="too_many_items")
    if any(quantity <= 0 for quantity in merged.values()):
        raise ValueError("stock quantities must be positive")
    return merged


def _per_sku(lines: Mapping[int, int]) -> Case:
    return Case(
        *[When(pk=sku_id, then=Value(quantity)) for sku_id, quantity in lines.items()], output_field=IntegerField()
    )


def _lock(sku_ids: list[int]) -> None:
    """Row locks in ascending id order (PostgreSQL); SQLite already serialises writers."""
    if connection.features.has_select_for_update:
        list(
            Sku.objects.filter(pk__in=sku_ids)
            .order_by("pk")
            .select_for_update(no_key=True)
            .values_list("pk", flat=True)
        )


def _move(lines: Mapping[int, int], *, take: str, give: str, condition: Q | None = None) -> int:
    """Move each line's units from counter `take` to `give` in one UPDATE, only on rows whose `take`
    covers the line; returns the matched row count."""
    per_sku = _per_sku(lines)
    _lock(list(lines))
    return Sku.objects.filter(Q(pk__in=list(lines)) & (condition or Q()) & Q(**{f"{take}__gte": per_sku})).update(
        **{take: F(take) - per_sku, give: F(give) + per_sku}
    )


def stock_available(*, sku_ids: Iterable[int]) -> dict[int, int]:
    """Units a buyer can take now: free stock of active SKUs of listed products, else 0."""
    ids = sorted({int(i) for i in sku_ids})
    rows = Sku.objects.filter(pk__in=ids).values_list("pk", "stock", "is_active", "product__is_listed")
    found = {pk: (stock if active and listed else 0) for pk, stock, active, listed in rows}
    return {pk: found.get(pk, 0) for pk in ids}


def stock_shortages(*, lines: Mapping[int, int]) -> dict[str, int]:
    """{sku_id: units available} for every line that cannot be reserved now (OutOfStock fields)."""
    merged = _checked(lines)
    available = stock_available(sku_ids=merged)
    return {str(pk): available[pk] for pk, quantity in merged.items() if available[pk] < quantity}


def _require_atomic() -> None:
    # A failed multi-row move is undone by rolling back the caller's block; outside one, the rows
    # that did match would stay changed.
    if not connection.in_atomic_block:
        raise RuntimeError("stock moves must run inside transaction.atomic()")


def _reserve_sql(lines: Mapping[int, int]) -> tuple[str, list[Any]]:
    """The one conditional UPDATE that reserves every line (see the module docstring)."""
    quote = connection.ops.quote_name
    sku, product = quote(Sku._meta.db_table), quote(Product._meta.db_table)
    listed = f"product_id IN (SELECT id FROM {product} WHERE is_listed = %s)"
    if len(lines) == 1:
        ((sku_id, quantity),) = lines.items()
        sql = (
            f"UPDATE {sku} SET stock = stock - %s, reserved = reserved + %s "
            f"WHERE id = %s AND stock >= %s AND is_active = %s AND {listed}"
        )
        return sql, [quantity, quantity, sku_id, quantity, True, True]
    when = " ".join(["WHEN %s THEN %s"] * len(lines))
    per_sku = f"CASE id {when} ELSE 0 END"
    pairs = [value for line in lines.items() for value in line]
    ids = list(lines)
    placeholders = ", ".join(["%s"] * len(ids))
    locks = connection.vendor == "postgresql"
    # Every row the UPDATE touches comes out of this CTE, which locks them in ascending id order.
    head = (
        f"WITH locked AS MATERIALIZED (SELECT id FROM {sku} WHERE id IN ({placeholders}) "
        "ORDER BY id FOR NO KEY UPDATE) "
        if locks
        else ""
    )
    rows = "id IN (SELECT id FROM locked)" if locks else f"id IN ({placeholders})"
    sql = (
        f"{head}UPDATE {sku} SET stock = stock - {per_sku}, reserved = reserved + {per_sku} "
        f"WHERE {rows} AND stock >= {per_sku} AND is_active = %s AND {listed}"
    )
    if locks:
        return sql, [*ids, *pairs, *pairs, *pairs, True, True]
    return sql, [*pairs, *pairs, *ids, *pairs, True, True]


def stock_reserve(*, lines: Mapping[int, int]) -> None:
    """stock -> reserved for every line, only on active SKUs of listed products; one statement.

    Raises OutOfStock (409, its fields: {sku_id: units available} for every short line) when any
    line is short; let it propagate out of the caller's atomic block, which undoes the lines that
    did match.
    """
    _require_atomic()
    merged = _checked(lines)
    if not merged:
        return
    sql, params = _reserve_sql(merged)
    with connection.cursor() as cursor:
        cursor.execute(sql + " RETURNING id", params)
        matched = {int(row[0]) for row in cursor.fetchall()}
    if len(matched) != len(merged):
        # Only the lines that did not match are short. The ones that did are already taken off in
        # this transaction (the caller's rollback puts them back), so reading them now would
        # wrongly show them short too.
        short = {pk: quantity for pk, quantity in merged.items() if pk not in matched}
        raise OutOfStock(_("Some items are out of stock or short."), fields=stock_shortages(lines=short))


def _move_held(lines: Mapping[int, int], *, take: str, give: str) -> None:
    _require_atomic()
    merged = _checked(lines)
    if not merged:
        return
    matched = _move(merged, take=take, give=give)
    if matched != len(merged):
        raise StockInvariantBroken(f"{take} -> {give}: only {matched} of {len(merged)} SKUs hold enough {take}")


def stock_release(*, lines: Mapping[int, int]) -> None:
    """reserved -> stock: an unpaid order was cancelled or expired."""
    _move_held(lines, take="reserved", give="stock")


def stock_commit(*, lines: Mapping[int, int]) -> None:
    """reserved -> sold: the order was paid."""
    _move_held(lines, take="reserved", give="sold")


def stock_return(*, lines: Mapping[int, int]) -> None:
    """sold -> stock: returned units that go back on sale (after-sale)."""
    _move_held(lines, take="sold", give="stock")


STOCK_SET_ATTEMPTS = 5


def stock_set(*, sku_id: int, stock: int) -> int:
    """A merchant restocks or writes off: the SKU's free stock becomes `stock`; returns it.

    Only free stock is set: units held by orders stay in `reserved` and `sold`. The write is a
    compare-and-set against the value just read, retried when an order or another edit changed it
    in between, so two identical edits at once set the stock once instead of adding the difference
    twice. Raises DoesNotExist for a bad id, and Conflict (409 concurrent_change) if the row kept
    changing for every attempt.
    """
    for _attempt in range(STOCK_SET_ATTEMPTS):
        current = Sku.objects.values_list("stock", flat=True).get(pk=sku_id)
        if current == stock or Sku.objects.filter(pk=sku_id, stock=current).update(stock=stock) == 1:
            return stock
    raise Conflict(
        _("The stock changed while it was being saved; please try again."), code="concurrent_change", transient=True
    )
