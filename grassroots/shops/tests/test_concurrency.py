"""Real parallel connections: the item limit and one-shop-per-user hold under racing requests."""

from __future__ import annotations

import pytest

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.core.tests.concurrency import WORKERS, race
from grassroots.shops import services
from grassroots.shops.models import MAX_SHOP_ITEMS, Shop, ShopItem
from grassroots.shops.tests.factories import ShopFactory

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def test_parallel_adds_never_pass_the_item_limit():
    shop = ShopFactory()
    Shop.objects.filter(pk=shop.pk).update(item_count=MAX_SHOP_ITEMS - 3)
    products = [ProductFactory() for _ in range(WORKERS)]

    outcomes, errors = race(
        lambda n: services.shop_item_add(user=shop.owner, product_id=products[n].pk, recommendation="")
    )

    assert errors == []
    assert sorted(outcomes) == ["ok"] * 3 + ["shop_full"] * (WORKERS - 3)
    assert ShopItem.objects.count() == 3
    shop.refresh_from_db()
    assert shop.item_count == MAX_SHOP_ITEMS


def test_parallel_opens_by_one_user_make_one_shop():
    user = UserFactory()

    outcomes, errors = race(lambda n: services.shop_open(user=user, name=f"Shop {n}", pitch="", accept_terms=True))

    assert errors == []
    assert sorted(outcomes) == ["already_shopkeeper"] * (WORKERS - 1) + ["ok"]
    assert Shop.objects.filter(owner=user).count() == 1
