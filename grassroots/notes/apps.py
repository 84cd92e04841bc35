from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "grassroots.notes"
    label = "notes"
