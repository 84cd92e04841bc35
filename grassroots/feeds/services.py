"""Home-feed maintenance hooks, called by the social and notes services after their commit.

Fan-out on write into each follower's timeline, except for sources (a person, their shop, a brand)
whose followers together exceed FEED_FANOUT_ON_READ_THRESHOLD: those are marked "big" and their
notes are merged in when the feed is read (feeds.selectors.home_feed_page). See ADR 0011.
Every hook is idempotent and safe to call for a note or follow that no longer exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from grassroots.feeds.cards import (
    card_invalidate,
    card_invalidate_author_products,
    card_invalidate_authors,
    card_invalidate_merchants,
    card_invalidate_products,
)
from grassroots.feeds.conf import feeds_setting
from grassroots.feeds.models import DiscoverScore, FeedBigSource
from grassroots.feeds.ranking import engagement, quality, score
from grassroots.feeds.timeline import NoteRef, Source, timeline_backend
from grassroots.notes.models import Note, NoteProduct
from grassroots.notes.selectors import notes_public
from grassroots.reviews.models import Review
from grassroots.shops.models import Shop
from grassroots.social.models import Block, Follow, FollowTarget

USER = FollowTarget.USER.value
SHOP = FollowTarget.SHOP.value
MERCHANT = FollowTarget.MERCHANT.value
DISCOVER_BATCH = 2000


def _note_with_shop(note_id: int) -> Note | None:
    shop_id = Shop.objects.filter(owner_id=OuterRef("author_id")).values("pk")[:1]
    return (
        Note.objects.filter(pk=note_id)
        .annotate(author_shop_id=Subquery(shop_id))
        .only("pk", "author_id", "merchant_id", "status", "moderation", "published_at")
        .first()
    )


def note_sources(note: Note) -> list[Source]:
    """Who carries the note into home feeds: the author, the author's shop, the brand."""
    sources: list[Source] = [(USER, note.author_id)]
    shop_id = getattr(note, "author_shop_id", None)
    if shop_id:
        sources.append((SHOP, shop_id))
    if note.merchant_id:
        sources.append((MERCHANT, note.merchant_id))
    return sources


def _sources_q(sources: Iterable[Source]) -> Q:
    condition = Q(pk__in=[])
    for kind, target_id in sources:
        condition |= Q(target_kind=kind, target_id=target_id)
    return condition


def _is_visible(note: Note) -> bool:
    return (
        note.status == Note.Status.PUBLISHED
        and note.moderation == Note.Moderation.VISIBLE
        and note.published_at is not None
    )


def feed_note_published(*, note_id: int) -> None:
    """A note became visible: push it to its followers' timelines (or leave it to read-time merge)."""
    note = _note_with_shop(note_id)
    if note is None or not _is_visible(note):
        return
    assert note.published_at is not None
    discover_upsert(note_ids=[note.pk])
    sources = note_sources(note)
    big = set(FeedBigSource.objects.filter(_sources_q(sources)).values_list("target_kind", "target_id"))
    small = [source for source in sources if source not in big]
    if not small:
        return
    counts = {
        (row["target_kind"], row["target_id"]): row["n"]
        for row in Follow.objects.filter(_sources_q(small)).values("target_kind", "target_id").annotate(n=Count("pk"))
    }
    if sum(counts.values()) > int(feeds_setting("FEED_FANOUT_ON_READ_THRESHOLD")):
        # Too many to write now: these sources are merged on read from here on.
        FeedBigSource.objects.bulk_create(
            [FeedBigSource(target_kind=kind, target_id=target_id) for kind, target_id in counts],
            ignore_conflicts=True,
        )
        small = [source for source in small if source not in counts]
    reached = [source for source in small if counts.get(source)]
    if reached:
        timeline_backend().fan_out(
            note=NoteRef(note_id=note.pk, author_id=note.author_id, published_at=note.published_at),
            sources=reached,
        )


def feed_card_invalidate(*, note_ids: Iterable[int]) -> None:
    """A note's card changed (edit, publish, delete, moderation, Ad label, card links): the cached
    card goes, the next read builds it again. Call after the commit."""
    card_invalidate(note_ids=note_ids)


def feed_card_invalidate_authors(*, author_ids: Iterable[int]) -> None:
    """An author's display name or handle changed: every card of theirs goes."""
    card_invalidate_authors(author_ids=author_ids)


def feed_card_invalidate_products(*, product_ids: Iterable[int]) -> None:
    """Products were listed, delisted or their approved content changed: the cards tagging them go."""
    card_invalidate_products(product_ids=product_ids)


def feed_card_invalidate_shop_products(*, owner_id: int, product_ids: Iterable[int]) -> None:
    """A shop stopped carrying products: its owner's cards tagging them go (their links change)."""
    card_invalidate_author_products(author_id=owner_id, product_ids=product_ids)


def feed_card_invalidate_merchants(*, merchant_ids: Iterable[int], with_products: bool = False) -> None:
    """A brand's name, slug or status changed: its brand notes' cards go. `with_products` when it became
    or stopped being verified: the cards tagging its products go too (they list only verified brands')."""
    card_invalidate_merchants(merchant_ids=merchant_ids, with_products=with_products)


def feed_note_withdrawn(*, note_id: int) -> None:
    """A note was deleted, hidden or removed: drop it from timelines (and discover)."""
    DiscoverScore.objects.filter(note_id=note_id).delete()
    note = _note_with_shop(note_id)
    if note is None:
        return
    timeline_backend().remove_note(note_id=note_id, sources=note_sources(note), author_id=note.author_id)


def _source_notes(kind: str, target_id: int) -> tuple[int | None, Q]:
    """(the person behind the source or None for a brand, the filter for its notes)."""
    if kind == USER:
        return target_id, Q(author_id=target_id)
    if kind == SHOP:
        owner_id = Shop.objects.filter(pk=target_id).values_list("owner_id", flat=True).first()
        return owner_id, Q(author_id=owner_id) if owner_id else Q(pk__in=[])
    return None, Q(merchant_id=target_id)


def feed_follow_added(*, follower_id: int, target_kind: str, target_id: int) -> None:
    """Backfill the follower's timeline with the target's recent notes (unless it is merged on read)."""
    if FeedBigSource.objects.filter(target_kind=target_kind, target_id=target_id).exists():
        return
    _person, condition = _source_notes(target_kind, target_id)
    blocked = Block.objects.filter(Q(blocker_id=follower_id) | Q(blocked_id=follower_id)).values_list(
        "blocker_id", "blocked_id"
    )
    hidden = {a if b == follower_id else b for a, b in blocked}
    rows = notes_public().filter(condition)
    if hidden:
        rows = rows.exclude(author_id__in=hidden)
    cap = int(feeds_setting("FEED_TIMELINE_CAP"))
    notes = [
        NoteRef(note_id=pk, author_id=author_id, published_at=published_at)
        for pk, author_id, published_at in rows.order_by("-published_at", "-pk").values_list(
            "pk", "author_id", "published_at"
        )[:cap]
        if published_at is not None
    ]
    timeline_backend().add(owner_id=follower_id, notes=notes)


def _still_reachable_filter(follower_id: int) -> Q:
    """Notes the follower still follows through some source."""
    follows = list(Follow.objects.filter(follower_id=follower_id).values_list("target_kind", "target_id"))
    users = {target_id for kind, target_id in follows if kind == USER}
    shops = [target_id for kind, target_id in follows if kind == SHOP]
    merchants = {target_id for kind, target_id in follows if kind == MERCHANT}
    if shops:
        users |= set(Shop.objects.filter(pk__in=shops).values_list("owner_id", flat=True))
    return Q(author_id__in=users) | Q(merchant_id__in=merchants)


def feed_follow_removed(*, follower_id: int, target_kind: str, target_id: int) -> None:
    """Drop the target's notes from the follower's timeline (unless still followed another way)."""
    backend = timeline_backend()
    ids = backend.note_ids(owner_id=follower_id)
    if not ids:
        return
    _person, condition = _source_notes(target_kind, target_id)
    of_source = Note.objects.filter(pk__in=ids).filter(condition)
    drop = of_source.exclude(_still_reachable_filter(follower_id)).values_list("pk", flat=True)
    backend.remove(owner_id=follower_id, note_ids=list(drop))


def feed_block_added(*, blocker_id: int, blocked_id: int) -> None:
    """Drop each one's notes from the other's timeline."""
    backend = timeline_backend()
    for owner_id, author_id in ((blocker_id, blocked_id), (blocked_id, blocker_id)):
        ids = backend.note_ids(owner_id=owner_id)
        if ids:
            drop = Note.objects.filter(pk__in=ids, author_id=author_id).values_list("pk", flat=True)
            backend.remove(owner_id=owner_id, note_ids=list(drop))


# --- discover --------------------------------------------------------------------------------------


def discover_upsert(*, note_ids: Sequence[int], now: datetime | None = None) -> int:
    """(Re)compute the discover score of these notes, set-based: three reads and one upsert per call
    whatever the number of notes. Notes that are not visible are dropped from discover."""
    now = now or timezone.now()
    notes = list(
        notes_public()
        .filter(pk__in=list(note_ids))
        .values_list("pk", "author_id", "published_at", "like_count", "collect_count", "comment_count", "share_count")
    )
    visible = {row[0] for row in notes}
    DiscoverScore.objects.filter(note_id__in=[pk for pk in note_ids if pk not in visible]).delete()
    if not notes:
        return 0
    tags: dict[int, list[int]] = {}
    for note_id, product_id in NoteProduct.objects.filter(note_id__in=visible).values_list("note_id", "product_id"):
        tags.setdefault(note_id, []).append(product_id)
    ratings = {
        row["product_id"]: (row["n"], row["total"] or 0)
        for row in Review.objects.filter(
            product_id__in={p for products in tags.values() for p in products}, status=Review.Status.VISIBLE
        )
        .values("product_id")
        .annotate(n=Count("pk"), total=Sum("rating"))
    }
    rows = []
    for pk, author_id, published_at, likes, collects, comments, shares in notes:
        if published_at is None:  # a published note always has one (check constraint)
            continue
        product_ids = tags.get(pk, [])
        count = sum(ratings.get(p, (0, 0))[0] for p in product_ids)
        total = sum(ratings.get(p, (0, 0))[1] for p in product_ids)
        q = quality(products=len(product_ids), review_count=count, rating_total=total)
        value = score(
            engagement_value=engagement(
                like_count=likes, collect_count=collects, comment_count=comments, share_count=shares
            ),
            quality_value=q,
            published_at=published_at,
        )
        rows.append(
            DiscoverScore(note_id=pk, author_id=author_id, score=value, published_at=published_at, refreshed_at=now)
        )
    DiscoverScore.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["note"],
        update_fields=["author_id", "score", "published_at", "refreshed_at"],
        batch_size=500,
    )
    return len(rows)


def discover_refresh(*, now: datetime | None = None) -> int:
    """Recompute every discover score in the window (run from a task or cron, e.g. every 10 minutes)
    and drop notes that left it. Batches of DISCOVER_BATCH notes, keyset over ids."""
    now = now or timezone.now()
    since = now - timedelta(days=int(feeds_setting("FEED_DISCOVER_WINDOW_DAYS")))
    DiscoverScore.objects.filter(published_at__lt=since).delete()
    DiscoverScore.objects.exclude(note__status=Note.Status.PUBLISHED, note__moderation=Note.Moderation.VISIBLE).delete()
    done = 0
    last = 0
    while True:
        ids = list(
            notes_public()
            .filter(published_at__gte=since, pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:DISCOVER_BATCH]
        )
        if not ids:
            return done
        done += discover_upsert(note_ids=ids, now=now)
        last = ids[-1]
