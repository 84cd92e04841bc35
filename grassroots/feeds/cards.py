"""The note card cache: what a feed card shows that is the same for every reader, kept in the cache.

A feed page is hydrated from here: one query checks which of the page's notes are still visible
and reads what changes all the time (counters, the Ad label, the viewer's like and collect marks);
one `get_many` brings the cards; the misses are built together by `notes.selectors.notes_cards`
(fixed queries) and stored with one `set_many`. See ADR 0011.

A cached card is a note as `notes_cards` loads it (author, brand, images, product cards with their
links), cut down to what a card shows: the author, brand and products keep their card fields (the
rest deferred, loaded on access), the images are a plain list. About 1 KB pickled, loaded in ~16 µs
(a card holding the prefetch QuerySet and whole rows was 2.8 KB and ~150 µs). It is used only while its
`updated_at` equals the note's, so an edit, a publish or a delete replaces it on the next read even
if an invalidation was lost. Writes that change a card without touching the note call
`card_invalidate` / `card_invalidate_authors` / `card_invalidate_products` /
`card_invalidate_merchants` (services.py): price changes, a shop dropping a product, a shop paused,
suspended or reopened, a brand edited in the admin or changing status included. What no write hook
covers (a product image changed before screening) is refreshed when the card expires, FEED_CARD_TTL
seconds after it was built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from django.core.cache import cache
from django.db.models import Model, Q

from grassroots.feeds.conf import feeds_setting
from grassroots.feeds.fresh import Fresh, fresh_read
from grassroots.feeds.timeline import redis_available
from grassroots.notes.models import Note
from grassroots.notes.selectors import notes_cards, notes_public

# Bump when the shape of a cached card changes: old entries are then ignored and expire.
CARD_VERSION = 2
DELETE_BATCH = 1000


def card_key(note_id: int) -> str:
    return f"feeds:card:{CARD_VERSION}:{note_id}"


def card_cache_enabled() -> bool:
    """FEED_CARD_CACHE: "on", "off", or "auto" (on when the cache is Redis: a database cache would
    cost a write per missed card, and a per-process memory cache would not see other processes'
    invalidations)."""
    choice = feeds_setting("FEED_CARD_CACHE")
    return choice == "on" or (choice == "auto" and redis_available())


# What a card shows of each related row; other fields are left deferred (loaded on access, never wrong).
AUTHOR_FIELDS = ("id", "handle", "display_name")
MERCHANT_FIELDS = ("id", "name", "slug", "status")
PRODUCT_FIELDS = ("id", "merchant_id", "slug", "title_en", "title_zh", "brand", "currency", "min_price", "status")


def _only(instance: Model, fields: Sequence[str]) -> Model:
    """A copy of `instance` holding only these fields, the others deferred."""
    # from_db takes the values in the model's field order.
    names = [field.attname for field in instance._meta.concrete_fields if field.attname in fields]
    return type(instance).from_db(instance._state.db, names, [getattr(instance, name) for name in names])


def _slim(note: Note) -> Note:
    """Keep only what a card shows: the author's and brand's names (no e-mail, password hash...), the
    products' card fields, the images as a plain list (a pickled prefetch QuerySet carries its whole
    query and costs more to load than the card itself)."""
    cached = note._state.fields_cache
    author = cached.get("author")
    if author is not None:
        cached["author"] = _only(author, AUTHOR_FIELDS)
    merchant = cached.get("merchant")
    if merchant is not None:
        cached["merchant"] = _only(merchant, MERCHANT_FIELDS)
    prefetched = getattr(note, "_prefetched_objects_cache", {})
    if "images" in prefetched:
        prefetched["images"] = list(prefetched["images"])  # `note.images.all()` returns it as is
    if hasattr(note, "card_products"):
        note.card_products = [  # type: ignore[attr-defined]
            replace(item, product=_only(item.product, PRODUCT_FIELDS)) for item in note.card_products
        ]
    note.__dict__.pop("card_tags", None)  # the same products are in card_products
    return note


def _build(note_ids: Sequence[int]) -> dict[int, Note]:
    if not note_ids:
        return {}
    return {note.pk: _slim(note) for note in notes_cards(notes_public().filter(pk__in=list(note_ids)))}


class CardStats:
    """Hits and misses of this process, for the benchmark."""

    hits = 0
    misses = 0

    @classmethod
    def reset(cls) -> None:
        cls.hits = cls.misses = 0


def cards_for_page(
    note_ids: Sequence[int], *, viewer_id: int | None, fresh: Mapping[int, Fresh] | None = None
) -> list[Note]:
    """The visible notes among `note_ids`, in that order, ready for notes/_card.html and the API,
    with fresh counters and the viewer's like/collect state. On a warm cache one query, none when
    the caller passes `fresh` for every id (read with the ids); each page with misses adds
    notes_cards' five."""
    if not note_ids:
        return []
    if fresh is None or any(pk not in fresh for pk in note_ids):
        # Read here unless the query that chose the page already did (feeds.fresh).
        fresh = fresh_read(note_ids, viewer_id)
    visible = [pk for pk in dict.fromkeys(note_ids) if pk in fresh]
    use_cache = card_cache_enabled()
    cards: dict[int, Note] = {}
    if use_cache and visible:
        found = cache.get_many([card_key(pk) for pk in visible])
        for pk in visible:
            card = found.get(card_key(pk))
            if isinstance(card, Note) and card.pk == pk and card.updated_at == fresh[pk][0]:
                cards[pk] = card
    missing = [pk for pk in visible if pk not in cards]
    CardStats.hits += len(visible) - len(missing)
    CardStats.misses += len(missing)
    if missing:
        built = _build(missing)
        if use_cache and built:
            timeout = int(feeds_setting("FEED_CARD_TTL"))
            cache.set_many({card_key(pk): note for pk, note in built.items()}, timeout=timeout)
        cards.update(built)
    notes: list[Note] = []
    for pk in visible:
        note = cards.get(pk)
        if note is None:  # hidden or deleted between the two reads
            continue
        _updated_at, is_ad, like, collect, comment, share, liked, collected = fresh[pk]
        note.is_ad = is_ad
        note.like_count, note.collect_count, note.comment_count, note.share_count = like, collect, comment, share
        note.viewer_liked = bool(liked)  # type: ignore[attr-defined]
        note.viewer_collected = bool(collected)  # type: ignore[attr-defined]
        notes.append(note)
    return notes


# --- invalidation ----------------------------------------------------------------------------------


def card_invalidate(*, note_ids: Iterable[int]) -> int:
    """Drop the cached cards of these notes. Returns how many keys were asked to go."""
    if not card_cache_enabled():
        return 0
    keys = [card_key(int(pk)) for pk in dict.fromkeys(note_ids)]
    for start in range(0, len(keys), DELETE_BATCH):
        cache.delete_many(keys[start : start + DELETE_BATCH])
    return len(keys)


def card_invalidate_authors(*, author_ids: Iterable[int]) -> int:
    """An author's name or handle changed: drop the cards of all their notes. One query."""
    ids = list(author_ids)
    if not ids or not card_cache_enabled():
        return 0
    return card_invalidate(
        note_ids=Note.objects.filter(author_id__in=ids, status=Note.Status.PUBLISHED).values_list("pk", flat=True)
    )


def card_invalidate_products(*, product_ids: Iterable[int]) -> int:
    """A product was listed, delisted or changed: drop the cards of the notes that tag it."""
    from grassroots.notes.models import NoteProduct

    ids = list(product_ids)
    if not ids or not card_cache_enabled():
        return 0
    return card_invalidate(
        note_ids=NoteProduct.objects.filter(product_id__in=ids).values_list("note_id", flat=True).distinct()
    )


def card_invalidate_author_products(*, author_id: int, product_ids: Iterable[int]) -> int:
    """A shop stopped carrying these products: its owner's cards that tag them link through the shop
    and must link to the product page instead. One query."""
    from grassroots.notes.models import NoteProduct

    ids = list(product_ids)
    if not ids or not card_cache_enabled():
        return 0
    return card_invalidate(
        note_ids=NoteProduct.objects.filter(note__author_id=author_id, product_id__in=ids)
        .values_list("note_id", flat=True)
        .distinct()
    )


def card_invalidate_merchants(*, merchant_ids: Iterable[int], with_products: bool = False) -> int:
    """A brand changed: drop the cards of its brand notes (they show its name) and, `with_products`,
    of the notes tagging its products (a card lists only a verified merchant's products). One query."""
    from grassroots.notes.models import NoteProduct

    ids = list(merchant_ids)
    if not ids or not card_cache_enabled():
        return 0
    shows = Q(merchant_id__in=ids)
    if with_products:
        shows |= Q(pk__in=NoteProduct.objects.filter(product__merchant_id__in=ids).values("note_id"))
    return card_invalidate(
        note_ids=Note.objects.filter(shows, status=Note.Status.PUBLISHED).values_list("pk", flat=True)
    )
