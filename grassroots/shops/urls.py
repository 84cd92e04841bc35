from django.urls import URLPattern, URLResolver, path

from grassroots.shops import views

app_name = "shops"
# Fixed paths first: `<slug>/` comes last, and services never give a shop one of these words.
urlpatterns: list[URLPattern | URLResolver] = [
    path("open/", views.open_shop, name="open"),
    path("mine/", views.mine, name="mine"),
    path("mine/edit/", views.mine_edit, name="mine_edit"),
    path("mine/items/<int:item_id>/", views.mine_item_update, name="mine_item_update"),
    path("mine/items/<int:item_id>/remove/", views.mine_item_remove, name="mine_item_remove"),
    path("select/", views.select, name="select"),
    path("select/add/", views.select_add, name="select_add"),
    path("merchant/commissions/", views.merchant_commissions, name="merchant_commissions"),
    path("merchant/commissions/<int:product_id>/", views.merchant_commission_set, name="merchant_commission_set"),
    path("<slug:slug>/", views.detail, name="detail"),
]
