"""Where home timelines live: a database table or Redis sorted sets, behind one small interface.

A timeline holds, per reader, the ids of notes fanned out to them, ordered by (published_at, note id)
newest first, capped at FEED_TIMELINE_CAP. Writers hand over the followers as SQL (one
`INSERT ... SELECT` for the database backend; one SELECT then a pipeline for Redis); readers get
candidates already filtered by visibility and the viewer's hidden authors, plus how far the scan got
(`bound`), so the feed can merge them with the read-time sources without losing or repeating a note.
"""

# Table names come from model metadata and values are always bound parameters.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db import connection

from grassroots.core.rawsql import before_key, datetime_value, placeholders
from grassroots.feeds.conf import feeds_setting
from grassroots.feeds.fresh import Fresh, fresh_columns, fresh_value, public_condition
from grassroots.feeds.models import TimelineEntry
from grassroots.notes.models import Note
from grassroots.notes.selectors import notes_public
from grassroots.social.models import Block, Follow

# A position in a feed: (published_at, note id); a page holds keys strictly below the cursor.
Key = tuple[datetime, int]
Source = tuple[str, int]  # (target_kind, target_id)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
REDIS_BATCH = 1000


@dataclass(frozen=True)
class NoteRef:
    note_id: int
    author_id: int
    published_at: datetime


@dataclass(frozen=True)
class Candidates:
    """Visible notes from a timeline, newest first, and `bound`: None when everything below the
    cursor was seen, else the lowest key scanned (items below it may exist but were not read)."""

    keys: list[Key]
    bound: Key | None
    # What the page's cards need fresh, when the scan could read it at once (feeds.fresh; the owner's marks).
    fresh: dict[int, Fresh] = field(default_factory=dict)


def followers_sql(*, sources: Sequence[Source], author_id: int, exclude_blocked: bool = True) -> tuple[str, list[Any]]:
    """SELECT DISTINCT follower_id of any of `sources`, without those who block or are blocked by the
    author. Served by the (target_kind, target_id) follow index and the unique block index."""
    follow = Follow._meta.db_table
    block = Block._meta.db_table
    where = " OR ".join("(f.target_kind = %s AND f.target_id = %s)" for _source in sources)
    params: list[Any] = [value for source in sources for value in source]
    sql = f"SELECT DISTINCT f.follower_id FROM {follow} AS f WHERE ({where})"
    if exclude_blocked:
        sql += (
            f" AND NOT EXISTS (SELECT 1 FROM {block} AS b WHERE b.blocker_id = f.follower_id AND b.blocked_id = %s)"
            f" AND NOT EXISTS (SELECT 1 FROM {block} AS b2 WHERE b2.blocker_id = %s AND b2.blocked_id = f.follower_id)"
        )
        params += [author_id, author_id]
    return sql, params


def _visible_keys(note_ids: Iterable[int], hidden: set[int]) -> dict[int, datetime]:
    rows = notes_public().filter(pk__in=list(note_ids))
    if hidden:
        rows = rows.exclude(author_id__in=hidden)
    return {pk: moment for pk, moment in rows.values_list("pk", "published_at") if moment is not None}


class TimelineBackend(Protocol):
    name: str

    def fan_out(self, *, note: NoteRef, sources: Sequence[Source]) -> int: ...

    def add(self, *, owner_id: int, notes: Sequence[NoteRef]) -> None: ...

    def note_ids(self, *, owner_id: int) -> list[int]: ...

    def remove(self, *, owner_id: int, note_ids: Iterable[int]) -> None: ...

    def remove_note(self, *, note_id: int, sources: Sequence[Source], author_id: int) -> None: ...

    def candidates(self, *, owner_id: int, before: Key | None, limit: int, hidden: set[int]) -> Candidates: ...


class DatabaseTimeline:
    """TimelineEntry rows. Fan-out is one INSERT ... SELECT from Follow; trimming is one DELETE."""

    name = "db"

    def _trim(self, owners_sql: str, params: list[Any]) -> None:
        table = TimelineEntry._meta.db_table
        cap = int(feeds_setting("FEED_TIMELINE_CAP"))
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Per owner: find the (cap+1)-th newest entry through the recency index, delete it and older.
                cursor.execute(
                    f"""
                    DELETE FROM {table} AS t USING (
                        SELECT o.owner_id, c.published_at, c.note_id
                        FROM ({owners_sql}) AS o (owner_id)
                        CROSS JOIN LATERAL (
                            SELECT t2.published_at, t2.note_id FROM {table} AS t2
                            WHERE t2.owner_id = o.owner_id
                            ORDER BY t2.published_at DESC, t2.note_id DESC OFFSET %s LIMIT 1
                        ) AS c
                    ) AS cut
                    WHERE t.owner_id = cut.owner_id AND (t.published_at, t.note_id) <= (cut.published_at, cut.note_id)
                    """,
                    [*params, cap],
                )
            else:
                cursor.execute(
                    f"""
                    DELETE FROM {table} WHERE id IN (
                        SELECT id FROM (
                            SELECT id, ROW_NUMBER() OVER (
                                PARTITION BY owner_id ORDER BY published_at DESC, note_id DESC) AS rn
                            FROM {table} WHERE owner_id IN ({owners_sql})
                        ) AS ranked WHERE rn > %s
                    )
                    """,
                    [*params, cap],
                )

    def fan_out(self, *, note: NoteRef, sources: Sequence[Source]) -> int:
        table = TimelineEntry._meta.db_table
        owners_sql, params = followers_sql(sources=sources, author_id=note.author_id)
        published = connection.ops.adapt_datetimefield_value(note.published_at)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (owner_id, note_id, author_id, published_at) "
                f"SELECT owners.follower_id, %s, %s, %s FROM ({owners_sql}) AS owners WHERE true "
                "ON CONFLICT (owner_id, note_id) DO NOTHING",
                [note.note_id, note.author_id, published, *params],
            )
            inserted = cursor.rowcount
        if inserted:
            self._trim(owners_sql, params)
        return max(inserted, 0)

    def add(self, *, owner_id: int, notes: Sequence[NoteRef]) -> None:
        if not notes:
            return
        TimelineEntry.objects.bulk_create(
            [
                TimelineEntry(owner_id=owner_id, note_id=n.note_id, author_id=n.author_id, published_at=n.published_at)
                for n in notes
            ],
            ignore_conflicts=True,
            batch_size=500,
        )
        self._trim("SELECT %s", [owner_id])

    def note_ids(self, *, owner_id: int) -> list[int]:
        return list(TimelineEntry.objects.filter(owner_id=owner_id).values_list("note_id", flat=True))

    def remove(self, *, owner_id: int, note_ids: Iterable[int]) -> None:
        ids = list(note_ids)
        if ids:
            TimelineEntry.objects.filter(owner_id=owner_id, note_id__in=ids).delete()

    def remove_note(self, *, note_id: int, sources: Sequence[Source], author_id: int) -> None:
        TimelineEntry.objects.filter(note_id=note_id).delete()

    def candidates(self, *, owner_id: int, before: Key | None, limit: int, hidden: set[int]) -> Candidates:
        # SQL rather than the ORM: this runs on every home page and the query is fixed (one index range).
        # It also reads what the cards need fresh, so the page needs no query for that.
        table, notes = TimelineEntry._meta.db_table, Note._meta.db_table
        columns, params = fresh_columns("n", owner_id)
        condition, condition_params = public_condition("n")
        sql = (
            f"SELECT t.published_at, t.note_id, {columns} FROM {table} AS t JOIN {notes} AS n ON n.id = t.note_id"
            f" WHERE t.owner_id = %s AND {condition}"
        )
        params += [owner_id, *condition_params]
        if hidden:
            sql += f" AND t.author_id NOT IN ({placeholders(hidden)})"
            params += sorted(hidden)
        if before is not None:
            condition, before_params = before_key("t.published_at", "t.note_id", before)
            sql += condition
            params += before_params
        sql += " ORDER BY t.published_at DESC, t.note_id DESC LIMIT %s"
        params.append(limit + 1)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        keys: list[Key] = [(datetime_value(row[0]), int(row[1])) for row in rows]  # type: ignore[misc]
        fresh = {int(row[1]): fresh_value(row[2:]) for row in rows}
        if len(keys) > limit:
            return Candidates(keys=keys[:limit], bound=keys[limit - 1], fresh=fresh)
        return Candidates(keys=keys, bound=None, fresh=fresh)


def to_score(moment: datetime) -> int:
    """Microseconds since 1970: exact in a Redis score (a double) until the year 2255."""
    return (moment - _EPOCH) // _MICRO


def from_score(value: float) -> datetime:
    return _EPOCH + timedelta(microseconds=int(value))


class RedisTimeline:
    """One sorted set per reader: member = note id, score = published_at in microseconds, trimmed to
    the newest FEED_TIMELINE_CAP with ZREMRANGEBYRANK."""

    name = "redis"

    def __init__(self) -> None:
        from django.core.cache import cache
        from django_redis import get_redis_connection

        self.client = get_redis_connection("default")
        self._cache = cache

    def key(self, owner_id: int) -> str:
        return self._cache.make_key(f"feeds:tl:{owner_id}")

    def _add_many(self, owner_ids: Iterable[int], mapping: dict[str, int]) -> int:
        cap = int(feeds_setting("FEED_TIMELINE_CAP"))
        count = 0
        pipe = self.client.pipeline(transaction=False)
        for owner_id in owner_ids:
            key = self.key(owner_id)
            pipe.zadd(key, mapping)
            pipe.zremrangebyrank(key, 0, -(cap + 1))
            count += 1
            if count % REDIS_BATCH == 0:
                pipe.execute()
        pipe.execute()
        return count

    def _owners(self, sources: Sequence[Source], author_id: int, *, exclude_blocked: bool) -> list[int]:
        sql, params = followers_sql(sources=sources, author_id=author_id, exclude_blocked=exclude_blocked)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]

    def fan_out(self, *, note: NoteRef, sources: Sequence[Source]) -> int:
        owners = self._owners(sources, note.author_id, exclude_blocked=True)
        return self._add_many(owners, {str(note.note_id): to_score(note.published_at)})

    def add(self, *, owner_id: int, notes: Sequence[NoteRef]) -> None:
        if notes:
            self._add_many([owner_id], {str(n.note_id): to_score(n.published_at) for n in notes})

    def note_ids(self, *, owner_id: int) -> list[int]:
        return [int(member) for member in self.client.zrange(self.key(owner_id), 0, -1)]

    def remove(self, *, owner_id: int, note_ids: Iterable[int]) -> None:
        members = [str(note_id) for note_id in note_ids]
        if members:
            self.client.zrem(self.key(owner_id), *members)

    def remove_note(self, *, note_id: int, sources: Sequence[Source], author_id: int) -> None:
        # Entries of readers who stopped following were removed then; stale ones are filtered on read.
        pipe = self.client.pipeline(transaction=False)
        for count, owner_id in enumerate(self._owners(sources, author_id, exclude_blocked=False), start=1):
            pipe.zrem(self.key(owner_id), str(note_id))
            if count % REDIS_BATCH == 0:
                pipe.execute()
        pipe.execute()

    def candidates(self, *, owner_id: int, before: Key | None, limit: int, hidden: set[int]) -> Candidates:
        # Over-read, since some ids may have been deleted or hidden since they were fanned out.
        scan = limit * 2 + 1
        high: int | str = to_score(before[0]) if before is not None else "+inf"
        raw = self.client.zrevrangebyscore(self.key(owner_id), high, "-inf", start=0, num=scan, withscores=True)
        items = sorted(((int(score), int(member)) for member, score in raw), reverse=True)
        if before is not None:
            cut = (to_score(before[0]), before[1])
            items = [item for item in items if item < cut]
        visible = _visible_keys((note_id for _score, note_id in items), hidden) if items else {}
        keys = [(visible[note_id], note_id) for _score, note_id in items if note_id in visible]
        keys.sort(reverse=True)
        bound = None
        if len(raw) >= scan and items:
            bound = (from_score(items[-1][0]), items[-1][1])
            keys = [key for key in keys if key >= bound]
        return Candidates(keys=keys, bound=bound)


def redis_available() -> bool:
    return bool(getattr(settings, "REDIS_URL", "")) and "django_redis" in settings.CACHES["default"]["BACKEND"]


def timeline_backend() -> TimelineBackend:
    choice = feeds_setting("FEED_BACKEND")
    if choice == "redis" or (choice == "auto" and redis_available()):
        return RedisTimeline()
    return DatabaseTimeline()
