from django.apps import AppConfig


class CommissionsConfig(AppConfig):
    name = "grassroots.commissions"
    label = "commissions"
