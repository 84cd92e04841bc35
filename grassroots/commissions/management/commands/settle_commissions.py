from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from grassroots.commissions.services import commissions_settle_due
from grassroots.commissions.sharding import shard_parse


class Command(BaseCommand):
    help = (
        "Move commissions whose return window has closed from pending to available, netting open "
        "receivables first (run from cron, e.g. hourly). Safe to run twice or concurrently; a big "
        "run can be split over n processes with --shard 0/n ... --shard n-1/n."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shard", default="0/1", help="i/n: only the shopkeepers whose id is i modulo n")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            shard = shard_parse(options["shard"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        result = commissions_settle_due(shard=shard)
        self.stdout.write(
            f"settled {result.lines} commission lines in {result.entries} entries: "
            f"{result.amount} minor units, {result.netted} of them against receivables"
        )
