"""Background work for commissions. Tasks take ISO timestamps and are idempotent: a retry or a
duplicate enqueue settles nothing twice."""

from __future__ import annotations

from datetime import datetime

from django.tasks import task
from django.utils import timezone

from grassroots.commissions.services import commissions_settle_due


@task()
def settle_commissions(now: str | None = None) -> int:
    """Move due commissions pending -> available (see commissions_settle_due); returns the lines."""
    return commissions_settle_due(now=datetime.fromisoformat(now) if now else timezone.now()).lines
