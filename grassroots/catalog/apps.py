from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "grassroots.catalog"
    label = "catalog"
