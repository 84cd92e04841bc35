"""The set-based path, as the application runs it: nothing here but timing around the app's services.

Phase 1, attribute: `grassroots.commissions.backfill.commissions_attribute_backlog` attributes every
paid line without an attribution snapshot and books its commission in one transaction (one query
decides attribution, rate, hold, override and split for every line; UPDATE ... FROM writes the
snapshot onto OrderLine and Order; INSERT ... SELECT the commission lines; one balanced accrual entry
per shopkeeper through `grassroots.ledger.services.journal_entries_post_many`). With `--workers N`
the bench runs N of them at once, each on its shard of the orders (`shard=(i, N)`), as an operator
would with `manage.py commissions_backfill --shard i/N`.

Phase 2, settle: `grassroots.commissions.services.commissions_settle_due`, the service cron runs:
due lines claimed in chunks by conditional UPDATEs, one entry per beneficiary and currency per chunk,
all of a chunk's entries written by one journal_entries_post_many. With `--settle-workers N` the
bench runs N of them at once, each on its shard of the shopkeepers (`shard=(i, N)`), as an operator
would with `manage.py settle_commissions --shard i/N`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from grassroots.commissions.backfill import BacklogRules

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Rules:
    window_days: int
    fee_bps: int
    override_bps: int
    return_window_days: int

    @property
    def backlog(self) -> BacklogRules:
        return BacklogRules(window_days=self.window_days, fee_bps=self.fee_bps, override_bps=self.override_bps)


def rules_from_settings() -> Rules:
    from grassroots.commissions.backfill import backlog_rules
    from grassroots.commissions.services import commissions_setting

    backlog = backlog_rules()
    return Rules(
        window_days=backlog.window_days,
        fee_bps=backlog.fee_bps,
        override_bps=backlog.override_bps,
        return_window_days=commissions_setting("RETURN_WINDOW_DAYS"),
    )


@dataclass
class PhaseResult:
    seconds: float
    steps: dict[str, float]  # wall seconds per step, as the service reports them
    cpu: dict[str, float]  # backend CPU seconds of the phase
    counts: dict[str, int]
    settlement_ids: list[int | None] = field(default_factory=list)


def backend_cpu(pid: int) -> float:
    """User + system CPU seconds of a local PostgreSQL backend, from /proc (0 if not readable)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _pid(connection: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def attribute(connection: Any, *, rules: Rules, now: datetime, partition: tuple[int, int] = (0, 1)) -> PhaseResult:
    """Phase 1 for every line without a snapshot, or for worker i of n its shard of the orders."""
    from grassroots.commissions.backfill import commissions_attribute_backlog

    pid = _pid(connection)
    start, cpu = time.perf_counter(), backend_cpu(pid)
    result = commissions_attribute_backlog(shard=partition, rules=rules.backlog)
    seconds = time.perf_counter() - start
    steps = dict(result.seconds)
    steps["commit"] = max(seconds - sum(steps.values()), 0.0)
    return PhaseResult(
        seconds,
        steps,
        {"phase": backend_cpu(pid) - cpu},
        {
            "lines": result.lines,
            "commission_lines": result.commission_lines,
            "accrual_entries": result.entries,
            "skipped": result.skipped,
        },
    )


def settle(connection: Any, *, now: datetime, partition: tuple[int, int] = (0, 1)) -> PhaseResult:
    """Phase 2: commissions_settle_due(now=now), or for worker i of n its shard of the shopkeepers."""
    from grassroots.commissions.services import commissions_settle_due

    pid = _pid(connection)
    start, cpu = time.perf_counter(), backend_cpu(pid)
    result = commissions_settle_due(now=now, shard=partition)
    seconds = time.perf_counter() - start
    return PhaseResult(
        seconds,
        {"commissions_settle_due": seconds},
        {"phase": backend_cpu(pid) - cpu},
        {"lines": result.lines, "entries": result.entries},
    )
