"""Attribution API: the shopkeeper's share links and their QR codes, and which shop a purchase
would be credited to now."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from grassroots.attribution import selectors, services
from grassroots.attribution.models import ShareLink
from grassroots.attribution.views import VISITOR_COOKIE, qr_response
from grassroots.catalog.selectors import product_for_buyer
from grassroots.core.api_auth import optional_auth
from grassroots.core.api_schemas import error_responses
from grassroots.core.conf import gr_setting
from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.core.pagination import decode_cursor, paginate
from grassroots.shops.selectors import shop_for_user, shop_item_for_owner

router = Router(tags=["attribution"])
MAX_ID = 2**63 - 1


ERRORS = error_responses(400, 403, 404, 409, 422)


class LinkIn(Schema):
    shop_item_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class LinkOut(Schema):
    code: str
    kind: str
    shop_id: int
    product_id: int | None
    note_id: int | None = None
    url: str
    qr_svg_url: str
    qr_png_url: str
    click_count: int
    created_at: datetime


class LinkPage(Schema):
    items: list[LinkOut]
    next_cursor: str | None


class QrQuery(Schema):
    format: Literal["svg", "png"] = "svg"


class ResolveOut(Schema):
    product_id: int
    rule: str
    shop_id: int | None
    rate_bps: int
    member_price_discount_bps: int
    clicked_at: datetime | None


def _link_out(request: HttpRequest, link: ShareLink) -> LinkOut:
    short = selectors.share_link_path(link)
    return LinkOut(
        code=link.code,
        kind=link.kind,
        shop_id=link.shop_id,
        product_id=link.product_id,
        note_id=link.note_id,
        url=request.build_absolute_uri(short),
        qr_svg_url=request.build_absolute_uri(f"{short}qr.svg"),
        qr_png_url=request.build_absolute_uri(f"{short}qr.png"),
        click_count=link.click_count,
        created_at=link.created_at,
    )


def _check_cursor(cursor: str) -> None:
    """A cursor is client input: refuse anything but the one id this order writes, before SQL."""
    values = decode_cursor(cursor)
    if not (
        len(values) == 1 and isinstance(values[0], int) and not isinstance(values[0], bool) and 0 <= values[0] <= MAX_ID
    ):
        raise ValidationFailed(_("Invalid cursor."), code="invalid_cursor", fields={"cursor": "invalid"})


@router.post("/links", response={200: LinkOut, **ERRORS})
def link_create(request: HttpRequest, payload: LinkIn) -> LinkOut:
    """My shop's link, or with `shop_item_id` the link for one of my shop's items. Idempotent:
    the same item always gets the same link. Anyone else's item, or no shop, is a 404."""
    if payload.shop_item_id is not None:
        item = shop_item_for_owner(user=request.user, item_id=payload.shop_item_id)
        link = services.share_link_for(shop=item.shop, product=item.product)
    else:
        shop = shop_for_user(user=request.user)
        if shop is None:
            raise NotFound(_("You do not have a shop yet."), code="no_shop")
        link = services.share_link_for(shop=shop)
    return _link_out(request, link)


@router.get("/links", response={200: LinkPage, **ERRORS})
def link_list(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> LinkPage:
    """My shop's links with their click counts (non-bot, de-duplicated), newest first."""
    if cursor:
        _check_cursor(cursor)
    links, next_cursor = paginate(
        selectors.share_links_for_owner(user=request.user),
        cursor=cursor,
        limit=gr_setting("API_PAGE_SIZE") if limit is None else limit,
        order=("-id",),
    )
    return LinkPage(items=[_link_out(request, link) for link in links], next_cursor=next_cursor)


@router.get(
    "/links/{code}/qr",
    response={200: None, **ERRORS},
    openapi_extra={
        "responses": {
            200: {
                "description": "The QR code of the link's short URL.",
                "content": {
                    "image/svg+xml": {"schema": {"type": "string"}},
                    "image/png": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        }
    },
)
def link_qr(request: HttpRequest, code: str, query: Query[QrQuery]) -> HttpResponse:
    """The QR code of one of my links as SVG or PNG (`scale` 1-20 pixels per module)."""
    link = selectors.share_link_for_owner(user=request.user, code=code)
    return qr_response(request, link, query.format)


@router.get("/resolve", response={200: ResolveOut, **ERRORS}, auth=optional_auth)
def resolve(request: HttpRequest, product_id: int) -> ResolveOut:
    """Which shop would be credited if the caller (signed in or not) bought the product now from
    this device (the "gr_vid" cookie). Review holds are not disclosed."""
    product = product_for_buyer(slug_or_id=str(product_id), viewer=request.user)
    result = services.attribution_resolve(
        buyer=request.user,
        visitor_key=request.COOKIES.get(VISITOR_COOKIE),
        product_id=product.pk,
        at=timezone.now(),
    )
    return ResolveOut(
        product_id=result.product_id,
        rule=result.rule,
        shop_id=result.shop_id,
        rate_bps=result.rate_bps,
        member_price_discount_bps=result.member_price_discount_bps,
        clicked_at=result.clicked_at,
    )
