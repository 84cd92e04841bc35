from django.apps import AppConfig


class MerchantsConfig(AppConfig):
    name = "grassroots.merchants"
    label = "merchants"
