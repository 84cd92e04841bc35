from django.urls import URLPattern, URLResolver, path

from grassroots.messaging import views

app_name = "messaging"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.inbox, name="inbox"),
    path("start/", views.start, name="start"),
    path("<int:pk>/", views.thread, name="thread"),
]
