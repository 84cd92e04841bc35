"""Template helpers for the like / collect / share / comment bar and the comment thread."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from grassroots.interactions.selectors import interactions_viewer_state
from grassroots.interactions.services import note_url

register = template.Library()


@register.simple_tag
def note_page_url(note: Any) -> str:
    return note_url(note.pk)


@register.simple_tag
def note_share_url(note: Any) -> str:
    """The note's share action (mints an attributed link); the note page until that exists."""
    try:
        return reverse("notes:share", args=[note.pk])
    except NoReverseMatch:
        return note_url(note.pk)


@register.simple_tag(takes_context=True)
def note_viewer_state(context: template.Context, note: Any) -> dict[str, bool]:
    """{"liked", "collected"} for the current viewer: from attributes on the note when a list page
    loaded them in bulk (interactions_viewer_state), else `viewer_liked` / `viewer_collected` in the
    context (no query either way), otherwise looked up for this one note (two queries)."""
    liked = getattr(note, "viewer_liked", None)
    if liked is None:
        liked = context.get("viewer_liked")
    collected = getattr(note, "viewer_collected", None)
    if collected is None:
        collected = context.get("viewer_collected")
    if liked is not None and collected is not None:
        return {"liked": bool(liked), "collected": bool(collected)}
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"liked": False, "collected": False}
    state = interactions_viewer_state(viewer_id=user.pk, note_ids=[note.pk])[note.pk]
    return {
        "liked": bool(liked) if liked is not None else state["liked"],
        "collected": bool(collected) if collected is not None else state["collected"],
    }
