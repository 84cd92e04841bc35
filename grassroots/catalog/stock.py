"""The only code that changes Sku.stock, Sku.reserved and Sku.sold.

stock (free) -> reserved (held by an unpaid order) -> sold (paid, not returned). Every change is one
conditional UPDATE for all SKUs involved, whatever their number:

    UPDATE sku SET stock = stock - CASE id WHEN 7 THEN 2 ... END, reserved = reserved + CASE ...
    WHERE id IN (7, ...) AND stock >= CASE id WHEN 7 THEN 2 ... END

and the matched row count must equal the number of SKUs, or the function raises and the caller's
atomic block rolls back, so nothing changed (every move must run inside transaction.atomic()).
The condition is on the target row itself (no join), so PostgreSQL re-checks it against the latest
committed row after waiting for a lock. On PostgreSQL the rows are first locked in ascending
id order, so two multi-SKU updates can never deadlock; on SQLite writers are serialised by the
database (IMMEDIATE transactions), so no lock is needed.

stock + reserved + sold only changes through `stock_adjust` (a merchant restocking or writing off).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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
        list(Sku.objects.filter(pk__in=sku_ids).order_by("pk").select_for_update().values_list("pk", flat=True))


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


def stock_reserve(*, lines: Mapping[int, int]) -> None:
    """stock -> reserved for every line, only on active SKUs of listed products.

    Raises OutOfStock (409) when any line is short; let it propagate out of the caller's atomic
    block (which undoes the lines that did match), then `stock_shortages` says what is left.
    """
    _require_atomic()
    merged = _checked(lines)
    if not merged:
        return
    listed = Product.objects.filter(is_listed=True).values("pk")
    matched = _move(merged, take="stock", give="reserved", condition=Q(is_active=True, product_id__in=listed))
    if matched != len(merged):
        raise OutOfStock(_("Some items are out of stock or short."))


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


def stock_adjust(*, sku_id: int, delta: int) -> int:
    """A merchant restocks (delta > 0) or writes off free units (delta < 0); returns the new stock.

    Only free stock can be written off: units held by orders are not the merchant's to remove.
    """
    query = Sku.objects.filter(pk=sku_id)
    if delta < 0:
        query = query.filter(stock__gte=-delta)
    if delta and query.update(stock=F("stock") + delta) != 1:
        stock = Sku.objects.values_list("stock", flat=True).get(pk=sku_id)  # DoesNotExist for a bad id
        raise OutOfStock(_("Only free stock can be removed."), fields={str(sku_id): stock})
    return int(Sku.objects.values_list("stock", flat=True).get(pk=sku_id))
