from django.urls import URLPattern, URLResolver, path

from grassroots.merchants import views

app_name = "merchants"
urlpatterns: list[URLPattern | URLResolver] = [
    path("apply/", views.apply, name="apply"),
    path("console/", views.console, name="console"),
    path("console/<int:merchant_id>/members/", views.member_add, name="member_add"),
    path("console/<int:merchant_id>/resubmit/", views.resubmit, name="resubmit"),
    path("review/", views.review_queue, name="review"),
    path("review/<int:merchant_id>/", views.review_detail, name="review_detail"),
    path("review/<int:merchant_id>/<str:action>/", views.review_decide, name="review_decide"),
    path("documents/<int:document_id>/", views.document, name="document"),
]
