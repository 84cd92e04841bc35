from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from grassroots.commissions.backfill import commissions_attribute_backlog, commissions_backlog_count
from grassroots.commissions.sharding import shard_parse
from grassroots.core.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Attribute paid order lines that have no attribution snapshot yet (imports, recomputation after "
        "an outage) and book their commissions, in one transaction (PostgreSQL). Safe to rerun: only "
        "lines still without a snapshot are taken. See grassroots/commissions/backfill.py."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shard", default="0/1", help="i/n: only the orders whose id is i modulo n")
        parser.add_argument("--count", action="store_true", help="only count the waiting lines")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            shard = shard_parse(options["shard"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        try:
            if options["count"]:
                self.stdout.write(f"{commissions_backlog_count(shard=shard)} paid lines without attribution")
                return
            result = commissions_attribute_backlog(shard=shard)
        except ServiceError as error:
            raise CommandError(f"{error.code}: {error.message}") from error
        steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.seconds.items())
        self.stdout.write(
            f"attributed {result.lines} lines, booked {result.commission_lines} commission lines in "
            f"{result.entries} entries; {result.skipped} lines skipped (platform fee not as captured) ({steps})"
        )
