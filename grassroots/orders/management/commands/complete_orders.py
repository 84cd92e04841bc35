from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from grassroots.orders.services import orders_auto_complete


class Command(BaseCommand):
    help = "Complete delivered orders whose ORDER_AUTO_COMPLETE_DAYS have passed (run from cron)."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        while done := orders_auto_complete():
            total += done
        self.stdout.write(f"completed {total} orders")
