from django.urls import URLPattern, URLResolver

app_name = "moderation"

urlpatterns: list[URLPattern | URLResolver] = []
