from __future__ import annotations

import factory

from grassroots.catalog.models import Category, Product, Sku
from grassroots.merchants.tests.factories import MerchantFactory


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    slug = factory.Sequence(lambda n: f"category-{n}")
    name_en = factory.Sequence(lambda n: f"Category {n}")
    name_zh = factory.Sequence(lambda n: f"分类{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    """A listed product with no SKUs; use SkuFactory(product=...) or ListedProductFactory."""

    class Meta:
        model = Product

    merchant = factory.SubFactory(MerchantFactory)
    category = factory.SubFactory(CategoryFactory)
    slug = factory.Sequence(lambda n: f"product-{n}")
    title_en = factory.Sequence(lambda n: f"Product {n}")
    title_zh = factory.Sequence(lambda n: f"商品{n}")
    brand = "Acme"
    origin = "China"
    description_md = "A good product."
    description_html = "<p>A good product.</p>"
    status = Product.Status.LISTED
    is_listed = True
    min_price = 9900
    passed_stages = factory.LazyFunction(
        lambda: ["qualification", "authenticity", "sample_quality", "pricing", "final"]
    )
    search_text = factory.LazyAttribute(lambda o: f"{o.title_en} {o.title_zh} {o.brand} {o.origin}".lower())
    listed_at = factory.Faker("date_time_this_year", tzinfo=__import__("datetime").UTC)


class SkuFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sku

    product = factory.SubFactory(ProductFactory)
    code = factory.Sequence(lambda n: f"SKU-{n}")
    options = factory.LazyFunction(lambda: {"size": "M"})
    price_amount = 9900
    currency = "CNY"
    stock = 100


def listed_product_with_sku(**kwargs: object) -> tuple[Product, Sku]:
    """A listed product and its single SKU; kwargs go to the SKU (price_amount, stock, ...)."""
    product = ProductFactory()
    sku = SkuFactory(product=product, **kwargs)
    Product.objects.filter(pk=product.pk).update(min_price=sku.price_amount)
    product.refresh_from_db()
    return product, sku
