from __future__ import annotations

import pytest

from grassroots.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from grassroots.catalog.tests.factories import listed_product_with_sku
from grassroots.orders.models import Cart


@pytest.mark.django_db
def test_a_guest_cart_follows_the_buyer_into_their_account(client):
    # given a guest who put two units in the cart
    _product, sku = listed_product_with_sku(stock=10)
    client.post("/orders/cart/add/", {"sku": sku.pk, "quantity": 2})
    user = UserFactory()

    # when they log in
    response = client.post("/accounts/login/", {"email": user.email, "password": DEFAULT_PASSWORD})

    # then the items are in their own cart and the guest cart is gone
    assert response.status_code == 302
    cart = Cart.objects.get(user=user)
    assert [(item.sku_id, item.quantity) for item in cart.items.all()] == [(sku.pk, 2)]
    assert not Cart.objects.filter(user__isnull=True, items__isnull=False).exists()
