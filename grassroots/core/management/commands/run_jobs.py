"""`manage.py run_jobs`: run the periodic jobs of grassroots.core.jobs until stopped (`--once`: each
job once, then exit). A failing job is reported and retried at its next turn; the others go on."""

from __future__ import annotations

import io
import signal
import threading
from datetime import datetime
from types import FrameType
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections, connections
from django.utils import timezone

from grassroots.core.jobs import JOBS, Job, jobs_due, seconds_until_next


class Command(BaseCommand):
    help = "Run the periodic jobs (expire unpaid checkouts, complete orders, settle commissions, ...)."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stop = threading.Event()  # set by SIGTERM / SIGINT

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run every job once and exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = self.stop

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
        last_started: dict[str, datetime] = {}
        failures = 0
        while not stop.is_set():
            for job in jobs_due(now=timezone.now(), last_started=last_started, jobs=JOBS):
                if stop.is_set():
                    break
                last_started[job.command] = timezone.now()
                failures += not self._run(job)
            if options["once"]:
                break
            stop.wait(seconds_until_next(now=timezone.now(), last_started=last_started, jobs=JOBS))
        if options["once"] and failures:
            self.stderr.write(f"{failures} job(s) failed")
            raise SystemExit(1)

    def _run(self, job: Job) -> bool:
        _drop_stale_connections()
        output = io.StringIO()
        try:
            call_command(job.command, stdout=output, stderr=output)
        except (Exception, SystemExit) as exc:  # one job's failure must not stop the others
            self.stderr.write(f"{_stamp()} {job.command} failed: {exc!r} {_one_line(output)}".rstrip())
            return False
        finally:
            _drop_stale_connections()
        self.stdout.write(f"{_stamp()} {job.command}: {_one_line(output)}".rstrip())
        return True


def _drop_stale_connections() -> None:
    """A long-lived process must not keep a connection the server dropped (never inside a
    transaction, e.g. a caller's or a test's, which closing would lose)."""
    if not any(conn.in_atomic_block for conn in connections.all(initialized_only=True)):
        close_old_connections()


def _stamp() -> str:
    return f"{timezone.localtime():%Y-%m-%d %H:%M:%S}"


def _one_line(output: io.StringIO) -> str:
    return " / ".join(line.strip() for line in output.getvalue().splitlines() if line.strip())
