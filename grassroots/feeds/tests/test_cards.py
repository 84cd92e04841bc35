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
    from grassroots.shops.tests.factories import ShopFactory

    shop = ShopFactory()
    via_shop = _shop_note_via_shop(shop)

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


def _shop_note_via_shop(shop):  # type: ignore[no-untyped-def]
    """A shopkeeper's note tagging a product their shop carries, and how its card links it."""
    from grassroots.shops.tests.factories import ShopItemFactory

    product = ProductFactory()
    ShopItemFactory(shop=shop, product=product)
    reader = _reader_following(shop.owner)
    post(shop.owner, "Carried", product_ids=[product.pk])

    def via_shop() -> bool:
        (card,) = selectors.home_feed(viewer=reader).notes
        return bool(card.card_products[0].via_shop)  # type: ignore[attr-defined]

    return via_shop


def test_a_paused_shop_stops_linking_through_it_at_once_and_a_reopened_one_links_again():  # type: ignore[no-untyped-def]
    from grassroots.shops.services import shop_status_set
    from grassroots.shops.tests.factories import ShopFactory

    shop = ShopFactory()
    staff = UserFactory(is_staff=True, is_superuser=True)
    via_shop = _shop_note_via_shop(shop)
    assert via_shop() and via_shop()  # built, then from the cache
    run(shop_status_set, shop=shop, actor=staff, status="paused")
    assert not via_shop() and not via_shop()
    run(shop_status_set, shop=shop, actor=staff, status="active")
    assert via_shop()


def test_a_shop_suspended_in_the_admin_stops_linking_through_it_at_once(client):  # type: ignore[no-untyped-def]
    from grassroots.shops.models import Shop
    from grassroots.shops.tests.factories import ShopFactory

    shop = ShopFactory()
    via_shop = _shop_note_via_shop(shop)
    assert via_shop() and via_shop()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    with hooks():
        response = client.post("/admin/shops/shop/", {"action": "suspend", "_selected_action": [shop.pk]})
    assert response.status_code == 302
    assert Shop.objects.get(pk=shop.pk).status == Shop.Status.SUSPENDED
    assert not via_shop()


def test_a_brand_renamed_in_the_admin_shows_its_new_name_at_once(client):  # type: ignore[no-untyped-def]
    from grassroots.merchants.tests.factories import MerchantFactory, admin_form_data

    merchant = MerchantFactory(name="Old Brand")
    reader = _reader_following(merchant.owner)
    post(merchant.owner, "From the brand", merchant_id=merchant.pk)

    def brand() -> str:
        (card,) = selectors.home_feed(viewer=reader).notes
        return str(card.merchant.name)

    assert brand() == "Old Brand" and brand() == "Old Brand"
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = f"/admin/merchants/merchant/{merchant.pk}/change/"
    data = admin_form_data(client.get(url))
    with hooks():
        response = client.post(url, {**data, "name": "New Brand"})
    assert response.status_code == 302, response.content
    assert brand() == "New Brand"


def test_a_suspended_brand_leaves_the_cards_at_once_and_comes_back_when_reinstated():  # type: ignore[no-untyped-def]
    from grassroots.merchants.services import merchant_reinstate, merchant_suspend
    from grassroots.merchants.tests.factories import MerchantFactory

    merchant = MerchantFactory()
    author = UserFactory()
    reader = _reader_following(author, merchant.owner)
    kept, of_brand = ProductFactory(), ProductFactory(merchant=merchant)
    post(author, "Two products", product_ids=[kept.pk, of_brand.pk])
    post(merchant.owner, "From the brand", merchant_id=merchant.pk)

    def cards() -> dict[str, object]:
        return {
            note.title: (
                note.merchant.status if note.merchant_id else [item.product.pk for item in note.card_products]  # type: ignore[attr-defined]
            )
            for note in selectors.home_feed(viewer=reader).notes
        }

    verified = {"From the brand": "verified", "Two products": [kept.pk, of_brand.pk]}
    assert cards() == verified and cards() == verified
    curator = CuratorFactory()
    run(merchant_suspend, merchant=merchant, actor=curator, reason="Fake documents")
    assert cards() == {"From the brand": "suspended", "Two products": [kept.pk]}
    run(merchant_reinstate, merchant=merchant, actor=curator, reason="Cleared")
    assert cards() == verified


def test_dropping_a_brands_cards_is_one_query(django_assert_num_queries):  # type: ignore[no-untyped-def]
    from grassroots.feeds.cards import card_invalidate_merchants
    from grassroots.merchants.tests.factories import MerchantFactory

    merchant = MerchantFactory()
    product = ProductFactory(merchant=merchant)
    reader = _reader_following(merchant.owner)
    brand = post(merchant.owner, "From the brand", merchant_id=merchant.pk)
    tagging = post(UserFactory(), "Tags it", product_ids=[product.pk])
    unrelated = post(UserFactory(), "Unrelated")
    selectors.discover_feed(viewer=reader)
    assert all(cache.get(card_key(note.pk)) is not None for note in (brand, tagging, unrelated))

    with django_assert_num_queries(1):
        assert card_invalidate_merchants(merchant_ids=[merchant.pk]) == 1
    with django_assert_num_queries(1):
        assert card_invalidate_merchants(merchant_ids=[merchant.pk], with_products=True) == 2
    assert cache.get(card_key(brand.pk)) is None and cache.get(card_key(tagging.pk)) is None
    assert cache.get(card_key(unrelated.pk)) is not None
