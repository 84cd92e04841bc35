from django.urls import URLPattern, URLResolver, path

from grassroots.orders import views

app_name = "orders"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.order_list, name="list"),
    path("<int:order_id>/", views.order_detail, name="detail"),
    path("<int:order_id>/cancel/", views.order_cancel, name="cancel"),
    path("<int:order_id>/confirm-receipt/", views.order_confirm_receipt, name="confirm_receipt"),
    path("cart/", views.cart, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/items/<int:item_id>/update/", views.cart_update, name="cart_update"),
    path("cart/items/<int:item_id>/remove/", views.cart_remove, name="cart_remove"),
    path("buy-now/", views.buy_now, name="buy_now"),
    path("checkout/", views.checkout, name="checkout"),
    path("checkouts/<int:checkout_id>/", views.checkout_detail, name="checkout_detail"),
    path("checkouts/<int:checkout_id>/cancel/", views.checkout_cancel, name="checkout_cancel"),
    path("addresses/", views.address_list, name="addresses"),
    path("addresses/new/", views.address_new, name="address_new"),
    path("addresses/<int:address_id>/edit/", views.address_edit, name="address_edit"),
    path("addresses/<int:address_id>/delete/", views.address_delete, name="address_delete"),
    path("addresses/<int:address_id>/default/", views.address_default, name="address_default"),
    path("console/", views.console, name="console"),
    path("console/<int:order_id>/ship/", views.console_ship, name="console_ship"),
    path("console/shipping/", views.console_shipping, name="console_shipping"),
    path("<int:order_id>/returns/new/", views.return_create, name="return_create"),
    path("returns/", views.return_list, name="returns"),
    path("returns/<int:return_id>/", views.return_detail, name="return_detail"),
    path("returns/<int:return_id>/ship-back/", views.return_ship_back, name="return_ship_back"),
    path("returns/<int:return_id>/cancel/", views.return_cancel, name="return_cancel"),
    path("console/returns/", views.console_returns, name="console_returns"),
    path("console/returns/<int:return_id>/approve/", views.console_return_approve, name="console_return_approve"),
    path("console/returns/<int:return_id>/reject/", views.console_return_reject, name="console_return_reject"),
    path("console/returns/<int:return_id>/receive/", views.console_return_receive, name="console_return_receive"),
]
