from django.urls import URLPattern, URLResolver

app_name = "shops"
urlpatterns: list[URLPattern | URLResolver] = []
