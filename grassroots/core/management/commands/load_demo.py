from typing import Any

from django.core.management.base import BaseCommand

from grassroots.core.demo import ACCOUNTS, DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = "Load the demo catalogue and accounts (once), then print the demo accounts."

    def handle(self, *args: Any, **options: Any) -> None:
        created = load_demo()
        self.stdout.write("Demo data loaded." if created else "Demo data already present.")
        self.stdout.write(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        for account in ACCOUNTS:
            self.stdout.write(f"  {account.email:<28} {account.role}")
