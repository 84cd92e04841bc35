"""Reviews need real delivered orders: these helpers go through the orders services, the way a
buyer and a merchant would (place, pay, ship, confirm receipt)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.models import Product
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.orders import services as orders
from grassroots.orders.models import Order, OrderLine
from grassroots.orders.tests.factories import AddressFactory
from grassroots.reviews import services
from grassroots.reviews.models import Review


def ordered_line(*, buyer: Any = None, product: Product | None = None, upto: str = "delivered") -> OrderLine:
    """One line of one order, moved to `upto`: pending_payment, paid, shipped, delivered or completed."""
    buyer = buyer or UserFactory()
    product = product or ProductFactory()
    sku = product.skus.filter(is_active=True).first() or SkuFactory(product=product, stock=1000)
    address = AddressFactory(owner=buyer)
    checkout = orders.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 1)])
    order = Order.objects.get(checkout=checkout)
    steps = ["pending_payment", "paid", "shipped", "delivered", "completed"]
    reached = steps.index(upto)
    if reached >= 1:
        orders.checkout_mark_paid(checkout_id=checkout.pk, intent_id=checkout.pk)
        order.refresh_from_db()
    if reached >= 2:
        owner = product.merchant.memberships.select_related("user").first().user  # type: ignore[union-attr]
        orders.order_ship(actor=owner, order=order, carrier="SF", tracking_number=f"SF{order.pk:08d}")
    if reached >= 3:
        orders.order_confirm_receipt(buyer=buyer, order=order)
    if reached >= 4:
        orders.order_transition(order=order, action="complete", actor=None)
    return OrderLine.objects.select_related("order", "product").get(order=order)


def png_bytes(size: tuple[int, int] = (8, 6), colour: tuple[int, int, int] = (30, 160, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def photo(name: str = "photo.png", size: tuple[int, int] = (8, 6)) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(size), content_type="image/png")


def text_file(name: str = "photo.jpg") -> SimpleUploadedFile:
    """Named and typed like an image, but plain text."""
    return SimpleUploadedFile(name, b"this is not an image at all\n" * 10, content_type="image/jpeg")


def review_of(
    line: OrderLine, *, rating: int = 5, text: str = "Good.", photos: int = 0, reply: str | None = None
) -> Review:
    review = services.review_create(
        buyer=line.order.buyer,
        order_line_id=line.pk,
        rating=rating,
        text=text,
        photos=[photo(f"p{i}.png") for i in range(photos)],
    )
    if reply is not None:
        owner = line.product.merchant.memberships.select_related("user").first().user  # type: ignore[union-attr]
        services.review_reply(actor=owner, review_id=review.pk, text=reply)
    return review


def media_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []
