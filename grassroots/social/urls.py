from django.urls import URLPattern, URLResolver, path

from grassroots.social import views

app_name = "social"

urlpatterns: list[URLPattern | URLResolver] = [
    path("u/<str:handle>/", views.profile, name="profile"),
    path("u/<str:handle>/followers/", views.followers, name="followers"),
    path("u/<str:handle>/following/", views.following, name="following"),
    path("brands/<slug:slug>/", views.brand, name="brand"),
    path("people/follow/", views.follow, name="follow"),
    path("people/unfollow/", views.unfollow, name="unfollow"),
    path("people/block/", views.block, name="block"),
    path("people/unblock/", views.unblock, name="unblock"),
    path("people/mute/", views.mute, name="mute"),
    path("people/unmute/", views.unmute, name="unmute"),
    path("people/blocked/", views.blocked, name="blocked"),
]
