from django.apps import AppConfig


class InteractionsConfig(AppConfig):
    name = "grassroots.interactions"
    label = "interactions"
