from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from grassroots.catalog.models import Product
from grassroots.catalog.tests.factories import CategoryFactory, ProductFactory, SkuFactory
from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.merchants.models import Merchant
from grassroots.reviews.tests.factories import ordered_line, review_of
from grassroots.shops import selectors
from grassroots.shops.models import Shop
from grassroots.shops.tests.factories import (
    ShopFactory,
    ShopItemFactory,
    count_queries,
    rate_row,
    with_image,
)

pytestmark = pytest.mark.django_db


def test_shop_by_slug_finds_only_active_shops():
    active = ShopFactory(slug="lily")
    ShopFactory(slug="paused", status=Shop.Status.PAUSED)

    assert selectors.shop_by_slug(slug="lily") == active
    for slug in ("paused", "nobody"):
        with pytest.raises(NotFound):
            selectors.shop_by_slug(slug=slug)


def test_shop_for_user_is_the_own_shop_in_any_status():
    shop = ShopFactory(status=Shop.Status.PAUSED)

    assert selectors.shop_for_user(user=shop.owner) == shop
    assert selectors.shop_for_user(user=ShopFactory().owner) != shop


def test_shop_items_hide_products_buyers_cannot_see():
    shop = ShopFactory()
    shown = ShopItemFactory(shop=shop)
    suspended = ShopItemFactory(shop=shop)
    ShopItemFactory(shop=shop, product__merchant__status=Merchant.Status.SUSPENDED)
    Product.objects.filter(pk=suspended.product_id).update(status=Product.Status.SUSPENDED, is_listed=False)

    assert list(selectors.shop_items(shop=shop)) == [shown]
    owner_view = {item.pk: item.is_available for item in selectors.shop_items_for_owner(shop=shop)}
    assert len(owner_view) == 3
    assert owner_view[shown.pk] is True
    assert owner_view[suspended.pk] is False


def _fill(shop: Shop, n: int) -> None:
    for _ in range(n):
        ShopItemFactory(shop=shop, product=with_image(ProductFactory()))


def _walk_items(shop: Shop) -> None:
    for item in selectors.shop_items(shop=shop):
        assert selectors_thumbnail(item.product)
        assert item.product.merchant.name


def selectors_thumbnail(product: Product) -> str:
    from grassroots.catalog.selectors import thumbnail_url

    return thumbnail_url(product)


def test_shop_items_cost_the_same_queries_for_3_and_20_items():
    small, large = ShopFactory(), ShopFactory()
    _fill(small, 3)
    _fill(large, 20)

    assert count_queries(lambda: _walk_items(small)) == count_queries(lambda: _walk_items(large)) == 2


def test_shop_items_page_in_the_shopkeepers_order():
    shop = ShopFactory()
    a = ShopItemFactory(shop=shop, position=2)
    b = ShopItemFactory(shop=shop, position=0)
    c = ShopItemFactory(shop=shop, position=0)

    first, cursor = selectors.shop_items_page(shop=shop, cursor=None, limit=2)
    rest, end = selectors.shop_items_page(shop=shop, cursor=cursor, limit=2)

    assert [*first, *rest] == [c, b, a]
    assert end is None


def test_product_carriers_are_active_shops_for_the_merchants_own_product():
    item = ShopItemFactory()
    ShopItemFactory(product=item.product, shop__status=Shop.Status.SUSPENDED)
    merchant_id = item.product.merchant_id

    assert list(selectors.product_carriers(merchant_id=merchant_id, product_id=item.product_id)) == [item.shop]
    assert list(selectors.product_carriers(merchant_id=merchant_id + 1000, product_id=item.product_id)) == []


# --- the pool -----------------------------------------------------------------------------


def test_the_pool_has_listed_products_with_their_current_rate():
    now = timezone.now()
    high = ProductFactory()
    low = ProductFactory()
    none = ProductFactory()
    hidden = ProductFactory(is_listed=False, status=Product.Status.SUSPENDED)
    rate_row(high, 3000, effective_from=now - timedelta(days=1))
    rate_row(high, 500, effective_from=now + timedelta(days=3))  # a decrease still in its notice
    rate_row(low, 1000)
    rate_row(hidden, 8000)

    pool = list(selectors.pool_for_selection(order="rate"))

    assert [(p.pk, p.rate_bps) for p in pool] == [(high.pk, 3000), (low.pk, 1000), (none.pk, 0)]


def test_the_pool_filters_by_minimum_rate_and_category():
    category = CategoryFactory()
    child = CategoryFactory(parent=category)
    in_child = ProductFactory(category=child)
    elsewhere = ProductFactory()
    cheap = ProductFactory(category=category)
    rate_row(in_child, 2000)
    rate_row(elsewhere, 2000)
    rate_row(cheap, 500)

    picked = selectors.pool_for_selection(category_id=category.pk, min_rate_bps=1000)

    assert [p.pk for p in picked] == [in_child.pk]


def test_the_pool_orders_by_quality_from_verified_reviews():
    loved = ProductFactory()
    SkuFactory(product=loved, stock=100)
    disliked = ProductFactory()
    SkuFactory(product=disliked, stock=100)
    unrated = ProductFactory()
    for _ in range(2):
        review_of(ordered_line(product=loved), rating=5)
    review_of(ordered_line(product=disliked), rating=1)

    cards, _cursor = selectors.pool_page(order="quality", limit=10)

    assert [c.product.pk for c in cards] == [loved.pk, unrated.pk, disliked.pk]
    assert [(c.review_count, c.quality) for c in cards] == [(2, 4.285), (0, 4.0), (1, 3.5)]


def test_pool_cards_carry_the_estimated_commission():
    product = ProductFactory(min_price=12345)
    rate_row(product, 1500)

    cards, _cursor = selectors.pool_page(limit=10)

    assert [(c.rate_bps, c.estimated_commission) for c in cards] == [(1500, 1852)]


@pytest.mark.parametrize("order", ["rate", "quality", "new"])
def test_the_pool_pages_through_every_product_once(order: str):
    products = [ProductFactory() for _ in range(7)]
    for index, product in enumerate(products):
        rate_row(product, 1000 if index % 2 else 2000)

    seen: list[int] = []
    cursor = None
    while True:
        cards, cursor = selectors.pool_page(order=order, cursor=cursor, limit=3)
        seen.extend(c.product.pk for c in cards)
        if cursor is None:
            break

    assert sorted(seen) == sorted(p.pk for p in products)
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"order": "cheapest"}, "order"),
        ({"min_rate_bps": -1}, "min_rate_bps"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WyJ4IiwgMV0"}, "cursor"),  # ["x", 1]: wrong types for the rate order
    ],
)
def test_bad_pool_input_is_a_validation_error(kwargs: dict[str, Any], field: str):
    with pytest.raises(ValidationFailed) as error:
        selectors.pool_page(**kwargs)

    assert field in error.value.fields


def _walk_pool() -> None:
    cards, _cursor = selectors.pool_page(limit=50)
    for card in cards:
        assert card.product.merchant.name
        selectors_thumbnail(card.product)


def test_the_pool_costs_the_same_queries_for_3_and_20_products():
    for _ in range(3):
        rate_row(with_image(ProductFactory()), 1000)
    small = count_queries(_walk_pool)
    for _ in range(17):
        rate_row(with_image(ProductFactory()), 1000)

    assert count_queries(_walk_pool) == small
