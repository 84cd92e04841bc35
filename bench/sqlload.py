"""Pieces the bulk loaders of the benchmarks share (bench/feed/load.py, bench/settlement/load.py)."""

from __future__ import annotations

import time
from collections.abc import Sequence


def h(expr: str, salt: int) -> str:
    """A deterministic pseudo-random non-negative int4 from an integer expression and a salt < 1009."""
    return f"(hashint8(({expr})::bigint * 1009 + {salt}) & 2147483647)"


def check_references(cursor: object, foreign_keys: Sequence[tuple[str, str, str]]) -> float:
    """The foreign keys skipped while loading (session_replication_role) hold: one anti-join each of
    (table, column, target table). Returns the seconds it took."""
    start = time.perf_counter()
    for table, column, target in foreign_keys:
        cursor.execute(  # type: ignore[attr-defined]
            f"SELECT count(*) FROM {table} AS a WHERE a.{column} IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {target} AS b WHERE b.id = a.{column})"
        )
        (broken,) = cursor.fetchone()  # type: ignore[attr-defined]
        if broken:
            raise SystemExit(f"load bug: {broken} rows of {table}.{column} point nowhere")
    return time.perf_counter() - start
