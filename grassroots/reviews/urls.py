from django.urls import URLPattern, URLResolver, path

from grassroots.reviews import views

app_name = "reviews"
urlpatterns: list[URLPattern | URLResolver] = [
    path("products/<int:product_id>/", views.product_reviews, name="product"),
    path("write/<int:order_line_id>/", views.write, name="write"),
    path("pending/", views.pending, name="pending"),
    path("merchant/", views.merchant, name="merchant"),
    path("merchant/<int:review_id>/reply/", views.merchant_reply, name="merchant_reply"),
    path("<int:review_id>/hide/", views.hide, name="hide"),
]
