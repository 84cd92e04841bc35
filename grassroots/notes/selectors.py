"""Reads of notes. `notes_public` is the one definition of "visible to readers" every feed uses."""

from __future__ import annotations

from django.db.models import QuerySet

from grassroots.notes.models import Note


def notes_public() -> QuerySet[Note]:
    """Published, not hidden or removed by moderation, not deleted."""
    return Note.objects.filter(status=Note.Status.PUBLISHED, moderation=Note.Moderation.VISIBLE)
