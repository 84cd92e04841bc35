"""Background work for feeds."""

from __future__ import annotations

from datetime import datetime

from django.tasks import task
from django.utils import timezone

from grassroots.feeds.services import discover_refresh


@task()
def refresh_discover(now: str | None = None) -> int:
    """Recompute discover scores in the window (idempotent); returns the notes scored."""
    return discover_refresh(now=datetime.fromisoformat(now) if now else timezone.now())
