"""The platform's periodic jobs and when each is due. `manage.py run_jobs` runs them in one process
(what `make run` starts beside the server); a deployment may use it, or cron entries for the same
commands. Every job is safe to run twice or from two processes at once (conditional updates,
advisory locks), so an overlap or a restart does no harm."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Job:
    command: str  # a management command taking no arguments
    every: timedelta
    why: str


JOBS: tuple[Job, ...] = (
    Job("expire_checkouts", timedelta(minutes=1), "unpaid checkouts past their window release their stock"),
    Job("refresh_discover", timedelta(minutes=5), "discover ranks notes by recent engagement"),
    Job("complete_orders", timedelta(hours=1), "unconfirmed parcels count as received, then orders complete"),
    Job("settle_commissions", timedelta(hours=1), "commissions whose return window closed become available"),
    Job("ledger_verify", timedelta(days=1), "every entry balances and cached balances equal the replay"),
)


def jobs_due(*, now: datetime, last_started: Mapping[str, datetime], jobs: Sequence[Job] = JOBS) -> list[Job]:
    """The jobs to start now: never started, or started at least `every` ago."""
    return [job for job in jobs if job.command not in last_started or now - last_started[job.command] >= job.every]


def seconds_until_next(*, now: datetime, last_started: Mapping[str, datetime], jobs: Sequence[Job] = JOBS) -> float:
    """How long the runner may sleep before a job is due (0 when one is due now)."""
    waits = [
        0.0 if job.command not in last_started else (last_started[job.command] + job.every - now).total_seconds()
        for job in jobs
    ]
    return max(0.0, min(waits, default=60.0))
