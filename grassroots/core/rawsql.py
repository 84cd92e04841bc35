"""Small helpers for the few hot paths written as SQL (a feed page, placing an order), identical on
PostgreSQL and SQLite.

The ORM converts values both ways; a raw cursor does not: datetimes go in through
`datetime_param` (SQLite stores naive UTC text) and come out through `datetime_value` (SQLite gives
naive UTC datetimes or text), booleans come out as 0/1 on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence, Sized
from datetime import UTC, datetime
from functools import cache
from typing import Any

from django.db import connection, connections
from django.db.models import Field, Model
from django.db.models.expressions import Col
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


_Converter = Callable[[Any, Any, Any], Any]


@cache
def _model_columns(model: type[Model], alias: str) -> tuple[list[str], list[str], list[tuple[Col, list[_Converter]]]]:
    conn = connections[alias]
    fields = model._meta.concrete_fields
    converters = []
    for field in fields:
        col = field.get_col(model._meta.db_table)
        converters.append((col, [*conn.ops.get_db_converters(col), *col.get_db_converters(conn)]))
    return [field.attname for field in fields], [str(field.column) for field in fields], converters


def model_columns(model: type[Model], table_alias: str) -> str:
    """`alias."col", ...` for every concrete column of `model`, in the order `model_from_row` reads."""
    quote = connection.ops.quote_name
    return ", ".join(f"{table_alias}.{quote(column)}" for column in _model_columns(model, connection.alias)[1])


def model_from_row(model: type[Model], row: Sequence[Any], start: int = 0) -> tuple[Any, int]:
    """The instance whose `model_columns` start at row[start], converted as the ORM would have loaded
    it, and the index after its columns: several models can share one row of a join."""
    attnames, _columns, converters = _model_columns(model, connection.alias)
    values = []
    for offset, (col, functions) in enumerate(converters):
        value = row[start + offset]
        for function in functions:
            value = function(value, col, connection)
        values.append(value)
    return model.from_db(connection.alias, attnames, values), start + len(converters)
