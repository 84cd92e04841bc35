"""Small helpers for the few hot paths written as SQL (a feed page, placing an order), identical on
PostgreSQL and SQLite.

The ORM converts values both ways; a raw cursor does not: datetimes go in through
`datetime_param` (SQLite stores naive UTC text) and come out through `datetime_value` (SQLite gives
naive UTC datetimes or text), booleans come out as 0/1 on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence, Sized
from datetime import UTC, datetime
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field, Model
from django.utils.dateparse import parse_datetime


def placeholders(values: Sized) -> str:
    """`%s, %s, ...`, one per value (for IN lists; the values are bound, never formatted in)."""
    return ", ".join(["%s"] * len(values))


def datetime_param(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def datetime_value(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            raise ValueError(f"not a datetime: {value!r}")
        value = parsed
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def before_key(moment_column: str, id_column: str, key: tuple[datetime, int]) -> tuple[str, list[Any]]:
    """` AND` condition for keyset pagination, newest first: rows strictly before (moment, id)."""
    moment = datetime_param(key[0])
    return f" AND ({moment_column} < %s OR ({moment_column} = %s AND {id_column} < %s))", [moment, moment, key[1]]


@cache
def _insert_sql(model: type[Model], rows: int, vendor: str) -> tuple[str, list[Field[Any, Any]]]:
    primary_key = model._meta.pk
    if primary_key is None or not getattr(primary_key, "db_returning", False):
        raise TypeError(f"insert_rows needs an auto primary key; {model.__name__} has none")
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    row = f"({placeholders(fields)})"
    # Names from the model's metadata; values are bound as %s.
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(str(f.column)) for f in fields)}) "  # noqa: S608
        f"VALUES {', '.join([row] * rows)} RETURNING {quote(str(primary_key.column))}"
    )
    return sql, fields


def insert_rows(objs: Sequence[Model]) -> None:
    """INSERT new instances of one model in one statement and set their primary keys: what
    `bulk_create` does for a model with an auto primary key (each field's `pre_save`, e.g. auto_now_add,
    and `get_db_prep_save`, so values are stored exactly as the ORM would), without rebuilding the
    statement through the SQL compiler on every call, which costs more CPU than the database's work
    on a hot path (docs/benchmarks.md, "Flash sale"). For the few rows of one request."""
    if not objs:
        return
    sql, fields = _insert_sql(type(objs[0]), len(objs), connection.vendor)
    params: list[Any] = []
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="insert_rows")  # type: ignore[attr-defined]
        params.extend(field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pks = [row[0] for row in cursor.fetchall()]
    for obj, pk in zip(objs, pks, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
