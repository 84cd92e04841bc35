from __future__ import annotations

from datetime import datetime

import factory
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.models import Product
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.shops.models import CommissionRate, Shop, ShopItem

BROWSER_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop

    owner = factory.SubFactory(UserFactory)
    slug = factory.Sequence(lambda n: f"shop-{n}")
    name = factory.Sequence(lambda n: f"Shop {n}")
    pitch = "Things I use every day."
    terms_accepted_at = factory.LazyFunction(timezone.now)


class ShopItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShopItem

    shop = factory.SubFactory(ShopFactory)
    product = factory.SubFactory(ProductFactory)
    recommendation = "My favourite."


def rate(product: Product, bps: int, effective_from: datetime, **kwargs: object) -> CommissionRate:
    """A commission-rate history row, as shops' commission_rate_set would write it."""
    return CommissionRate.objects.create(product=product, rate_bps=bps, effective_from=effective_from, **kwargs)


def shop_with(*products: Product, **kwargs: object) -> Shop:
    shop = ShopFactory(**kwargs)
    for product in products:
        ShopItemFactory(shop=shop, product=product)
    return shop
