"""The note card cache behind feed pages: warm pages cost a handful of queries, and every write that
changes a card shows on the next read."""

from __future__ import annotations

import pickle
import re

import pytest
from django.core.cache import cache

from grassroots.accounts.services import user_profile_update
from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.catalog.workflow import product_transition
from grassroots.feeds import selectors
from grassroots.feeds.cards import CardStats, card_key
from grassroots.feeds.tests.factories import (
    clear_cards,
    clear_redis,
    feed_settings,
    hooks,
    post,
    run,
    use_memory_cache_without_redis,
)
from grassroots.interactions.services import like_add
from grassroots.notes.models import NoteProduct
from grassroots.notes.services import note_moderate, note_update
from grassroots.social.services import follow_add

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def card_cache(settings):  # type: ignore[no-untyped-def]
    """The card cache on, in Redis when there is one, else in this process's memory."""
    use_memory_cache_without_redis(settings)
    feed_settings(settings, FEED_CARD_CACHE="on", FEED_FANOUT_ON_READ_THRESHOLD=1)
    clear_cards()
    clear_redis()
    yield
    clear_redis()
    clear_cards()


def _reader_following(*authors):  # type: ignore[no-untyped-def]
    reader = UserFactory()
    for author in authors:
        run(follow_add, follower=reader, kind="user", target_id=author.pk)
    return reader


def _titles(reader) -> list[str]:  # type: ignore[no-untyped-def]
    return [note.title for note in selectors.home_feed(viewer=reader).notes]


@pytest.mark.parametrize("count", [5, 20])
def test_a_warm_page_costs_three_queries_and_a_cold_one_eight(count, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    from grassroots.feeds.timeline import timeline_backend

    # Hidden authors and big sources, the timeline scan, the merge (both read counters and marks);
    # the Redis timeline holds ids only, so visibility and counters are one more query there.
    extra = 0 if timeline_backend().name == "db" else 1
    small, big = UserFactory(), UserFactory()
    run(follow_add, follower=UserFactory(), kind="user", target_id=big.pk)  # big: merged on read
    reader = _reader_following(small, big)
    products = [ProductFactory() for _ in range(2)]
    for i in range(count):
        note = post(big if i % 2 else small, f"Note {i}")
        for position, product in enumerate(products):
            NoteProduct.objects.create(note=note, product=product, position=position)
    CardStats.reset()
    with django_assert_max_num_queries(8 + extra):
        cold = selectors.home_feed(viewer=reader, limit=count)
    assert (CardStats.hits, CardStats.misses) == (0, count)
    with django_assert_max_num_queries(3 + extra):
        warm = selectors.home_feed(viewer=reader, limit=count)
    assert (CardStats.hits, CardStats.misses) == (count, count)
    assert [n.pk for n in warm.notes] == [n.pk for n in cold.notes]
    assert all(len(note.card_products) == 2 for note in warm.notes)  # type: ignore[attr-defined]
    assert warm.notes[0].author.handle and warm.notes[0].images.all() is not None


def test_a_cached_card_renders_like_a_built_one():  # type: ignore[no-untyped-def]
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    from grassroots.notes.tests.factories import uploads

    author = UserFactory()
    reader = _reader_following(author)
    product = ProductFactory()
    post(author, "With a picture", images=uploads(2), product_ids=[product.pk])
    request = RequestFactory().get("/")
    request.user = reader

    def html() -> str:
        out = render_to_string("feeds/_notes.html", {"notes": selectors.home_feed(viewer=reader).notes}, request)
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", out)  # masked anew on each render

    CardStats.reset()
    built, cached = html(), html()
    assert (CardStats.hits, CardStats.misses) == (1, 1)
    assert built == cached
    assert "note-cover" in cached and product.title in cached and "@" + author.handle in cached


def test_a_cached_card_is_slim_and_loads_what_it_left_out_on_access():  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from grassroots.notes.tests.factories import uploads

    author = UserFactory(display_name="Ada")
    reader = _reader_following(author)
    product = ProductFactory(description_md="Long **description**")
    note = post(author, "Slim", images=uploads(2), product_ids=[product.pk])
    selectors.home_feed(viewer=reader)
    raw = cache.get(card_key(note.pk))
    blob = pickle.dumps(raw)

    assert b"Long **description**" not in blob and b"QuerySet" not in blob
    [card] = selectors.home_feed(viewer=reader).notes
    assert [image.pk for image in card.images.all()] == list(
        note.images.order_by("position").values_list("pk", flat=True)
    )
    assert card.author.display_name == "Ada" and card.card_products[0].product.title == product.title
    with CaptureQueriesContext(connection) as queries:
        assert card.card_products[0].product.description_md == "Long **description**"
        assert card.author.email == author.email
    assert len(queries) == 2  # left out of the cache, loaded on access: never a wrong default


def test_a_cached_card_keeps_no_private_author_data():  # type: ignore[no-untyped-def]
    author = UserFactory(display_name="Ada")
    reader = _reader_following(author)
    note = post(author, "Hello")
    selectors.home_feed(viewer=reader)
    raw = cache.get(card_key(note.pk))
    assert raw is not None and raw.author.display_name == "Ada"
    blob = pickle.dumps(raw)
    assert author.email.encode() not in blob
    assert author.password.encode() not in blob


def test_editing_a_note_shows_the_new_title_and_hiding_it_removes_it():  # type: ignore[no-untyped-def]
    author = UserFactory()
    reader = _reader_following(author)
    note = post(author, "Old title")
    other = post(author, "Other")
    assert _titles(reader) == ["Other", "Old title"]

    run(note_update, user=author, note_id=note.pk, title="New title")
    assert _titles(reader) == ["Other", "New title"]

    with hooks():
        note_moderate(note_id=note.pk, action="hide", reason="Spam", moderator=CuratorFactory())
    assert _titles(reader) == ["Other"]
    with hooks():
        note_moderate(note_id=other.pk, action="remove", reason="Spam", moderator=CuratorFactory())
    assert _titles(reader) == []


def test_an_edit_shows_even_when_the_invalidation_is_lost():  # type: ignore[no-untyped-def]
    author = UserFactory()
    reader = _reader_following(author)
    note = post(author, "Old title")
    assert _titles(reader) == ["Old title"]
    note_update(user=author, note_id=note.pk, title="New title")  # on-commit hooks never run here
    assert _titles(reader) == ["New title"]


def test_an_unlisted_product_drops_from_the_card():  # type: ignore[no-untyped-def]
    author = UserFactory()
    reader = _reader_following(author)
    kept, dropped = ProductFactory(), ProductFactory()
    note = post(author, "Two products", product_ids=[kept.pk, dropped.pk])

    def products() -> list[int]:
        (card,) = selectors.home_feed(viewer=reader).notes
        assert card.pk == note.pk
        return [item.product.pk for item in card.card_products]  # type: ignore[attr-defined]

    assert products() == [kept.pk, dropped.pk]
    with hooks():
        product_transition(product=dropped, action="suspend", actor_id=None)
    assert products() == [kept.pk]


def test_a_price_cut_shows_on_the_cards_at_once():  # type: ignore[no-untyped-def]
    from grassroots.catalog.models import Sku
    from grassroots.catalog.tests.factories import SkuFactory
    from grassroots.catalog.workflow import product_refresh_denormalised

    author = UserFactory()
    reader = _reader_following(author)
    product = ProductFactory()
    sku = SkuFactory(product=product, price_amount=5000)
    product_refresh_denormalised(product=product)
    post(author, "A bargain", product_ids=[product.pk])

    def price() -> int:
        (card,) = selectors.home_feed(viewer=reader).notes
        return int(card.card_products[0].product.min_price)  # type: ignore[attr-defined]

    assert price() == 5000 and price() == 5000  # built, then from the cache
    Sku.objects.filter(pk=sku.pk).update(price_amount=3000)
    with hooks():
        product_refresh_denormalised(product=product)
    assert price() == 3000


def test_a_product_leaving_the_shop_stops_linking_through_it_at_once():  # type: ignore[no-untyped-def]
    from grassroots.shops.models import ShopItem
    from grassroots.shops.services import shop_item_remove
    from grassroots.shops.tests.factories import ShopFactory, ShopItemFactory

    shop = ShopFactory()
    product = ProductFactory()
    ShopItemFactory(shop=shop, product=product)
    reader = _reader_following(shop.owner)
    post(shop.owner, "Carried", product_ids=[product.pk])

    def via_shop() -> bool:
        (card,) = selectors.home_feed(viewer=reader).notes
        return bool(card.card_products[0].via_shop)  # type: ignore[attr-defined]

    assert via_shop() and via_shop()  # built, then from the cache
    with hooks():
        shop_item_remove(user=shop.owner, item_id=ShopItem.objects.get(shop=shop).pk)
    assert not via_shop()


def test_a_new_display_name_shows_on_the_cards():  # type: ignore[no-untyped-def]
    author = UserFactory(display_name="Before")
    reader = _reader_following(author)
    post(author, "Hello")
    assert [n.author.display_name for n in selectors.home_feed(viewer=reader).notes] == ["Before"]
    run(user_profile_update, user=author, display_name="After")
    assert [n.author.display_name for n in selectors.home_feed(viewer=reader).notes] == ["After"]


def test_counters_and_viewer_state_stay_fresh_on_a_cached_card():  # type: ignore[no-untyped-def]
    author = UserFactory()
    reader, other = _reader_following(author), _reader_following(author)
    note = post(author, "Hello")
    (card,) = selectors.home_feed(viewer=reader).notes
    assert (card.like_count, card.viewer_liked) == (0, False)  # type: ignore[attr-defined]
    run(like_add, user=reader, note_id=note.pk)
    CardStats.reset()
    (card,) = selectors.home_feed(viewer=reader).notes
    assert CardStats.hits == 1
    assert (card.like_count, card.viewer_liked) == (1, True)  # type: ignore[attr-defined]
    (seen,) = selectors.home_feed(viewer=other).notes
    assert (seen.like_count, seen.viewer_liked) == (1, False)  # type: ignore[attr-defined]
