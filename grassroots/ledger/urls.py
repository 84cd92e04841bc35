from django.urls import URLPattern, URLResolver, path

from grassroots.ledger import views

app_name = "ledger"
urlpatterns: list[URLPattern | URLResolver] = [
    path("merchant/<int:merchant_id>/", views.merchant_statement, name="merchant_statement"),
]
