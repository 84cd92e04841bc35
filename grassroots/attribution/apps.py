from django.apps import AppConfig


class AttributionConfig(AppConfig):
    name = "grassroots.attribution"
    label = "attribution"
