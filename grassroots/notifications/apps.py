from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "grassroots.notifications"
    label = "notifications"
