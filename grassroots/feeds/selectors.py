"""Reads of the feeds: home (timeline merged with big followed sources), discover and hashtag pages.

Every page costs a fixed number of queries whatever its size: the ids of the page (for home: one
query for the viewer's hidden authors and followed big sources, the timeline scan, and the read-time
merge when the viewer follows a big source), then one query for which of them are still visible with
their counters and the viewer's like/collect marks; the cards themselves come from the card cache
(feeds.cards), and only the missing ones are built (notes.selectors.notes_cards, five queries).
The queries every home page runs (timeline scan, read-time merge, visibility and counters) are
written as SQL (grassroots.core.rawsql): building them through the ORM cost more CPU than PostgreSQL
spent answering them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from grassroots.accounts.models import User
from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.core.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from grassroots.core.rawsql import before_key, datetime_value, placeholders
from grassroots.feeds.cards import cards_for_page
from grassroots.feeds.conf import feeds_setting
from grassroots.feeds.fresh import Fresh, fresh_columns, fresh_value, public_condition
from grassroots.feeds.models import DiscoverScore, FeedBigSource
from grassroots.feeds.timeline import Key, timeline_backend
from grassroots.notes.models import Hashtag, Note
from grassroots.notes.selectors import notes_public
from grassroots.shops.models import Shop
from grassroots.social.models import Block, Follow, FollowCounter, FollowTarget, Mute
from grassroots.social.selectors import social_hidden_author_ids

# Discover reads this many candidates per requested note, to have room for author diversity.
DISCOVER_WINDOW = 3
MAX_PER_AUTHOR = 2
_BIGINT = 2**63


@dataclass(frozen=True)
class FeedPage:
    notes: list[Note]
    next_cursor: str | None


def _limit(limit: int | None) -> int:
    value = int(feeds_setting("FEED_PAGE_SIZE")) if limit is None else limit
    if value < 1 or value > MAX_LIMIT:
        raise ValidationFailed(
            _("limit must be between 1 and %(max)s.") % {"max": MAX_LIMIT}, fields={"limit": "out_of_range"}
        )
    return value


def _invalid_cursor() -> ValidationFailed:
    return ValidationFailed(_("Invalid cursor."), code="invalid_cursor", fields={"cursor": "invalid"})


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _BIGINT


def _time_cursor(cursor: str | None) -> Key | None:
    if not cursor:
        return None
    values = decode_cursor(cursor)
    if len(values) != 2 or not isinstance(values[0], str) or not _is_id(values[1]):
        raise _invalid_cursor()
    try:
        moment = parse_datetime(values[0])
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _invalid_cursor()
    return moment, values[1]


def _encode_key(key: Key) -> str:
    return encode_cursor([key[0].isoformat(), key[1]])


def _viewer_id(viewer: Any) -> int | None:
    return viewer.pk if viewer is not None and getattr(viewer, "is_authenticated", False) else None


def feed_cards(note_ids: list[int], *, viewer: Any) -> list[Note]:
    """The cards of the visible notes among these, in this order, with fresh counters and the viewer's
    like/collect state. One query when the cards are cached (feeds.cards), six when none are; none
    for an empty page."""
    return cards_for_page(note_ids, viewer_id=_viewer_id(viewer))


# --- home ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _HomeContext:
    hidden: set[int]  # blocked either way or muted (as social_hidden_author_ids)
    big_authors: set[int]  # followed people (directly or through their shop) merged on read
    big_merchants: set[int]  # followed brands merged on read


def _home_context(viewer_id: int) -> _HomeContext:
    """The viewer's hidden authors and followed big sources, in one query."""
    block, mute = Block._meta.db_table, Mute._meta.db_table
    follow, big, shop = Follow._meta.db_table, FeedBigSource._meta.db_table, Shop._meta.db_table
    sql = f"""
        SELECT 'hidden', CASE WHEN b.blocker_id = %s THEN b.blocked_id ELSE b.blocker_id END, CAST(NULL AS BIGINT)
        FROM {block} AS b WHERE b.blocker_id = %s OR b.blocked_id = %s
        UNION ALL
        SELECT 'hidden', m.muted_id, CAST(NULL AS BIGINT) FROM {mute} AS m WHERE m.muter_id = %s
        UNION ALL
        SELECT f.target_kind, f.target_id,
               (SELECT s.owner_id FROM {shop} AS s WHERE s.id = f.target_id AND f.target_kind = %s)
        FROM {follow} AS f
        WHERE f.follower_id = %s AND EXISTS (
            SELECT 1 FROM {big} AS g WHERE g.target_kind = f.target_kind AND g.target_id = f.target_id)
    """  # noqa: S608 (table names from model metadata, values bound)
    context = _HomeContext(hidden=set(), big_authors=set(), big_merchants=set())
    with connection.cursor() as cursor:
        cursor.execute(sql, [viewer_id, viewer_id, viewer_id, viewer_id, FollowTarget.SHOP.value, viewer_id])
        for kind, target_id, shop_owner_id in cursor.fetchall():
            if kind == "hidden":
                context.hidden.add(target_id)
            elif kind == FollowTarget.USER:
                context.big_authors.add(target_id)
            elif kind == FollowTarget.SHOP and shop_owner_id:
                context.big_authors.add(shop_owner_id)
            elif kind == FollowTarget.MERCHANT:
                context.big_merchants.add(target_id)
    context.hidden.discard(viewer_id)
    return context


def _before(before: Key | None) -> Q:
    if before is None:
        return Q()
    return Q(published_at__lt=before[0]) | Q(published_at=before[0], pk__lt=before[1])


def _big_source_keys(
    *, viewer_id: int, authors: set[int], merchants: set[int], hidden: set[int], before: Key | None, limit: int
) -> tuple[list[Key], dict[int, Fresh]]:
    """The newest public notes of these people or brands, minus hidden authors: the read-time merge,
    with what their cards need fresh (feeds.fresh). SQL rather than the ORM: it runs on every home
    page of a follower of a big source."""
    columns, params = fresh_columns("n", viewer_id)
    condition, condition_params = public_condition("n")
    params += condition_params
    sources = []
    if authors:
        sources.append(f"n.author_id IN ({placeholders(authors)})")
        params += sorted(authors)
    if merchants:
        sources.append(f"n.merchant_id IN ({placeholders(merchants)})")
        params += sorted(merchants)
    sql = f"SELECT n.published_at, n.id, {columns} FROM {Note._meta.db_table} AS n WHERE {condition}"  # noqa: S608
    sql += f" AND ({' OR '.join(sources)})"
    if hidden:
        sql += f" AND n.author_id NOT IN ({placeholders(hidden)})"
        params += sorted(hidden)
    if before is not None:
        condition, before_params = before_key("n.published_at", "n.id", before)
        sql += condition
        params += before_params
    sql += " ORDER BY n.published_at DESC, n.id DESC LIMIT %s"
    params.append(limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    keys: list[Key] = []
    fresh: dict[int, Fresh] = {}
    for row in rows:
        moment = datetime_value(row[0])
        if moment is not None:
            keys.append((moment, int(row[1])))
            fresh[int(row[1])] = fresh_value(row[2:])
    return keys, fresh


@dataclass(frozen=True)
class _HomeIds:
    ids: list[int]
    next_cursor: str | None
    fresh: dict[int, Fresh]  # what the cards need fresh, read by the scans (feeds.fresh)


def _home_ids(*, viewer_id: int, cursor: str | None, limit: int | None) -> _HomeIds:
    size = _limit(limit)
    before = _time_cursor(cursor)
    context = _home_context(viewer_id)
    hidden, authors, merchants = context.hidden, context.big_authors, context.big_merchants
    timeline = timeline_backend().candidates(owner_id=viewer_id, before=before, limit=size, hidden=hidden)
    keys: dict[int, Key] = {note_id: (moment, note_id) for moment, note_id in timeline.keys}
    fresh = dict(timeline.fresh)
    bounds = [timeline.bound] if timeline.bound is not None else []
    if authors or merchants:
        merged, merged_fresh = _big_source_keys(
            viewer_id=viewer_id, authors=authors, merchants=merchants, hidden=hidden, before=before, limit=size + 1
        )
        fresh.update(merged_fresh)
        if len(merged) > size:
            merged = merged[:size]
            bounds.append(merged[-1])
        for moment, note_id in merged:
            keys.setdefault(note_id, (moment, note_id))
    ordered = sorted(keys.values(), reverse=True)
    bound = max(bounds) if bounds else None
    if bound is not None:
        # Below the highest stopping point one of the scans has not looked: leave it to the next page.
        ordered = [key for key in ordered if key >= bound]
    page = ordered[:size]
    if len(ordered) > size:
        next_key: Key | None = page[-1]
    else:
        next_key = bound
    ids = [note_id for _moment, note_id in page]
    return _HomeIds(ids, _encode_key(next_key) if next_key else None, {pk: fresh[pk] for pk in ids if pk in fresh})


def home_feed_ids(
    *, viewer_id: int, cursor: str | None = None, limit: int | None = None
) -> tuple[list[int], str | None]:
    """One page of the home feed as note ids, newest first, and the next cursor.

    The page is the union of the viewer's timeline (notes fanned out on write) and the recent notes
    of followed big sources (merged on read), both already filtered by visibility and the viewer's
    hidden authors, deduplicated and cut where either scan stopped. Three queries at most (two when
    the viewer follows no big source)."""
    page = _home_ids(viewer_id=viewer_id, cursor=cursor, limit=limit)
    return page.ids, page.next_cursor


def home_feed(*, viewer: Any, cursor: str | None = None, limit: int | None = None) -> FeedPage:
    """The viewer's home feed page with cards, whatever the page size: three queries at most when the
    cards are cached (the scans also read the counters and marks the cards show; four with the Redis
    timeline), eight when none is."""
    page = _home_ids(viewer_id=viewer.pk, cursor=cursor, limit=limit)
    return FeedPage(
        notes=cards_for_page(page.ids, viewer_id=_viewer_id(viewer), fresh=page.fresh), next_cursor=page.next_cursor
    )


# --- discover --------------------------------------------------------------------------------------


def _score_cursor(cursor: str | None) -> tuple[float, int] | None:
    if not cursor:
        return None
    values = decode_cursor(cursor)
    if (
        len(values) != 2
        or not isinstance(values[0], int | float)
        or isinstance(values[0], bool)
        or not _is_id(values[1])
        or values[0] != values[0]  # NaN
        or abs(values[0]) > 1e12
    ):
        raise _invalid_cursor()
    return float(values[0]), values[1]


def discover_ids(
    *, viewer_id: int | None, cursor: str | None = None, limit: int | None = None
) -> tuple[list[int], str | None]:
    """Notes by discover score, at most MAX_PER_AUTHOR per author on a page. Two queries.

    The page is picked from the next DISCOVER_WINDOW * size candidates; an author's third and later
    notes among them give way to other authors and are not shown in this pass of discover."""
    size = _limit(limit)
    after = _score_cursor(cursor)
    hidden = social_hidden_author_ids(viewer_id=viewer_id)
    rows = DiscoverScore.objects.filter(note__status=Note.Status.PUBLISHED, note__moderation=Note.Moderation.VISIBLE)
    if hidden:
        rows = rows.exclude(author_id__in=hidden)
    if after is not None:
        rows = rows.filter(Q(score__lt=after[0]) | Q(score=after[0], note_id__lt=after[1]))
    window = size * DISCOVER_WINDOW
    candidates = list(rows.order_by("-score", "-note_id").values_list("score", "note_id", "author_id")[: window + 1])
    more = len(candidates) > window
    candidates = candidates[:window]
    per_author: dict[int, int] = {}
    page: list[tuple[float, int]] = []
    for value, note_id, author_id in candidates:
        if per_author.get(author_id, 0) >= MAX_PER_AUTHOR:
            continue
        per_author[author_id] = per_author.get(author_id, 0) + 1
        page.append((value, note_id))
        if len(page) == size:
            break
    if len(page) == size and (more or page[-1][1] != candidates[-1][1]):
        next_pos: tuple[float, int] | None = page[-1]
    elif more:
        next_pos = (candidates[-1][0], candidates[-1][1])
    else:
        next_pos = None
    return [note_id for _value, note_id in page], encode_cursor(list(next_pos)) if next_pos else None


def discover_feed(*, viewer: Any, cursor: str | None = None, limit: int | None = None) -> FeedPage:
    ids, next_cursor = discover_ids(viewer_id=_viewer_id(viewer), cursor=cursor, limit=limit)
    return FeedPage(notes=feed_cards(ids, viewer=viewer), next_cursor=next_cursor)


# --- hashtags --------------------------------------------------------------------------------------


def hashtag_by_name(*, name: str) -> Hashtag:
    tag = Hashtag.objects.filter(name=name.strip().lstrip("#").lower()).first()
    if tag is None:
        raise NotFound(_("Hashtag not found."), code="not_found")
    return tag


def hashtag_ids(
    *, tag: Hashtag, viewer_id: int | None, cursor: str | None = None, limit: int | None = None
) -> tuple[list[int], str | None]:
    """Visible notes with the hashtag, newest first. Two queries."""
    size = _limit(limit)
    before = _time_cursor(cursor)
    hidden = social_hidden_author_ids(viewer_id=viewer_id)
    rows = notes_public().filter(hashtag_links__hashtag_id=tag.pk).filter(_before(before))
    if hidden:
        rows = rows.exclude(author_id__in=hidden)
    keys: list[Key] = [
        (moment, pk)
        for moment, pk in rows.order_by("-published_at", "-pk").values_list("published_at", "pk")[: size + 1]
        if moment is not None
    ]
    next_cursor = _encode_key(keys[size - 1]) if len(keys) > size else None
    return [note_id for _moment, note_id in keys[:size]], next_cursor


def hashtag_feed(
    *, name: str, viewer: Any, cursor: str | None = None, limit: int | None = None
) -> tuple[Hashtag, FeedPage]:
    tag = hashtag_by_name(name=name)
    ids, next_cursor = hashtag_ids(tag=tag, viewer_id=_viewer_id(viewer), cursor=cursor, limit=limit)
    return tag, FeedPage(notes=feed_cards(ids, viewer=viewer), next_cursor=next_cursor)


# --- empty state -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    kind: str
    name: str
    url_name: str
    url_arg: str
    followers: int


def follow_suggestions(*, viewer_id: int, limit: int = 6) -> list[Suggestion]:
    """Most-followed people and shops the viewer does not follow yet and may see. Four queries."""
    hidden = social_hidden_author_ids(viewer_id=viewer_id)
    followed = Follow.objects.filter(
        follower_id=viewer_id, target_kind=OuterRef("target_kind"), target_id=OuterRef("target_id")
    )
    top = list(
        FollowCounter.objects.filter(target_kind__in=[FollowTarget.USER, FollowTarget.SHOP], followers__gt=0)
        .exclude(Exists(followed))
        .order_by("-followers", "target_kind", "target_id")
        .values_list("target_kind", "target_id", "followers")[: limit * 3]
    )
    user_ids = [target_id for kind, target_id, _n in top if kind == FollowTarget.USER]
    shop_ids = [target_id for kind, target_id, _n in top if kind == FollowTarget.SHOP]
    users = {
        u.pk: u
        for u in User.objects.filter(pk__in=user_ids, is_active=True, handle__isnull=False).exclude(pk=viewer_id)
    }
    shops = {
        s.pk: s for s in Shop.objects.filter(pk__in=shop_ids, status=Shop.Status.ACTIVE).exclude(owner_id=viewer_id)
    }
    out: list[Suggestion] = []
    for kind, target_id, followers in top:
        if kind == FollowTarget.USER and target_id in users and target_id not in hidden:
            user = users[target_id]
            out.append(Suggestion(kind, user.display_name, "social:profile", str(user.handle), followers))
        elif kind == FollowTarget.SHOP and target_id in shops and shops[target_id].owner_id not in hidden:
            shop = shops[target_id]
            out.append(Suggestion(kind, shop.name, "shops:detail", shop.slug, followers))
        if len(out) == limit:
            break
    return out
