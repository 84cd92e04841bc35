"""Shops API: open a shop (free), manage it and its items, browse the pool, public shop pages, and
merchants' commission rates. Routes with fixed paths come before `/{slug}` so a slug never shadows
them (the services also refuse those words as slugs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import File, Router, Schema, UploadedFile

from grassroots.catalog.models import Product
from grassroots.catalog.selectors import category_by_slug_or_id, thumbnail_url
from grassroots.core.api_auth import optional_auth
from grassroots.core.api_schemas import error_responses
from grassroots.core.conf import gr_setting
from grassroots.core.errors import NotFound
from grassroots.shops import selectors, services
from grassroots.shops.conf import shops_setting
from grassroots.shops.models import CommissionRate, Shop, ShopItem

router = Router(tags=["shops"])
CARRIERS_SHOWN = 50


ERRORS = error_responses(400, 403, 404, 409, 422)


class ShopOut(Schema):
    slug: str
    name: str
    pitch: str
    avatar_url: str
    url: str
    owner_name: str
    created_at: datetime


class MyShopOut(ShopOut):
    status: str
    item_count: int
    terms_accepted_at: datetime


class ShopIn(Schema):
    name: str
    pitch: str = ""
    accept_terms: bool = False


class ShopPatchIn(Schema):
    name: str | None = None
    pitch: str | None = None


class ItemOut(Schema):
    id: int
    product_id: int
    product_slug: str
    product_title: str
    product_url: str
    merchant_name: str
    price: int
    currency: str
    thumbnail_url: str
    recommendation: str
    position: int
    added_at: datetime


class MyItemOut(ItemOut):
    is_available: bool


class ItemPage(Schema):
    items: list[ItemOut]
    next_cursor: str | None


class MyItemPage(Schema):
    items: list[MyItemOut]
    next_cursor: str | None


class ItemIn(Schema):
    product_id: int
    recommendation: str = ""


class ItemPatchIn(Schema):
    recommendation: str | None = None
    position: int | None = None


class PoolCardOut(Schema):
    product_id: int
    slug: str
    title: str
    url: str
    merchant_name: str
    price: int
    currency: str
    thumbnail_url: str
    rate_bps: int
    estimated_commission: int
    review_count: int
    quality: float
    in_my_shop: bool


class PoolPage(Schema):
    items: list[PoolCardOut]
    next_cursor: str | None


class CommissionIn(Schema):
    rate_bps: int


class ScheduledOut(Schema):
    rate_bps: int
    effective_from: datetime


class RateRowOut(Schema):
    rate_bps: int
    effective_from: datetime
    created_at: datetime
    cancelled_at: datetime | None


class CarrierOut(Schema):
    slug: str
    name: str
    url: str


class CarriersOut(Schema):
    count: int
    shops: list[CarrierOut]


class CommissionOut(Schema):
    product_id: int
    current_rate_bps: int
    current_since: datetime | None
    scheduled: ScheduledOut | None
    decrease_notice_days: int
    history: list[RateRowOut]
    carriers: CarriersOut


def _absolute(request: HttpRequest, url: str) -> str:
    return request.build_absolute_uri(url) if url else ""


def _limit(limit: int | None) -> int:
    return int(gr_setting("API_PAGE_SIZE")) if limit is None else limit


def _shop_fields(request: HttpRequest, shop: Shop) -> dict[str, Any]:
    return {
        "slug": shop.slug,
        "name": shop.name,
        "pitch": shop.pitch,
        "avatar_url": _absolute(request, shop.avatar.url) if shop.avatar else "",
        "url": _absolute(request, reverse("shops:detail", kwargs={"slug": shop.slug})),
        "owner_name": shop.owner.display_name,
        "created_at": shop.created_at,
    }


def _my_shop_out(request: HttpRequest, shop: Shop) -> MyShopOut:
    return MyShopOut(
        **_shop_fields(request, shop),
        status=shop.status,
        item_count=shop.item_count,
        terms_accepted_at=shop.terms_accepted_at,
    )


def _item_fields(request: HttpRequest, item: ShopItem) -> dict[str, Any]:
    product = item.product
    return {
        "id": item.pk,
        "product_id": product.pk,
        "product_slug": product.slug,
        "product_title": product.title,
        "product_url": _absolute(request, reverse("catalog:product", args=[product.slug])),
        "merchant_name": product.merchant.name,
        "price": product.min_price,
        "currency": product.currency,
        "thumbnail_url": _absolute(request, thumbnail_url(product)),
        "recommendation": item.recommendation,
        "position": item.position,
        "added_at": item.added_at,
    }


def _my_item_out(request: HttpRequest, item: ShopItem) -> MyItemOut:
    return MyItemOut(**_item_fields(request, item), is_available=bool(getattr(item, "is_available", True)))


def _my_shop(request: HttpRequest) -> Shop:
    shop = selectors.shop_for_user(user=request.user)
    if shop is None:
        raise NotFound(_("You have no shop yet."), code="no_shop")
    return shop


def _commission_out(request: HttpRequest, product: Product) -> CommissionOut:
    schedule = selectors.commission_schedule(product_id=product.pk)
    carriers = selectors.product_carriers(merchant_id=product.merchant_id, product_id=product.pk)
    history: list[CommissionRate] = selectors.commission_history(product_id=product.pk)
    return CommissionOut(
        product_id=product.pk,
        current_rate_bps=schedule.current_bps,
        current_since=schedule.current_since,
        scheduled=(
            ScheduledOut(rate_bps=schedule.scheduled_bps, effective_from=schedule.scheduled_from)
            if schedule.scheduled_bps is not None and schedule.scheduled_from is not None
            else None
        ),
        decrease_notice_days=shops_setting("COMMISSION_DECREASE_NOTICE_DAYS"),
        history=[
            RateRowOut(
                rate_bps=row.rate_bps,
                effective_from=row.effective_from,
                created_at=row.created_at,
                cancelled_at=row.cancelled_at,
            )
            for row in history
        ],
        carriers=CarriersOut(
            count=carriers.count(),
            shops=[
                CarrierOut(
                    slug=shop.slug,
                    name=shop.name,
                    url=_absolute(request, reverse("shops:detail", kwargs={"slug": shop.slug})),
                )
                for shop in carriers[:CARRIERS_SHOWN]
            ],
        ),
    )


# --- my shop ------------------------------------------------------------------------------


@router.post("/", response={201: MyShopOut, **ERRORS})
def open_shop(request: HttpRequest, payload: ShopIn) -> tuple[int, MyShopOut]:
    """Become a shopkeeper in one step. Free: there is no fee, ever. `accept_terms` must be true
    (422 `terms_required`); one shop per user (409 `already_shopkeeper`)."""
    shop = services.shop_open(
        user=request.user, name=payload.name, pitch=payload.pitch, accept_terms=payload.accept_terms
    )
    return 201, _my_shop_out(request, shop)


@router.get("/mine", response={200: MyShopOut, **ERRORS})
def my_shop(request: HttpRequest) -> MyShopOut:
    """My shop in any status; 404 `no_shop` before I open one."""
    return _my_shop_out(request, _my_shop(request))


@router.patch("/mine", response={200: MyShopOut, **ERRORS})
def update_my_shop(request: HttpRequest, payload: ShopPatchIn) -> MyShopOut:
    """Change the name and/or pitch; omitted fields stay as they are."""
    shop = services.shop_update(user=request.user, shop=_my_shop(request), name=payload.name, pitch=payload.pitch)
    return _my_shop_out(request, shop)


@router.post("/mine/avatar", response={200: MyShopOut, **ERRORS})
def upload_avatar(request: HttpRequest, avatar: File[UploadedFile]) -> MyShopOut:
    """Multipart `avatar`: JPEG, PNG, WebP or GIF judged by content; stored re-encoded, 400 px."""
    shop = services.shop_update(user=request.user, shop=_my_shop(request), avatar=avatar)
    return _my_shop_out(request, shop)


@router.get("/mine/items", response={200: MyItemPage, **ERRORS})
def my_items(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> MyItemPage:
    """All my items, including products that are no longer available (`is_available` false)."""
    items, next_cursor = selectors.shop_items_for_owner_page(shop=_my_shop(request), cursor=cursor, limit=_limit(limit))
    return MyItemPage(items=[_my_item_out(request, item) for item in items], next_cursor=next_cursor)


@router.post("/mine/items", response={201: MyItemOut, **ERRORS})
def add_item(request: HttpRequest, payload: ItemIn) -> tuple[int, MyItemOut]:
    """Add a product from the pool with my recommendation (plain text, at most 280 characters).
    422 `not_available` unless it is listed by a verified merchant; 409 `already_in_shop`;
    422 `shop_full` past 200 items."""
    item = services.shop_item_add(
        user=request.user, product_id=payload.product_id, recommendation=payload.recommendation
    )
    return 201, _my_item_out(request, selectors.shop_item_for_owner(user=request.user, item_id=item.pk))


@router.patch("/mine/items/{item_id}", response={200: MyItemOut, **ERRORS})
def update_item(request: HttpRequest, item_id: int, payload: ItemPatchIn) -> MyItemOut:
    """Edit the recommendation or the position (lower first) of one of my items."""
    services.shop_item_update(
        user=request.user, item_id=item_id, recommendation=payload.recommendation, position=payload.position
    )
    return _my_item_out(request, selectors.shop_item_for_owner(user=request.user, item_id=item_id))


@router.delete("/mine/items/{item_id}", response={204: None, **ERRORS})
def remove_item(request: HttpRequest, item_id: int) -> tuple[int, None]:
    services.shop_item_remove(user=request.user, item_id=item_id)
    return 204, None


# --- the pool -----------------------------------------------------------------------------


@router.get("/pool", response={200: PoolPage, **ERRORS})
def pool(
    request: HttpRequest,
    category: str | None = None,
    min_rate_bps: int | None = None,
    order: str = "rate",
    cursor: str | None = None,
    limit: int | None = None,
) -> PoolPage:
    """Products a shopkeeper may pick, with the commission rate in effect now and the estimated
    commission per unit (minor units, at the lowest price). `category` is a slug or id (its
    subcategories included); `order` is `rate`, `quality` (smoothed rating) or `new`."""
    category_id = category_by_slug_or_id(value=category).pk if category else None
    cards, next_cursor = selectors.pool_page(
        category_id=category_id, min_rate_bps=min_rate_bps, order=order, cursor=cursor, limit=_limit(limit)
    )
    mine = selectors.shop_product_ids(shop=selectors.shop_for_user(user=request.user))
    return PoolPage(
        items=[
            PoolCardOut(
                product_id=card.product.pk,
                slug=card.product.slug,
                title=card.product.title,
                url=_absolute(request, reverse("catalog:product", args=[card.product.slug])),
                merchant_name=card.product.merchant.name,
                price=card.product.min_price,
                currency=card.product.currency,
                thumbnail_url=_absolute(request, thumbnail_url(card.product)),
                rate_bps=card.rate_bps,
                estimated_commission=card.estimated_commission,
                review_count=card.review_count,
                quality=card.quality,
                in_my_shop=card.product.pk in mine,
            )
            for card in cards
        ],
        next_cursor=next_cursor,
    )


# --- merchants ----------------------------------------------------------------------------


@router.get("/merchant/products/{product_id}/commission", response={200: CommissionOut, **ERRORS})
def get_commission(request: HttpRequest, product_id: int) -> CommissionOut:
    """For members of the product's merchant: the rate now, a pending decrease, the history (latest
    first) and the shops that carry the product. Anyone else: 404."""
    product = selectors.merchant_product_for_member(user=request.user, product_id=product_id)
    return _commission_out(request, product)


@router.put("/merchant/products/{product_id}/commission", response={200: CommissionOut, **ERRORS})
def set_commission(request: HttpRequest, product_id: int, payload: CommissionIn) -> CommissionOut:
    """Set the rate in basis points (100-8000, i.e. 1-80%; 422 `rate_out_of_range`). An increase
    applies at once; a decrease applies to clicks after the notice period (`decrease_notice_days`)."""
    services.commission_rate_set(actor=request.user, product_id=product_id, rate_bps=payload.rate_bps)
    product = selectors.merchant_product_for_member(user=request.user, product_id=product_id)
    return _commission_out(request, product)


# --- public shops -------------------------------------------------------------------------


@router.get("/{slug}", response={200: ShopOut, **ERRORS}, auth=optional_auth)
def shop_detail(request: HttpRequest, slug: str) -> ShopOut:
    """A shop's public card; 404 unless it is active."""
    return ShopOut(**_shop_fields(request, selectors.shop_by_slug(slug=slug)))


@router.get("/{slug}/items", response={200: ItemPage, **ERRORS}, auth=optional_auth)
def shop_detail_items(request: HttpRequest, slug: str, cursor: str | None = None, limit: int | None = None) -> ItemPage:
    """The shop's products that buyers can see, in the shopkeeper's order, with their recommendation."""
    shop = selectors.shop_by_slug(slug=slug)
    items, next_cursor = selectors.shop_items_page(shop=shop, cursor=cursor, limit=_limit(limit))
    return ItemPage(items=[ItemOut(**_item_fields(request, item)) for item in items], next_cursor=next_cursor)
