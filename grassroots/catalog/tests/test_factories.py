import pytest

from grassroots.accounts.tests.factories import CuratorFactory
from grassroots.catalog.tests.factories import listed_product_with_sku


@pytest.mark.django_db
def test_factories_build_a_listed_product_and_a_curator():
    product, sku = listed_product_with_sku(price_amount=1234, stock=5)
    assert product.is_listed and product.min_price == 1234 and sku.stock == 5
    assert product.merchant.memberships.count() == 1
    assert CuratorFactory().is_curator
