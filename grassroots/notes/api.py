"""Notes API: compose (JSON, or multipart with images), read, edit, publish, delete, share, lists.

Fixed paths (`/drafts`, `/by/{handle}`) come before `/{note_id}`. Errors use the common shape;
a note the caller may not see (deleted, someone else's draft, hidden, or either has blocked the
other) is a 404.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import File, Router, Schema, UploadedFile

from grassroots.core.api_auth import optional_auth
from grassroots.core.api_schemas import error_responses
from grassroots.core.conf import gr_setting
from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.core.pagination import check_time_cursor, paginate
from grassroots.notes import selectors, services
from grassroots.notes.models import Note
from grassroots.notes.selectors import NOTE_ORDER

router = Router(tags=["notes"])


ERRORS = error_responses(400, 401, 403, 404, 409, 422, 429)


class ImageOut(Schema):
    id: int
    url: str
    thumbnail_url: str
    width: int
    height: int


class ProductCardOut(Schema):
    product_id: int
    title: str
    slug: str
    price: int
    currency: str
    thumbnail_url: str
    # Through the author's shop (attributed to it and to this note) when via_shop, else the product page.
    url: str
    via_shop: bool


class NoteOut(Schema):
    id: int
    url: str
    title: str
    body: str
    body_html: str
    status: str
    moderation: str
    # Only the author is told why a note was hidden or removed.
    moderation_reason: str
    is_ad: bool
    author_handle: str
    merchant_id: int | None
    merchant_name: str
    images: list[ImageOut]
    products: list[ProductCardOut]
    like_count: int
    collect_count: int
    comment_count: int
    share_count: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


class NotePage(Schema):
    items: list[NoteOut]
    next_cursor: str | None


class NoteIn(Schema):
    title: str
    body: str = ""
    product_ids: list[int] = []
    merchant_id: int | None = None
    publish: bool = False


class NotePatchIn(Schema):
    title: str | None = None
    body: str | None = None
    product_ids: list[int] | None = None
    # Ids of the images to keep, in the new order; the others are removed.
    image_order: list[int] | None = None


class ShareOut(Schema):
    url: str
    code: str
    qr_svg: str
    qr_svg_url: str
    share_count: int


def _abs(request: HttpRequest, url: str) -> str:
    return request.build_absolute_uri(url) if url else ""


def _note_out(request: HttpRequest, note: Note) -> NoteOut:
    is_author = getattr(request.user, "pk", None) == note.author_id
    return NoteOut(
        id=note.pk,
        url=_abs(request, reverse("notes:detail", kwargs={"pk": note.pk})),
        title=note.title,
        body=note.body,
        body_html=note.body_html,
        status=note.status,
        moderation=note.moderation,
        moderation_reason=note.moderation_reason if is_author else "",
        is_ad=note.is_ad,
        author_handle=note.author.handle or "",
        merchant_id=note.merchant_id,
        merchant_name=note.merchant.name if note.merchant is not None else "",
        images=[
            ImageOut(
                id=image.pk,
                url=_abs(request, image.image.url),
                thumbnail_url=_abs(request, image.thumbnail.url if image.thumbnail else image.image.url),
                width=image.width,
                height=image.height,
            )
            for image in note.images.all()
        ],
        products=[
            ProductCardOut(
                product_id=item.product.pk,
                title=item.product.title,
                slug=item.product.slug,
                price=item.product.min_price,
                currency=item.product.currency,
                thumbnail_url=_abs(request, item.thumb),
                url=_abs(request, item.url),
                via_shop=item.via_shop,
            )
            for item in getattr(note, "card_products", [])
        ],
        like_count=note.like_count,
        collect_count=note.collect_count,
        comment_count=note.comment_count,
        share_count=note.share_count,
        created_at=note.created_at,
        updated_at=note.updated_at,
        published_at=note.published_at,
    )


def _one(request: HttpRequest, note_id: int) -> NoteOut:
    note = selectors.note_for_viewer(note_id=note_id, viewer=request.user)
    return _note_out(request, selectors.notes_cards([note], request.user)[0])


def _limit(limit: int | None) -> int:
    return int(gr_setting("API_PAGE_SIZE")) if limit is None else limit


def _form_payload(request: HttpRequest) -> dict[str, Any]:
    """A multipart/form-data or JSON body as one dict (the multipart form of note_create)."""
    content_type = request.content_type or ""
    if content_type.startswith("multipart/form-data") or content_type == "application/x-www-form-urlencoded":
        from grassroots.notes.views import product_ids_from

        return {
            "title": request.POST.get("title"),
            "body": request.POST.get("body", ""),
            "product_ids": product_ids_from(request.POST),
            "merchant_id": request.POST.get("merchant_id") or None,
            "publish": request.POST.get("publish", "").lower() in {"1", "true", "on", "yes"},
            "images": request.FILES.getlist("images"),
        }
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationFailed(_("The request is not valid JSON."), code="invalid_json") from None
    if not isinstance(data, dict):
        raise ValidationFailed(_("The request is not valid JSON."), code="invalid_json")
    parsed = NoteIn.model_validate(data) if "title" in data else None
    if parsed is None:
        raise ValidationFailed(_("Give the note a title."), code="title_required", fields={"title": "required"})
    return {**parsed.model_dump(), "images": []}


CREATE_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": NoteIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["title"],
                    "properties": {
                        "title": {"type": "string"},
                        "body": {"type": "string"},
                        "product_ids": {"type": "string", "description": "Comma-separated product ids"},
                        "merchant_id": {"type": "integer"},
                        "publish": {"type": "boolean"},
                        "images": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                }
            },
        }
    }
}


@router.post("", response={201: NoteOut, **ERRORS}, openapi_extra=CREATE_BODY)
def note_create(request: HttpRequest) -> tuple[int, NoteOut]:
    """A draft, or with `publish` a published note. JSON, or multipart/form-data with up to 9
    `images` (a 10th is 422 `too_many_images`); products must be listed (422 `product_not_listed`);
    rate-limited (429 with Retry-After). Nothing is written when a check fails."""
    try:
        data = _form_payload(request)
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        raise ValidationFailed(
            "The request is not valid.", code="invalid", fields={"request": str(error)[:200]}
        ) from None
    note = services.note_create(author=request.user, **data)
    return 201, _one(request, note.pk)


@router.get("/drafts", response={200: NotePage, **ERRORS})
def drafts(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> NotePage:
    """My drafts, last edited first."""
    check_time_cursor(cursor)
    notes, next_cursor = paginate(
        selectors.notes_drafts(user=request.user), cursor=cursor, limit=_limit(limit), order=("-updated_at", "-id")
    )
    return NotePage(
        items=[_note_out(request, n) for n in selectors.notes_cards(notes, request.user)], next_cursor=next_cursor
    )


@router.get("/by/{handle}", response={200: NotePage, **ERRORS}, auth=optional_auth)
def by_author(request: HttpRequest, handle: str, cursor: str | None = None, limit: int | None = None) -> NotePage:
    """A member's published notes, newest first (404 for an unknown member)."""
    from grassroots.accounts.models import User

    check_time_cursor(cursor)
    author_id = User.objects.filter(handle=handle.lower()[:40], is_active=True).values_list("pk", flat=True).first()
    if author_id is None:
        raise NotFound(_("Member not found."))
    notes, next_cursor = paginate(
        selectors.notes_by_author(author_id=author_id, viewer=request.user),
        cursor=cursor,
        limit=_limit(limit),
        order=NOTE_ORDER,
    )
    return NotePage(
        items=[_note_out(request, n) for n in selectors.notes_cards(notes, request.user)], next_cursor=next_cursor
    )


@router.get("/{note_id}", response={200: NoteOut, **ERRORS}, auth=optional_auth)
def note_get(request: HttpRequest, note_id: int) -> NoteOut:
    """One note; 404 when deleted, not visible to you, or either of you blocked the other."""
    return _one(request, note_id)


@router.patch("/{note_id}", response={200: NoteOut, **ERRORS})
def note_update(request: HttpRequest, note_id: int, payload: NotePatchIn) -> NoteOut:
    """Edit my note; fields left out stay as they are."""
    services.note_update(
        user=request.user,
        note_id=note_id,
        title=payload.title,
        body=payload.body,
        product_ids=payload.product_ids,
        image_order=payload.image_order,
    )
    return _one(request, note_id)


@router.post("/{note_id}/images", response={200: NoteOut, **ERRORS})
def note_images_add(request: HttpRequest, note_id: int, images: File[list[UploadedFile]]) -> NoteOut:
    """Append images to my note (at most 9 in all: more is 422 `too_many_images`, nothing stored)."""
    services.note_images_add(user=request.user, note_id=note_id, images=images)
    return _one(request, note_id)


@router.post("/{note_id}/publish", response={200: NoteOut, **ERRORS})
def note_publish(request: HttpRequest, note_id: int) -> NoteOut:
    services.note_publish(user=request.user, note_id=note_id)
    return _one(request, note_id)


@router.delete("/{note_id}", response={204: None, **ERRORS})
def note_delete(request: HttpRequest, note_id: int) -> tuple[int, None]:
    services.note_delete(user=request.user, note_id=note_id)
    return 204, None


@router.post("/{note_id}/share", response={200: ShareOut, **ERRORS})
def note_share(request: HttpRequest, note_id: int) -> ShareOut:
    """The note's share URL (through the author's shop when they keep one, so sales through it are
    credited to them) and its QR code. Counted once per member."""
    shared = services.note_share(note_id=note_id, user=request.user, base_url=request.build_absolute_uri("/"))
    qr_url = _abs(request, reverse("attribution:qr_svg", kwargs={"code": shared.code})) if shared.code else ""
    return ShareOut(
        url=shared.url, code=shared.code, qr_svg=shared.qr_svg, qr_svg_url=qr_url, share_count=shared.share_count
    )
