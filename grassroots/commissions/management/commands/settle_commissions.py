from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from grassroots.commissions.services import commissions_settle_due


class Command(BaseCommand):
    help = (
        "Move commissions whose return window has closed from pending to available, netting open "
        "receivables first (run from cron, e.g. hourly). Safe to run twice or concurrently."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = commissions_settle_due()
        self.stdout.write(
            f"settled {result.lines} commission lines in {result.entries} entries: "
            f"{result.amount} minor units, {result.netted} of them against receivables"
        )
