"""Merchant API for products: create, edit, images, stock, submit for screening; categories for curators.

Prices are integer minor units (fen). Every product is scoped to the caller's merchants: someone
else's product is a 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, File, Router, Schema, UploadedFile

from grassroots.catalog import services
from grassroots.catalog.models import Category, Product, ProductImage, Sku
from grassroots.core.api_schemas import error_responses
from grassroots.core.conf import gr_setting
from grassroots.core.errors import NotFound
from grassroots.core.pagination import paginate

router = Router(tags=["catalog: merchant console"])

# strict: "12.5", 12.5 and "12" are all refused, so a price is never silently rounded.
Price = Annotated[int, Field(strict=True, gt=0, le=services.MAX_PRICE)]
Quantity = Annotated[int, Field(strict=True, ge=0, le=services.MAX_STOCK)]
Limit = Annotated[int, Field(strict=True, ge=0, le=services.MAX_PER_USER)]


ERRORS = error_responses(403, 404, 409, 422)


class MerchantSkuIn(Schema):
    code: str = Field(..., min_length=1, max_length=64)
    options: dict[str, str] = Field(default_factory=dict, max_length=services.MAX_OPTIONS)
    price_amount: Price
    stock: Quantity = 0
    max_per_user: Limit = 0


class MerchantProductIn(Schema):
    merchant_id: int | None = Field(None, description="Defaults to the caller's first merchant.")
    category_id: int
    title_en: str = Field("", max_length=160)
    title_zh: str = Field("", max_length=160)
    brand: str = Field("", max_length=80)
    origin: str = Field("", max_length=80)
    description_md: str = Field("", max_length=services.MAX_DESCRIPTION)
    skus: list[MerchantSkuIn] = Field(default_factory=list, max_length=services.MAX_SKUS)


class MerchantProductPatch(Schema):
    """Only the fields sent change. `skus` is the complete list of variants wanted: codes left out are
    withdrawn. On a listed product, material changes wait for screening (see `pending_revision`)."""

    title_en: str | None = Field(None, max_length=160)
    title_zh: str | None = Field(None, max_length=160)
    brand: str | None = Field(None, max_length=80)
    origin: str | None = Field(None, max_length=80)
    description_md: str | None = Field(None, max_length=services.MAX_DESCRIPTION)
    category_id: int | None = None
    skus: list[MerchantSkuIn] | None = Field(None, max_length=services.MAX_SKUS)
    remove_image_ids: list[int] | None = Field(None, max_length=services.MAX_IMAGES)


class StockIn(Schema):
    stock: Quantity


class CategoryIn(Schema):
    slug: str = Field(..., max_length=80)
    name_en: str = Field(..., max_length=80)
    name_zh: str = Field("", max_length=80)
    parent_id: int | None = None


class CategoryCreatedOut(Schema):
    id: int
    slug: str
    name_en: str
    name_zh: str
    parent_id: int | None
    position: int


class MerchantSkuOut(Schema):
    id: int
    code: str
    options: dict[str, Any]
    price_amount: int
    currency: str
    stock: int
    reserved: int
    sold: int
    max_per_user: int
    is_active: bool


class MerchantImageOut(Schema):
    id: int
    url: str
    thumbnail_url: str
    width: int
    height: int
    position: int
    pending: bool = Field(..., description="Part of an edit waiting for screening; buyers do not see it yet.")

    @staticmethod
    def from_image(image: ProductImage) -> MerchantImageOut:
        return MerchantImageOut(
            id=image.pk,
            url=image.image.url if image.image else "",
            thumbnail_url=image.thumbnail.url if image.thumbnail else "",
            width=image.width,
            height=image.height,
            position=image.position,
            pending=image.revision_id is not None,
        )


class PendingRevisionOut(Schema):
    id: int
    payload: dict[str, Any]
    created_at: datetime


class MerchantProductOut(Schema):
    id: int
    slug: str
    merchant_id: int
    category_id: int
    title_en: str
    title_zh: str
    brand: str
    origin: str
    description_md: str
    description_html: str
    currency: str
    min_price: int
    status: str
    is_listed: bool
    created_at: datetime
    updated_at: datetime
    skus: list[MerchantSkuOut]
    images: list[MerchantImageOut]
    pending_revision: PendingRevisionOut | None

    @staticmethod
    def from_product(product: Product) -> MerchantProductOut:
        pending = getattr(product, "pending_revisions", [])
        return MerchantProductOut(
            id=product.pk,
            slug=product.slug,
            merchant_id=product.merchant_id,
            category_id=product.category_id,
            title_en=product.title_en,
            title_zh=product.title_zh,
            brand=product.brand,
            origin=product.origin,
            description_md=product.description_md,
            description_html=product.description_html,
            currency=product.currency,
            min_price=product.min_price,
            status=product.status,
            is_listed=product.is_listed,
            created_at=product.created_at,
            updated_at=product.updated_at,
            skus=[MerchantSkuOut.from_orm(sku) for sku in product.skus.all()],
            images=[MerchantImageOut.from_image(image) for image in product.images.all()],
            pending_revision=(
                PendingRevisionOut(id=pending[0].pk, payload=pending[0].payload, created_at=pending[0].created_at)
                if pending
                else None
            ),
        )


class MerchantProductPage(Schema):
    items: list[MerchantProductOut]
    next_cursor: str | None


def _product(request: HttpRequest, product_id: int) -> Product:
    return services.merchant_product_get(user=request.user, product_id=product_id)


def _out(request: HttpRequest, product_id: int) -> MerchantProductOut:
    return MerchantProductOut.from_product(_product(request, product_id))


@router.get("/products", response={200: MerchantProductPage, **ERRORS})
def list_products(
    request: HttpRequest, merchant_id: int | None = None, cursor: str | None = None, limit: int | None = None
) -> MerchantProductPage:
    """The merchant's products, newest first, every status, with variants, images and pending edits."""
    _, queryset = services.merchant_products(user=request.user, merchant_id=merchant_id)
    items, next_cursor = paginate(queryset, cursor=cursor, limit=limit or gr_setting("API_PAGE_SIZE"), order=("-id",))
    return MerchantProductPage(items=[MerchantProductOut.from_product(p) for p in items], next_cursor=next_cursor)


@router.post("/products", response={201: MerchantProductOut, **ERRORS})
def create_product(request: HttpRequest, payload: MerchantProductIn) -> tuple[int, MerchantProductOut]:
    """A draft product with its variants. Add images, then submit it for screening."""
    data = payload.dict()
    product = services.product_create(actor=request.user, **data)
    return 201, _out(request, product.pk)


@router.get("/products/{product_id}", response={200: MerchantProductOut, **ERRORS})
def get_product(request: HttpRequest, product_id: int) -> MerchantProductOut:
    return _out(request, product_id)


@router.patch("/products/{product_id}", response={200: MerchantProductOut, **ERRORS})
def update_product(request: HttpRequest, product_id: int, payload: MerchantProductPatch) -> MerchantProductOut:
    """Drafts change in place. On a listed product a material edit waits for screening while the listed
    version stays up; price cuts, stock and purchase limits apply at once."""
    product = _product(request, product_id)
    # null means "leave as is", like an absent field.
    changes = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    services.product_update(actor=request.user, product=product, **changes)
    return _out(request, product_id)


@router.post("/products/{product_id}/images", response={201: MerchantProductOut, **ERRORS})
def add_images(
    request: HttpRequest, product_id: int, images: File[list[UploadedFile]]
) -> tuple[int, MerchantProductOut]:
    """Multipart, field `images` (repeatable): JPEG, PNG, WebP or GIF judged by content; at most 9."""
    product = _product(request, product_id)
    services.product_update(actor=request.user, product=product, new_images=images)
    return 201, _out(request, product_id)


@router.delete("/products/{product_id}/images/{image_id}", response={200: MerchantProductOut, **ERRORS})
def remove_image(request: HttpRequest, product_id: int, image_id: int) -> MerchantProductOut:
    product = _product(request, product_id)
    services.product_image_remove(actor=request.user, product=product, image_id=image_id)
    return _out(request, product_id)


@router.post("/products/{product_id}/submit", response={200: MerchantProductOut, **ERRORS})
def submit_product(request: HttpRequest, product_id: int) -> MerchantProductOut:
    """Send the product to screening; it needs at least one variant and one image."""
    product = _product(request, product_id)
    services.product_submit(actor=request.user, product=product)
    return _out(request, product_id)


@router.put("/products/{product_id}/skus/{sku_id}/stock", response={200: MerchantSkuOut, **ERRORS})
def set_stock(request: HttpRequest, product_id: int, sku_id: int, payload: StockIn) -> Sku:
    """Set free stock. Units reserved or sold by orders are not touched."""
    product = _product(request, product_id)
    sku = next((s for s in product.skus.all() if s.pk == sku_id), None)
    if sku is None:
        raise NotFound(_("Variant not found."))
    return services.sku_stock_set(actor=request.user, sku=sku, stock=payload.stock)


@router.post("/categories", response={201: CategoryCreatedOut, **ERRORS})
def create_category(request: HttpRequest, payload: CategoryIn) -> tuple[int, Category]:
    """Curators only."""
    return 201, services.category_create(actor=request.user, **payload.dict())
