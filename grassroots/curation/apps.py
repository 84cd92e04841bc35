from django.apps import AppConfig


class CurationConfig(AppConfig):
    name = "grassroots.curation"
    label = "curation"
