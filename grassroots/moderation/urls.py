from django.urls import URLPattern, URLResolver, path

from grassroots.moderation import views

app_name = "moderation"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.queue, name="queue"),
    path("report/", views.report, name="report"),
    path("mine/", views.my_reports, name="mine"),
    path("<str:kind>/<int:target_id>/", views.target, name="target"),
    path("<str:kind>/<int:target_id>/decide/", views.decide, name="decide"),
]
