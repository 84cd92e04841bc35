from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from grassroots.feeds.services import discover_refresh


class Command(BaseCommand):
    help = (
        "Recompute the discover score of every visible note in the discover window from its likes, "
        "collects, comments, shares and tagged products' ratings (run from cron, e.g. every 10 minutes)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"scored {discover_refresh()} notes")
