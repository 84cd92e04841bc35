from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "grassroots.payments"
    label = "payments"
