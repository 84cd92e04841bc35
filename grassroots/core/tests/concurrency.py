"""Run one action from several threads at the same moment, each on its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection

from grassroots.core.errors import ServiceError

WORKERS = 8  # each holds one connection: stay well under PostgreSQL's max_connections


def race(action: Callable[[int], None], *, workers: int = WORKERS) -> tuple[list[str], list[BaseException]]:
    """Start `action(n)` for n in range(workers) behind a barrier. Returns each call's outcome ("ok"
    or the ServiceError code, in finishing order) and any other exception, for the caller to raise."""
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        try:
            barrier.wait()
            try:
                action(n)
                outcome = "ok"
            except ServiceError as error:
                outcome = error.code
            with lock:
                outcomes.append(outcome)
        except BaseException as error:  # surfaced by the caller
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes, errors
