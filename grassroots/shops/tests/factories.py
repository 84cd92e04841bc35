from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.models import Product, Sku
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.shops.models import CommissionRate, Shop, ShopItem


class ShopFactory(factory.django.DjangoModelFactory):
    """An active shop; opening one through services.shop_open is what the tests of that service do."""

    class Meta:
        model = Shop

    owner = factory.SubFactory(UserFactory)
    slug = factory.Sequence(lambda n: f"shop-{n}")
    name = factory.Sequence(lambda n: f"Shop {n}")
    pitch = "Things I really use."
    terms_accepted_at = factory.LazyFunction(timezone.now)


class ShopItemFactory(factory.django.DjangoModelFactory):
    """An item; keeps the shop's item counter in step as the services do."""

    class Meta:
        model = ShopItem

    shop = factory.SubFactory(ShopFactory)
    product = factory.SubFactory("grassroots.catalog.tests.factories.ProductFactory")
    recommendation = factory.Sequence(lambda n: f"I recommend this, number {n}.")

    @classmethod
    def _create(cls, model_class: type[ShopItem], *args: Any, **kwargs: Any) -> ShopItem:
        from django.db.models import F

        item = super()._create(model_class, *args, **kwargs)
        Shop.objects.filter(pk=item.shop_id).update(item_count=F("item_count") + 1)
        return item


def rate_row(product: Product, rate_bps: int, *, effective_from: datetime | None = None) -> CommissionRate:
    """A rate in effect from `effective_from` (now by default), written directly for read tests."""
    return CommissionRate.objects.create(
        product=product, rate_bps=rate_bps, effective_from=effective_from or timezone.now()
    )


def listed_with_rate(*, merchant: object, title: str, slug: str, price: int, rate_bps: int) -> Sku:
    """A listed product with one SKU (stock 10) and a commission rate in effect now."""
    product = ProductFactory(merchant=merchant, title_en=title, title_zh=title, slug=slug, min_price=price)
    rate_row(product, rate_bps)
    return SkuFactory(product=product, options={"size": "one"}, price_amount=price, stock=10)


def png_upload(name: str = "avatar.png", size: tuple[int, int] = (20, 16)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, (40, 120, 200)).save(out, format="PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def text_upload(name: str = "avatar.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"not an image\n" * 20, content_type="image/png")


def with_image(product: Product) -> Product:
    """Give the product an approved image row (the files need not exist for URLs)."""
    from grassroots.catalog.models import ProductImage

    ProductImage.objects.create(
        product=product, image=f"products/p{product.pk}.jpg", thumbnail=f"products/thumbs/p{product.pk}.jpg"
    )
    return product


def count_queries(action: Any) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        action()
    return len(captured.captured_queries)
