"""Writing notes."""

from __future__ import annotations

from typing import Literal

from django.db.models import F
from django.db.models.functions import Greatest

from grassroots.notes.models import Note

NoteCounter = Literal["like_count", "collect_count", "comment_count", "share_count"]


def note_counter_add(*, note_id: int, counter: NoteCounter, delta: int) -> None:
    """Change one exact counter by delta in the caller's transaction (the same transaction that adds
    or removes the counted row, so the count cannot drift)."""
    Note.objects.filter(pk=note_id).update(**{counter: Greatest(F(counter) + delta, 0)})
