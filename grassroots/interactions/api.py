"""Interactions API: likes, collections and their items, comments and replies.

Errors are `{"code", "message", "fields"}`: 404 `note_not_found` / `collection_not_found` (also for
someone else's collection) / `comment_not_found`, 409 `note_unavailable` (deleted, hidden or removed
note), 403 `blocked`, 422 `body_required` / `body_too_long` / `reply_depth` / `name_too_long`,
409 `collection_name_taken`, 429 `rate_limited` with Retry-After.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema

from grassroots.core.api_auth import optional_auth
from grassroots.core.api_schemas import error_responses
from grassroots.core.errors import ValidationFailed
from grassroots.core.numbers import digits_int
from grassroots.interactions import selectors, services
from grassroots.interactions.models import Collection, CollectionItem, Comment
from grassroots.notes.models import Note

router = Router(tags=["interactions"])
DEFAULT_LIMIT = 20
MAX_STATE_NOTES = 100


ERRORS = error_responses(400, 403, 404, 409, 422, 429)


def _me(request: HttpRequest) -> int:
    """The signed-in user's id (the endpoint requires authentication)."""
    user_id = request.user.pk
    assert isinstance(user_id, int)
    return user_id


def _viewer_id(request: HttpRequest) -> int | None:
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None


def _limit(limit: int | None) -> int:
    return DEFAULT_LIMIT if limit is None else limit


# --- likes --------------------------------------------------------------------------------------


class LikeOut(Schema):
    note_id: int
    liked: bool
    changed: bool
    like_count: int


def _like_out(note_id: int, *, liked: bool, changed: bool) -> LikeOut:
    count = Note.objects.filter(pk=note_id).values_list("like_count", flat=True).first() or 0
    return LikeOut(note_id=note_id, liked=liked, changed=changed, like_count=count)


@router.post("/notes/{note_id}/like", response={200: LikeOut, **ERRORS})
def like(request: HttpRequest, note_id: int) -> LikeOut:
    """Like a note (idempotent: `changed` is false when it was already liked)."""
    changed = services.like_add(user=request.user, note_id=note_id)
    return _like_out(note_id, liked=True, changed=changed)


@router.delete("/notes/{note_id}/like", response={200: LikeOut, **ERRORS})
def unlike(request: HttpRequest, note_id: int) -> LikeOut:
    """Take a like back (idempotent)."""
    changed = services.like_remove(user=request.user, note_id=note_id)
    return _like_out(note_id, liked=False, changed=changed)


class ViewerStateOut(Schema):
    note_id: int
    liked: bool
    collected: bool


@router.get("/state", response={200: list[ViewerStateOut], **ERRORS}, auth=optional_auth)
def viewer_state(request: HttpRequest, note_ids: str) -> list[ViewerStateOut]:
    """Whether I liked / collected each note; `note_ids` is a comma-separated list (at most 100)."""
    parts = [part for part in note_ids.split(",") if part.strip()]
    parsed = [digits_int(part) for part in parts[: MAX_STATE_NOTES + 1]]
    ids = [value for value in parsed if value is not None]
    if len(ids) != len(parsed):
        raise ValidationFailed(_("note_ids must be integers."), fields={"note_ids": "invalid"})
    if len(ids) > MAX_STATE_NOTES:
        raise ValidationFailed(_("Too many note_ids."), fields={"note_ids": "too_many"})
    state = selectors.interactions_viewer_state(viewer_id=_viewer_id(request), note_ids=ids)
    return [ViewerStateOut(note_id=k, liked=v["liked"], collected=v["collected"]) for k, v in state.items()]


# --- collections --------------------------------------------------------------------------------


class CollectionOut(Schema):
    id: int
    name: str
    is_default: bool
    item_count: int
    created_at: datetime


class CollectionIn(Schema):
    name: str


class CollectionItemIn(Schema):
    note_id: int


class CollectIn(Schema):
    collection_id: int | None = None


class CollectOut(Schema):
    note_id: int
    collection: CollectionOut
    changed: bool
    collect_count: int


class UncollectOut(Schema):
    note_id: int
    removed: int
    collect_count: int


class NoteBriefOut(Schema):
    id: int
    title: str
    author_handle: str | None
    is_ad: bool
    published_at: datetime | None
    like_count: int
    collect_count: int
    comment_count: int
    url: str


class CollectionItemOut(Schema):
    note: NoteBriefOut
    added_at: datetime


class CollectionItemPage(Schema):
    items: list[CollectionItemOut]
    next_cursor: str | None


def _collection_out(collection: Collection) -> CollectionOut:
    return CollectionOut(
        id=collection.pk,
        name=collection.name,
        is_default=collection.is_default,
        item_count=collection.item_count,
        created_at=collection.created_at,
    )


def _note_brief(note: Note) -> NoteBriefOut:
    return NoteBriefOut(
        id=note.pk,
        title=note.title,
        author_handle=note.author.handle,
        is_ad=note.is_ad,
        published_at=note.published_at,
        like_count=note.like_count,
        collect_count=note.collect_count,
        comment_count=note.comment_count,
        url=services.note_url(note.pk),
    )


def _item_out(item: CollectionItem) -> CollectionItemOut:
    return CollectionItemOut(note=_note_brief(item.note), added_at=item.created_at)


def _collect_count(note_id: int) -> int:
    return Note.objects.filter(pk=note_id).values_list("collect_count", flat=True).first() or 0


@router.get("/collections", response={200: list[CollectionOut], **ERRORS})
def collections(request: HttpRequest) -> list[CollectionOut]:
    """My collections (they are private), the default one ("Saved") first."""
    return [_collection_out(c) for c in selectors.collections_of_user(owner_id=_me(request))]


@router.post("/collections", response={201: CollectionOut, **ERRORS})
def collection_create(request: HttpRequest, payload: CollectionIn) -> tuple[int, CollectionOut]:
    """Names are plain text, unique per owner, at most 40 characters."""
    return 201, _collection_out(services.collection_create(user=request.user, name=payload.name))


@router.get("/collections/{collection_id}", response={200: CollectionOut, **ERRORS})
def collection_detail(request: HttpRequest, collection_id: int) -> CollectionOut:
    return _collection_out(selectors.collection_of_owner(owner_id=_me(request), collection_id=collection_id))


@router.patch("/collections/{collection_id}", response={200: CollectionOut, **ERRORS})
def collection_rename(request: HttpRequest, collection_id: int, payload: CollectionIn) -> CollectionOut:
    return _collection_out(
        services.collection_rename(user=request.user, collection_id=collection_id, name=payload.name)
    )


@router.delete("/collections/{collection_id}", response={204: None, **ERRORS})
def collection_delete(request: HttpRequest, collection_id: int) -> tuple[int, None]:
    services.collection_delete(user=request.user, collection_id=collection_id)
    return 204, None


@router.get("/collections/{collection_id}/items", response={200: CollectionItemPage, **ERRORS})
def collection_items(
    request: HttpRequest, collection_id: int, cursor: str | None = None, limit: int | None = None
) -> CollectionItemPage:
    """Newest first; notes no longer public are left out."""
    collection = selectors.collection_of_owner(owner_id=_me(request), collection_id=collection_id)
    items, next_cursor = selectors.collection_items(
        collection=collection, viewer_id=request.user.pk, cursor=cursor, limit=_limit(limit)
    )
    return CollectionItemPage(items=[_item_out(i) for i in items], next_cursor=next_cursor)


@router.post("/collections/{collection_id}/items", response={200: CollectOut, 201: CollectOut, **ERRORS})
def collection_item_add(request: HttpRequest, collection_id: int, payload: CollectionItemIn) -> tuple[int, CollectOut]:
    """Put a note into this collection: 201 when added, 200 when it was already there."""
    collection, created = services.collect_add(user=request.user, note_id=payload.note_id, collection_id=collection_id)
    out = CollectOut(
        note_id=payload.note_id,
        collection=_collection_out(collection),
        changed=created,
        collect_count=_collect_count(payload.note_id),
    )
    return (201 if created else 200), out


@router.delete("/collections/{collection_id}/items/{note_id}", response={204: None, **ERRORS})
def collection_item_remove(request: HttpRequest, collection_id: int, note_id: int) -> tuple[int, None]:
    services.collect_remove(user=request.user, note_id=note_id, collection_id=collection_id)
    return 204, None


@router.post("/notes/{note_id}/collect", response={200: CollectOut, 201: CollectOut, **ERRORS})
def collect(request: HttpRequest, note_id: int, payload: CollectIn | None = None) -> tuple[int, CollectOut]:
    """Collect a note into `collection_id`, or into the default collection ("Saved", created on
    first use) when omitted."""
    collection_id = payload.collection_id if payload is not None else None
    collection, created = services.collect_add(user=request.user, note_id=note_id, collection_id=collection_id)
    out = CollectOut(
        note_id=note_id, collection=_collection_out(collection), changed=created, collect_count=_collect_count(note_id)
    )
    return (201 if created else 200), out


@router.delete("/notes/{note_id}/collect", response={200: UncollectOut, **ERRORS})
def uncollect(request: HttpRequest, note_id: int) -> UncollectOut:
    """Take the note out of all my collections."""
    removed = services.collect_remove(user=request.user, note_id=note_id)
    return UncollectOut(note_id=note_id, removed=removed, collect_count=_collect_count(note_id))


# --- comments -----------------------------------------------------------------------------------


class AuthorOut(Schema):
    id: int
    handle: str | None
    display_name: str


class CommentOut(Schema):
    id: int
    note_id: int
    parent_id: int | None
    author: AuthorOut
    status: str
    body: str
    body_html: str
    moderation_reason: str
    reply_count: int
    created_at: datetime


class ThreadOut(CommentOut):
    replies: list[CommentOut]


class ThreadPage(Schema):
    items: list[ThreadOut]
    next_cursor: str | None


class CommentPageOut(Schema):
    items: list[CommentOut]
    next_cursor: str | None


class CommentIn(Schema):
    body: str


def _comment_out(comment: Comment, viewer_id: int | None) -> dict[str, Any]:
    """Deleted and moderated comments keep their place but not their text, except for their author,
    who sees the text and the moderators' reason."""
    own = viewer_id is not None and comment.author_id == viewer_id
    shown = comment.status == Comment.Status.VISIBLE or (own and comment.status != Comment.Status.DELETED)
    return {
        "id": comment.pk,
        "note_id": comment.note_id,
        "parent_id": comment.parent_id,
        "author": {
            "id": comment.author.pk,
            "handle": comment.author.handle,
            "display_name": comment.author.display_name,
        },
        "status": comment.status,
        "body": comment.body if shown else "",
        "body_html": comment.body_html if shown else "",
        "moderation_reason": comment.moderation_reason if own else "",
        "reply_count": comment.reply_count,
        "created_at": comment.created_at,
    }


@router.get("/notes/{note_id}/comments", response={200: ThreadPage, **ERRORS}, auth=optional_auth)
def comments(request: HttpRequest, note_id: int, cursor: str | None = None, limit: int | None = None) -> ThreadPage:
    """Top-level comments, oldest first, each with its first replies (the rest via
    `/comments/{id}/replies`). Comments by people you blocked, who blocked you, or you muted are
    left out."""
    viewer_id = _viewer_id(request)
    note = selectors.note_for_comments(note_id=note_id, viewer_id=viewer_id)
    page = selectors.comments_for_note(note_id=note.pk, viewer_id=viewer_id, cursor=cursor, limit=_limit(limit))
    items = [
        ThreadOut(
            **_comment_out(c, viewer_id),
            replies=[CommentOut(**_comment_out(r, viewer_id)) for r in c.preview_replies],  # type: ignore[attr-defined]
        )
        for c in page.items
    ]
    return ThreadPage(items=items, next_cursor=page.next_cursor)


@router.post("/notes/{note_id}/comments", response={201: CommentOut, **ERRORS})
def comment_create(request: HttpRequest, note_id: int, payload: CommentIn) -> tuple[int, CommentOut]:
    """Plain text up to 1000 characters; @handles are linked and notified."""
    comment = services.comment_create(user=request.user, note_id=note_id, body=payload.body)
    return 201, CommentOut(**_comment_out(comment, request.user.pk))


@router.get("/comments/{comment_id}/replies", response={200: CommentPageOut, **ERRORS}, auth=optional_auth)
def replies(
    request: HttpRequest, comment_id: int, cursor: str | None = None, limit: int | None = None
) -> CommentPageOut:
    viewer_id = _viewer_id(request)
    top = selectors.comment_for_viewer(comment_id=comment_id, viewer_id=viewer_id)
    selectors.note_for_comments(note_id=top.note_id, viewer_id=viewer_id)
    items, next_cursor = selectors.comment_replies(
        comment_id=top.pk, viewer_id=viewer_id, cursor=cursor, limit=_limit(limit)
    )
    return CommentPageOut(items=[CommentOut(**_comment_out(c, viewer_id)) for c in items], next_cursor=next_cursor)


@router.post("/comments/{comment_id}/replies", response={201: CommentOut, **ERRORS})
def reply_create(request: HttpRequest, comment_id: int, payload: CommentIn) -> tuple[int, CommentOut]:
    """Reply to a top-level comment (a reply to a reply is 422 `reply_depth`)."""
    parent = selectors.comment_for_viewer(comment_id=comment_id, viewer_id=request.user.pk)
    comment = services.comment_create(user=request.user, note_id=parent.note_id, body=payload.body, parent_id=parent.pk)
    return 201, CommentOut(**_comment_out(comment, request.user.pk))


@router.delete("/comments/{comment_id}", response={204: None, **ERRORS})
def comment_delete(request: HttpRequest, comment_id: int) -> tuple[int, None]:
    """By the comment's author or the note's author."""
    services.comment_delete(user=request.user, comment_id=comment_id)
    return 204, None
