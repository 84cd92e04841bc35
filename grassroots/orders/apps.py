from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "grassroots.orders"
    label = "orders"
