from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "grassroots.orders"
    label = "orders"

    def ready(self) -> None:
        from grassroots.orders.services import CheckoutPayable
        from grassroots.payments.registry import register_payable

        register_payable("checkout", CheckoutPayable())
