from django.urls import URLPattern, URLResolver, path

from grassroots.feeds import views

app_name = "feeds"

urlpatterns: list[URLPattern | URLResolver] = [
    path("feed/", views.home, name="home"),
    path("discover/", views.discover, name="discover"),
    path("tags/<str:name>/", views.hashtag, name="hashtag"),
]
