"""`manage.py ledger_verify`: print every ledger problem and exit non-zero if there is one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from grassroots.ledger.selectors import ledger_problems
from grassroots.ledger.services import ledger_cache_rebuild


class Command(BaseCommand):
    help = "Check that every journal entry balances and every cached balance equals its replay."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rebuild-cache",
            action="store_true",
            help="First set drifted cached balances back to the replay of their postings.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rebuild_cache"]:
            for fix in ledger_cache_rebuild():
                self.stdout.write(f"rebuilt {fix.code} [{fix.currency}]: {fix.was} -> {fix.now}")
        problems = ledger_problems()
        for problem in problems:
            self.stdout.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} ledger problem(s)")
        self.stdout.write(self.style.SUCCESS("ledger ok"))
