"""Reads for likes, collections and comments. Each function costs a fixed number of queries."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils.translation import gettext as _

from grassroots.core.errors import NotFound, PermissionDenied
from grassroots.core.pagination import paginate
from grassroots.interactions.models import Collection, CollectionItem, CollectMark, Comment, Like
from grassroots.notes.models import Note
from grassroots.notes.selectors import notes_public
from grassroots.social.selectors import social_blocked_between, social_hidden_author_ids

COMMENTS_PAGE_SIZE = 20
REPLIES_PREVIEW = 3
REPLIES_PAGE_SIZE = 20
COLLECTION_PAGE_SIZE = 24


# --- viewer state for note lists ----------------------------------------------------------------


def viewer_liked(*, viewer_id: int | None, note_ids: Iterable[int]) -> set[int]:
    """Which of these notes the viewer liked. One query (none for anonymous viewers)."""
    ids = list(note_ids)
    if viewer_id is None or not ids:
        return set()
    return set(Like.objects.filter(user_id=viewer_id, note_id__in=ids).values_list("note_id", flat=True))


def viewer_collected(*, viewer_id: int | None, note_ids: Iterable[int]) -> set[int]:
    """Which of these notes are in at least one of the viewer's collections. One query."""
    ids = list(note_ids)
    if viewer_id is None or not ids:
        return set()
    return set(CollectMark.objects.filter(user_id=viewer_id, note_id__in=ids).values_list("note_id", flat=True))


def interactions_viewer_state(*, viewer_id: int | None, note_ids: Iterable[int]) -> dict[int, dict[str, bool]]:
    """{note_id: {"liked": bool, "collected": bool}} for every given note. Two queries at most."""
    ids = list(dict.fromkeys(note_ids))
    liked = viewer_liked(viewer_id=viewer_id, note_ids=ids)
    collected = viewer_collected(viewer_id=viewer_id, note_ids=ids)
    return {note_id: {"liked": note_id in liked, "collected": note_id in collected} for note_id in ids}


# --- comments -----------------------------------------------------------------------------------


@dataclass
class CommentPage:
    """A page of top-level comments; each carries `preview_replies` (the first few visible replies)."""

    note: Note | None
    items: list[Comment]
    next_cursor: str | None
    viewer_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Comment]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


def note_for_comments(*, note_id: int, viewer_id: int | None) -> Note:
    """The note whose comments the viewer may read: public, or the viewer's own; 403 across a block."""
    note = Note.objects.filter(pk=note_id).select_related("author").first()
    if note is None:
        raise NotFound(_("Note not found."), code="note_not_found")
    is_public = note.status == Note.Status.PUBLISHED and note.moderation == Note.Moderation.VISIBLE
    if not is_public and note.author_id != viewer_id:
        raise NotFound(_("Note not found."), code="note_not_found")
    if social_blocked_between(user_id=viewer_id, other_id=note.author_id):
        raise PermissionDenied(_("You cannot see this note."), code="blocked")
    return note


def _shown_to(viewer_id: int | None, hidden: set[int]) -> Q:
    """Comments the viewer sees: visible ones by authors not hidden to them, plus their own hidden or
    removed comments (so they see why)."""
    shown = Q(status=Comment.Status.VISIBLE)
    if viewer_id is not None:
        shown |= Q(author_id=viewer_id, status__in=[Comment.Status.HIDDEN, Comment.Status.REMOVED])
    condition = shown & ~Q(author_id__in=hidden) if hidden else shown
    return condition


def comments_for_note(
    *,
    note_id: int,
    viewer_id: int | None,
    cursor: str | None = None,
    limit: int = COMMENTS_PAGE_SIZE,
    hidden_author_ids: set[int] | None = None,
) -> CommentPage:
    """Top-level comments oldest first (cursor-paginated), each with up to REPLIES_PREVIEW replies.
    A deleted or moderated top-level comment that still has visible replies stays as a placeholder.
    Three queries (hidden authors, top level, replies) whatever the page size."""
    hidden = hidden_author_ids if hidden_author_ids is not None else social_hidden_author_ids(viewer_id=viewer_id)
    top_condition = _shown_to(viewer_id, hidden) | (
        Q(reply_count__gt=0) & ~Q(status=Comment.Status.VISIBLE) & ~Q(author_id__in=hidden)
    )
    top_level = Comment.objects.filter(top_condition, note_id=note_id, parent__isnull=True).select_related("author")
    items, next_cursor = paginate(top_level, cursor=cursor, limit=limit, order=("created_at", "id"))
    for comment in items:
        comment.preview_replies = []  # type: ignore[attr-defined]
    if items:
        by_id = {c.pk: c for c in items}
        replies = (
            Comment.objects.filter(_shown_to(viewer_id, hidden), parent_id__in=list(by_id))
            .select_related("author")
            .annotate(position=Window(RowNumber(), partition_by=[F("parent_id")], order_by=[F("created_at"), F("id")]))
            .filter(position__lte=REPLIES_PREVIEW)
            .order_by("parent_id", "created_at", "id")
        )
        for reply in replies:
            by_id[reply.parent_id].preview_replies.append(reply)  # type: ignore[index,attr-defined]
    return CommentPage(note=None, items=items, next_cursor=next_cursor, viewer_id=viewer_id)


def comment_replies(
    *, comment_id: int, viewer_id: int | None, cursor: str | None = None, limit: int = REPLIES_PAGE_SIZE
) -> tuple[list[Comment], str | None]:
    """All replies of one top-level comment, oldest first, cursor-paginated."""
    hidden = social_hidden_author_ids(viewer_id=viewer_id)
    queryset = Comment.objects.filter(_shown_to(viewer_id, hidden), parent_id=comment_id).select_related("author")
    return paginate(queryset, cursor=cursor, limit=limit, order=("created_at", "id"))


def comment_for_viewer(*, comment_id: int, viewer_id: int | None) -> Comment:
    comment = Comment.objects.filter(pk=comment_id).select_related("author").first()
    if comment is None:
        raise NotFound(_("Comment not found."), code="comment_not_found")
    return comment


# --- collections --------------------------------------------------------------------------------


def collections_of_user(*, owner_id: int) -> QuerySet[Collection]:
    """The owner's collections, the default one first, then by name."""
    return Collection.objects.filter(owner_id=owner_id).order_by("-is_default", "name", "id")


def collection_of_owner(*, owner_id: int, collection_id: int) -> Collection:
    """One of the owner's collections; someone else's collection is reported as missing (no IDOR)."""
    collection = Collection.objects.filter(pk=collection_id, owner_id=owner_id).first()
    if collection is None:
        raise NotFound(_("Collection not found."), code="collection_not_found")
    return collection


def collections_with_note(*, owner_id: int, note_id: int) -> set[int]:
    """Ids of the owner's collections that hold the note."""
    return set(
        CollectionItem.objects.filter(collection__owner_id=owner_id, note_id=note_id).values_list(
            "collection_id", flat=True
        )
    )


def collection_items(
    *,
    collection: Collection,
    viewer_id: int | None,
    cursor: str | None = None,
    limit: int = COLLECTION_PAGE_SIZE,
) -> tuple[list[CollectionItem], str | None]:
    """Items of a collection whose notes are public and not by authors hidden to the viewer, newest
    first, with each note's author, merchant, images and tagged products loaded (fixed queries)."""
    hidden = social_hidden_author_ids(viewer_id=viewer_id)
    notes = notes_public()
    if hidden:
        notes = notes.exclude(author_id__in=hidden)
    queryset = CollectionItem.objects.filter(collection=collection, note__in=notes).select_related(
        "note", "note__author", "note__merchant"
    )
    items, next_cursor = paginate(queryset, cursor=cursor, limit=limit, order=("-created_at", "-id"))
    _prepare_cards([item.note for item in items], viewer_id=viewer_id)
    return items, next_cursor


def _prepare_cards(notes: list[Note], *, viewer_id: int | None) -> None:
    """Load what notes/_card.html needs (images, product cards) and the viewer's like/collect state,
    in a fixed number of queries."""
    if not notes:
        return
    from grassroots.notes import selectors as note_selectors

    notes_cards = getattr(note_selectors, "notes_cards", None)
    if notes_cards is not None:
        notes_cards(notes)
    else:  # pragma: no cover - before the notes app provides card loading
        from django.db.models import prefetch_related_objects

        prefetch_related_objects(notes, "images")
    state = interactions_viewer_state(viewer_id=viewer_id, note_ids=[n.pk for n in notes])
    for note in notes:
        note.viewer_liked = state[note.pk]["liked"]  # type: ignore[attr-defined]
        note.viewer_collected = state[note.pk]["collected"]  # type: ignore[attr-defined]
