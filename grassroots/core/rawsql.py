"""Small helpers for the few hot reads written as SQL (a feed page), identical on PostgreSQL and SQLite.

The ORM converts values both ways; a raw cursor does not: datetimes go in through
`datetime_param` (SQLite stores naive UTC text) and come out through `datetime_value` (SQLite gives
naive UTC datetimes or text), booleans come out as 0/1 on SQLite.
"""

from __future__ import annotations

from collections.abc import Sized
from datetime import UTC, datetime
from typing import Any

from django.db import connection
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
