from django.urls import URLPattern, URLResolver, path

from grassroots.coupons import views

app_name = "coupons"
urlpatterns: list[URLPattern | URLResolver] = [
    path("console/", views.console, name="console"),
    path("console/<int:coupon_id>/deactivate/", views.console_deactivate, name="console_deactivate"),
]
