from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "grassroots.ledger"
    label = "ledger"
