from django.urls import URLPattern, URLResolver, path

from grassroots.catalog import console_views, views

app_name = "catalog"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    *console_views.urlpatterns,
]
