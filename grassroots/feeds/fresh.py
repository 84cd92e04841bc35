"""What a feed card shows that changes all the time, read in SQL with the page: the note's
`updated_at` (to check the cached card), the Ad label, the counters and the viewer's like/collect
marks. A query that already reads the page's notes (the timeline scan, the read-time merge) selects
these columns too (`fresh_columns`), so the page needs no separate query for them; otherwise
`fresh_read` reads them for a list of ids in one query.

SQL rather than the ORM because every feed page runs it: building the queryset cost more CPU than
PostgreSQL spent answering it. The visibility conditions are notes_public()'s (`public_condition`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from grassroots.core.rawsql import datetime_value, placeholders
from grassroots.interactions.models import CollectMark, Like
from grassroots.notes.models import Note

COUNTERS = ("like_count", "collect_count", "comment_count", "share_count")
# (updated_at, is_ad, like, collect, comment, share, viewer liked, viewer collected)
Fresh = tuple[datetime | None, bool, int, int, int, int, bool, bool]


def public_condition(alias: str) -> tuple[str, list[Any]]:
    """notes_public(): published, visible to moderation (deleted notes are not published)."""
    return f"{alias}.status = %s AND {alias}.moderation = %s", [
        Note.Status.PUBLISHED.value,
        Note.Moderation.VISIBLE.value,
    ]


def fresh_columns(alias: str, viewer_id: int | None) -> tuple[str, list[Any]]:
    """The select-list fragment of the eight Fresh columns for the note table aliased `alias`."""
    marks, params = "0, 0", []
    if viewer_id is not None:
        like, collect = Like._meta.db_table, CollectMark._meta.db_table
        marks = (
            f"EXISTS (SELECT 1 FROM {like} AS fl WHERE fl.user_id = %s AND fl.note_id = {alias}.id), "  # noqa: S608
            f"EXISTS (SELECT 1 FROM {collect} AS fc WHERE fc.user_id = %s AND fc.note_id = {alias}.id)"
        )
        params = [viewer_id, viewer_id]
    counters = ", ".join(f"{alias}.{name}" for name in COUNTERS)
    return f"{alias}.updated_at, {alias}.is_ad, {counters}, {marks}", params


def fresh_value(columns: Sequence[Any]) -> Fresh:
    """A Fresh tuple from the eight columns of `fresh_columns` as the cursor returned them."""
    updated_at, is_ad, like, collect, comment, share, liked, collected = columns
    return (
        datetime_value(updated_at),
        bool(is_ad),
        int(like),
        int(collect),
        int(comment),
        int(share),
        bool(liked),
        bool(collected),
    )


def fresh_read(note_ids: Sequence[int], viewer_id: int | None) -> dict[int, Fresh]:
    """{note id: Fresh} for the notes among these that are still public. One query."""
    ids = list(dict.fromkeys(note_ids))
    if not ids:
        return {}
    columns, params = fresh_columns("n", viewer_id)
    condition, condition_params = public_condition("n")
    sql = (
        f"SELECT n.id, {columns} FROM {Note._meta.db_table} AS n"  # noqa: S608 (names from metadata, values bound)
        f" WHERE n.id IN ({placeholders(ids)}) AND {condition}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *ids, *condition_params])
        return {int(row[0]): fresh_value(row[1:]) for row in cursor.fetchall()}
