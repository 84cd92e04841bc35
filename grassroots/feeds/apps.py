from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "grassroots.feeds"
    label = "feeds"
