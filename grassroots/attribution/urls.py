from django.urls import URLPattern, URLResolver

app_name = "attribution"
urlpatterns: list[URLPattern | URLResolver] = []
