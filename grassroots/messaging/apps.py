from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "grassroots.messaging"
    label = "messaging"
