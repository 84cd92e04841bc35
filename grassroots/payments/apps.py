from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "grassroots.payments"
    label = "payments"

    def ready(self) -> None:
        from grassroots.payments import checks  # noqa: F401  (registers the deploy check)
