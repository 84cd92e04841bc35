from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from grassroots.orders.services import orders_auto_complete, orders_auto_receive


class Command(BaseCommand):
    help = (
        "Mark shipped orders received after ORDER_AUTO_RECEIVE_DAYS, then complete delivered orders whose "
        "ORDER_AUTO_COMPLETE_DAYS have passed (run from cron)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        received = completed = 0
        while done := orders_auto_receive():
            received += done
        while done := orders_auto_complete():
            completed += done
        self.stdout.write(f"received {received} orders, completed {completed} orders")
