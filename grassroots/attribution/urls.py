from django.urls import URLPattern, URLResolver, path

from grassroots.attribution import views

app_name = "attribution"
# Mounted at /s/. "share/" first: codes are exactly 8 base62 characters, so no code is "share".
urlpatterns: list[URLPattern | URLResolver] = [
    path("share/", views.share, name="share"),
    path("<str:code>/", views.follow, name="follow"),
    path("<str:code>/qr.svg", views.qr_svg, name="qr_svg"),
    path("<str:code>/qr.png", views.qr_png, name="qr_png"),
]
