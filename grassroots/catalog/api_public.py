"""Public catalog API: what any buyer may see. Anonymous callers are welcome; a bad token is a 401."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from grassroots.catalog import selectors
from grassroots.catalog.models import Product, Sku
from grassroots.catalog.search import MAX_QUERY_CHARS
from grassroots.core.api_auth import optional_auth
from grassroots.core.api_schemas import ErrorOut
from grassroots.core.conf import gr_setting
from grassroots.core.pagination import MAX_LIMIT

router = Router(tags=["catalog"])


class CategoryOut(Schema):
    id: int
    slug: str
    name: str
    name_en: str
    name_zh: str
    children: list[CategoryOut]


CategoryOut.model_rebuild()


class MerchantRefOut(Schema):
    id: int
    name: str


class ProductItemOut(Schema):
    id: int
    slug: str
    title: str
    title_en: str
    title_zh: str
    brand: str
    min_price: int
    currency: str
    thumbnail: str | None
    merchant: MerchantRefOut


class ProductPageOut(Schema):
    items: list[ProductItemOut]
    next_cursor: str | None


class ProductsQuery(Schema):
    q: str | None = Field(None, max_length=MAX_QUERY_CHARS, description="Every word must match (zh or en).")
    category: str | None = Field(None, max_length=80, description="Category slug or id; includes sub-categories.")
    cursor: str | None = Field(None, max_length=500)
    limit: int = Field(gr_setting("API_PAGE_SIZE"), ge=1, le=MAX_LIMIT)


class SkuOut(Schema):
    id: int
    code: str
    label: str
    options: dict[str, object]
    price_amount: int
    currency: str
    stock: int


class ImageOut(Schema):
    id: int
    url: str
    thumbnail_url: str
    width: int
    height: int


class StageOut(Schema):
    code: str
    name: str


class CategoryRefOut(Schema):
    id: int
    slug: str
    name: str


class ProductDetailOut(Schema):
    id: int
    slug: str
    title: str
    title_en: str
    title_zh: str
    brand: str
    origin: str
    min_price: int
    max_price: int
    currency: str
    description_html: str
    merchant: MerchantRefOut
    category: CategoryRefOut
    images: list[ImageOut]
    skus: list[SkuOut]
    passed_stages: list[StageOut]


def _absolute(request: HttpRequest, url: str) -> str:
    return request.build_absolute_uri(url) if url else ""


def _category_out(node: selectors.CategoryNode) -> CategoryOut:
    c = node.category
    return CategoryOut(
        id=c.pk,
        slug=c.slug,
        name=c.name,
        name_en=c.name_en,
        name_zh=c.name_zh,
        children=[_category_out(child) for child in node.children],
    )


def _item_out(request: HttpRequest, product: Product) -> ProductItemOut:
    return ProductItemOut(
        id=product.pk,
        slug=product.slug,
        title=product.title,
        title_en=product.title_en,
        title_zh=product.title_zh,
        brand=product.brand,
        min_price=product.min_price,
        currency=product.currency,
        thumbnail=_absolute(request, selectors.thumbnail_url(product)) or None,
        merchant=MerchantRefOut(id=product.merchant.pk, name=product.merchant.name),
    )


def _sku_out(sku: Sku) -> SkuOut:
    return SkuOut(
        id=sku.pk,
        code=sku.code,
        label=sku.label,
        options=sku.options if isinstance(sku.options, dict) else {},
        price_amount=sku.price_amount,
        currency=sku.currency,
        stock=max(sku.stock, 0),
    )


@router.get("/categories", response=list[CategoryOut], auth=optional_auth, summary="Category tree")
def categories(request: HttpRequest) -> list[CategoryOut]:
    return [_category_out(node) for node in selectors.category_tree()]


@router.get(
    "/products",
    response={200: ProductPageOut, 404: ErrorOut, 422: ErrorOut},
    auth=optional_auth,
    summary="Listed products, newest first; with q, exact title matches first",
)
def products(request: HttpRequest, filters: Query[ProductsQuery]) -> ProductPageOut:
    category_id = None
    if filters.category:
        category_id = selectors.category_by_slug_or_id(value=filters.category).pk
    items, next_cursor = selectors.products_page(
        category_id=category_id, query=filters.q, cursor=filters.cursor, limit=filters.limit
    )
    return ProductPageOut(items=[_item_out(request, p) for p in items], next_cursor=next_cursor)


@router.get(
    "/products/{id_or_slug}",
    response={200: ProductDetailOut, 404: ErrorOut},
    auth=optional_auth,
    summary="One listed product",
)
def product_detail(request: HttpRequest, id_or_slug: str) -> ProductDetailOut:
    # The public API shows only what is listed, whoever asks; previews belong to the console.
    product = selectors.product_for_buyer(slug_or_id=id_or_slug, viewer=None)
    low, high = selectors.price_range(product)
    images = product.buyer_images  # type: ignore[attr-defined]
    return ProductDetailOut(
        id=product.pk,
        slug=product.slug,
        title=product.title,
        title_en=product.title_en,
        title_zh=product.title_zh,
        brand=product.brand,
        origin=product.origin,
        min_price=low,
        max_price=high,
        currency=product.currency,
        description_html=product.description_html,
        merchant=MerchantRefOut(id=product.merchant.pk, name=product.merchant.name),
        category=CategoryRefOut(id=product.category.pk, slug=product.category.slug, name=product.category.name),
        images=[
            ImageOut(
                id=image.pk,
                url=_absolute(request, selectors.image_url(image, thumbnail=False)),
                thumbnail_url=_absolute(request, selectors.image_url(image, thumbnail=True)),
                width=image.width,
                height=image.height,
            )
            for image in images
        ],
        skus=[_sku_out(sku) for sku in product.buyer_skus],  # type: ignore[attr-defined]
        passed_stages=[StageOut(code=s.code, name=s.name) for s in selectors.passed_stages(product)],
    )
