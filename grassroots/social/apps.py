from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "grassroots.social"
    label = "social"
