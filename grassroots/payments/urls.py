from django.urls import URLPattern, URLResolver, path

from grassroots.payments import views

app_name = "payments"
urlpatterns: list[URLPattern | URLResolver] = [
    path("pay/start/<slug:kind>/<int:payable_id>/", views.start, name="start"),
    path("pay/<int:intent_id>/", views.pay, name="pay"),
]
