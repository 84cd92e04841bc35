from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from grassroots.orders.services import checkouts_expire, unapplied_payments_refund


class Command(BaseCommand):
    help = "Expire unpaid checkouts past their payment window and release their stock (run from cron)."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        while expired := checkouts_expire():
            total += expired
        refunded = unapplied_payments_refund()
        self.stdout.write(f"expired {total} checkouts, refunded {refunded} late payments")
