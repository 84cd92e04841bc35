"""Feeds API: the signed-in member's home feed, discover and hashtag pages, cursor-paginated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from ninja import Router, Schema

from grassroots.core.api_auth import ApiAuth, optional_auth
from grassroots.core.api_schemas import error_responses
from grassroots.feeds import selectors
from grassroots.notes.models import Note

router = Router(tags=["feeds"])


ERRORS = error_responses(400, 401, 404, 422)


class CardProductOut(Schema):
    id: int
    title: str
    url: str
    thumbnail_url: str
    price: int
    currency: str


class NoteCardOut(Schema):
    id: int
    url: str
    title: str
    excerpt: str
    is_ad: bool
    author_handle: str
    author_name: str
    brand: str | None
    cover_url: str
    published_at: datetime | None
    like_count: int
    collect_count: int
    comment_count: int
    share_count: int
    viewer_liked: bool
    viewer_collected: bool
    products: list[CardProductOut]


class FeedPageOut(Schema):
    items: list[NoteCardOut]
    next_cursor: str | None


class HashtagPageOut(FeedPageOut):
    hashtag: str
    note_count: int


def _card(request: HttpRequest, note: Note) -> NoteCardOut:
    images = list(note.images.all())
    cover = ""
    if images:
        cover = images[0].thumbnail.url if images[0].thumbnail else images[0].image.url
    return NoteCardOut(
        id=note.pk,
        url=request.build_absolute_uri(reverse("notes:detail", kwargs={"pk": note.pk})),
        title=note.title,
        excerpt=note.body[:140],
        is_ad=note.is_ad,
        author_handle=note.author.handle or "",
        author_name=note.author.display_name,
        brand=note.merchant.name if note.merchant_id and note.merchant else None,
        cover_url=request.build_absolute_uri(cover) if cover else "",
        published_at=note.published_at,
        like_count=note.like_count,
        collect_count=note.collect_count,
        comment_count=note.comment_count,
        share_count=note.share_count,
        viewer_liked=getattr(note, "viewer_liked", False),
        viewer_collected=getattr(note, "viewer_collected", False),
        products=[
            CardProductOut(
                id=item.product.pk,
                title=item.product.title,
                url=request.build_absolute_uri(item.url),
                thumbnail_url=request.build_absolute_uri(item.thumb) if item.thumb else "",
                price=item.product.min_price,
                currency=item.product.currency,
            )
            for item in getattr(note, "card_products", [])
        ],
    )


def _out(request: HttpRequest, page: selectors.FeedPage) -> dict[str, Any]:
    return {"items": [_card(request, note) for note in page.notes], "next_cursor": page.next_cursor}


@router.get("/home", response={200: FeedPageOut, **ERRORS}, auth=ApiAuth())
def home(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
    """Notes of the people, shops and brands you follow, newest first."""
    return _out(request, selectors.home_feed(viewer=request.user, cursor=cursor, limit=limit))


@router.get("/discover", response={200: FeedPageOut, **ERRORS}, auth=optional_auth)
def discover(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
    """Notes ranked by engagement, recency and the tagged products' quality; two per author per page."""
    return _out(request, selectors.discover_feed(viewer=request.user, cursor=cursor, limit=limit))


@router.get("/tags/{name}", response={200: HashtagPageOut, **ERRORS}, auth=optional_auth)
def hashtag(request: HttpRequest, name: str, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
    """Visible notes with the hashtag, newest first."""
    tag, page = selectors.hashtag_feed(name=name, viewer=request.user, cursor=cursor, limit=limit)
    return {**_out(request, page), "hashtag": tag.name, "note_count": tag.note_count}
