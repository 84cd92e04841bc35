from django.apps import AppConfig


class ShopsConfig(AppConfig):
    name = "grassroots.shops"
    label = "shops"
