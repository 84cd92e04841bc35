"""Reads of the feeds: home (timeline merged with big followed sources), discover and hashtag pages.

Every page costs a fixed number of queries whatever its size: the ids of the page (one or two
queries, plus the viewer's hidden authors and followed big sources for home), then the cards
(notes.selectors.notes_cards) and the viewer's like/collect state (interactions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from grassroots.accounts.models import User
from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.core.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from grassroots.feeds.conf import feeds_setting
from grassroots.feeds.models import DiscoverScore, FeedBigSource
from grassroots.feeds.timeline import Key, timeline_backend
from grassroots.interactions.selectors import interactions_viewer_state
from grassroots.notes.models import Hashtag, Note
from grassroots.notes.selectors import notes_cards, notes_public
from grassroots.shops.models import Shop
from grassroots.social.models import Follow, FollowCounter, FollowTarget
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
    """The cards of these notes in this order, with the viewer's like/collect state. Seven queries at
    most (five for the cards, two for the state), none for an empty page."""
    if not note_ids:
        return []
    loaded = {note.pk: note for note in notes_cards(notes_public().filter(pk__in=note_ids), viewer)}
    notes = [loaded[pk] for pk in note_ids if pk in loaded]
    state = interactions_viewer_state(viewer_id=_viewer_id(viewer), note_ids=[n.pk for n in notes])
    for note in notes:
        note.viewer_liked = state[note.pk]["liked"]  # type: ignore[attr-defined]
        note.viewer_collected = state[note.pk]["collected"]  # type: ignore[attr-defined]
    return notes


# --- home ------------------------------------------------------------------------------------------


def _followed_big_sources(viewer_id: int) -> tuple[set[int], set[int]]:
    """(authors, merchants) the viewer follows through a source that is merged on read. One query."""
    big = FeedBigSource.objects.filter(target_kind=OuterRef("target_kind"), target_id=OuterRef("target_id"))
    shop_owner = Shop.objects.filter(pk=OuterRef("target_id")).values("owner_id")[:1]
    rows = (
        Follow.objects.filter(follower_id=viewer_id)
        .filter(Exists(big))
        .annotate(shop_owner=Subquery(shop_owner))
        .values_list("target_kind", "target_id", "shop_owner")
    )
    authors: set[int] = set()
    merchants: set[int] = set()
    for kind, target_id, shop_owner_id in rows:
        if kind == FollowTarget.USER:
            authors.add(target_id)
        elif kind == FollowTarget.SHOP and shop_owner_id:
            authors.add(shop_owner_id)
        elif kind == FollowTarget.MERCHANT:
            merchants.add(target_id)
    return authors, merchants


def _before(before: Key | None) -> Q:
    if before is None:
        return Q()
    return Q(published_at__lt=before[0]) | Q(published_at=before[0], pk__lt=before[1])


def home_feed_ids(
    *, viewer_id: int, cursor: str | None = None, limit: int | None = None
) -> tuple[list[int], str | None]:
    """One page of the home feed as note ids, newest first, and the next cursor.

    The page is the union of the viewer's timeline (notes fanned out on write) and the recent notes
    of followed big sources (merged on read), both already filtered by visibility and the viewer's
    hidden authors, deduplicated and cut where either scan stopped. Four queries at most."""
    size = _limit(limit)
    before = _time_cursor(cursor)
    hidden = social_hidden_author_ids(viewer_id=viewer_id)
    authors, merchants = _followed_big_sources(viewer_id)
    timeline = timeline_backend().candidates(owner_id=viewer_id, before=before, limit=size, hidden=hidden)
    keys: dict[int, Key] = {note_id: (moment, note_id) for moment, note_id in timeline.keys}
    bounds = [timeline.bound] if timeline.bound is not None else []
    if authors or merchants:
        rows = notes_public().filter(Q(author_id__in=authors) | Q(merchant_id__in=merchants)).filter(_before(before))
        if hidden:
            rows = rows.exclude(author_id__in=hidden)
        merged: list[Key] = [
            (moment, pk)
            for moment, pk in rows.order_by("-published_at", "-pk").values_list("published_at", "pk")[: size + 1]
            if moment is not None
        ]
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
    return [note_id for _moment, note_id in page], _encode_key(next_key) if next_key else None


def home_feed(*, viewer: Any, cursor: str | None = None, limit: int | None = None) -> FeedPage:
    """The viewer's home feed page with cards. Eleven queries at most, whatever the page size."""
    ids, next_cursor = home_feed_ids(viewer_id=viewer.pk, cursor=cursor, limit=limit)
    return FeedPage(notes=feed_cards(ids, viewer=viewer), next_cursor=next_cursor)


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
