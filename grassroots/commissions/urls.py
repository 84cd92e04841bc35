from django.urls import URLPattern, URLResolver, path

from grassroots.commissions import views

app_name = "commissions"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.dashboard, name="dashboard"),
    path("withdraw/", views.withdraw, name="withdraw"),
    path("withdrawals/", views.withdrawal_list, name="withdrawals"),
    path("review/withdrawals/", views.review, name="review"),
    path("review/withdrawals/<int:withdrawal_id>/approve/", views.review_approve, name="review_approve"),
    path("review/withdrawals/<int:withdrawal_id>/reject/", views.review_reject, name="review_reject"),
]
