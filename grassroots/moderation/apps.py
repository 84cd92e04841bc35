from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "grassroots.moderation"
    label = "moderation"
