"""Notes selectors: who may read a note, lists, cards in a fixed number of queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.catalog.models import Product
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.core.errors import NotFound
from grassroots.notes import selectors, services
from grassroots.notes.models import Note
from grassroots.notes.tests.factories import NoteFactory, uploads
from grassroots.shops.models import Shop
from grassroots.shops.tests.factories import ShopFactory, ShopItemFactory
from grassroots.social.models import Block

pytestmark = pytest.mark.django_db


def test_note_for_viewer_rules() -> None:
    author, reader, curator = UserFactory(), UserFactory(), CuratorFactory()
    note = NoteFactory(author=author)
    assert selectors.note_for_viewer(note_id=note.pk, viewer=reader) == note
    assert selectors.note_for_viewer(note_id=note.pk, viewer=None) == note

    Note.objects.filter(pk=note.pk).update(moderation=Note.Moderation.HIDDEN, moderation_reason="why")
    with pytest.raises(NotFound):
        selectors.note_for_viewer(note_id=note.pk, viewer=reader)
    assert selectors.note_for_viewer(note_id=note.pk, viewer=author).moderation_reason == "why"
    assert selectors.note_for_viewer(note_id=note.pk, viewer=curator) == note

    draft = NoteFactory(author=author, status=Note.Status.DRAFT, published_at=None)
    with pytest.raises(NotFound):
        selectors.note_for_viewer(note_id=draft.pk, viewer=reader)
    with pytest.raises(NotFound):
        selectors.note_for_viewer(note_id=draft.pk, viewer=curator)
    assert selectors.note_for_viewer(note_id=draft.pk, viewer=author) == draft

    deleted = NoteFactory(author=author, status=Note.Status.DELETED)
    with pytest.raises(NotFound):
        selectors.note_for_viewer(note_id=deleted.pk, viewer=author)


@pytest.mark.parametrize("direction", ["author_blocks", "reader_blocks"])
def test_blocks_hide_notes_both_ways(direction: str) -> None:
    author, reader = UserFactory(), UserFactory()
    note = NoteFactory(author=author)
    if direction == "author_blocks":
        Block.objects.create(blocker=author, blocked=reader)
    else:
        Block.objects.create(blocker=reader, blocked=author)
    with pytest.raises(NotFound):
        selectors.note_for_viewer(note_id=note.pk, viewer=reader)
    assert list(selectors.notes_by_author(author_id=author.pk, viewer=reader)) == []
    assert list(selectors.notes_by_author(author_id=author.pk, viewer=UserFactory())) == [note]


def test_notes_by_author_and_drafts() -> None:
    author = UserFactory()
    older, newer = NoteFactory(author=author), NoteFactory(author=author)
    NoteFactory(author=author, moderation=Note.Moderation.REMOVED)
    draft = NoteFactory(author=author, status=Note.Status.DRAFT, published_at=None)
    NoteFactory()  # someone else's
    assert list(selectors.notes_by_author(author_id=author.pk, viewer=None)) == [newer, older]
    assert list(selectors.notes_drafts(user=author)) == [draft]
    assert list(selectors.notes_drafts(user=UserFactory())) == []


def _shopkeeper_note(n_products: int, *, images: int = 2) -> Note:
    shop = ShopFactory()
    products = [ProductFactory() for _ in range(n_products)]
    for product in products[: n_products // 2]:
        ShopItemFactory(shop=shop, product=product)
    return services.note_create(
        author=shop.owner,
        title="t",
        body="#tag",
        images=uploads(images),
        product_ids=[p.pk for p in products],
        publish=True,
    )


def _count(viewer: Any) -> tuple[int, list[Note]]:
    with CaptureQueriesContext(connection) as captured:
        cards = selectors.notes_cards(selectors.notes_public().order_by("-id"), viewer)
        # what the card template reads
        for note in cards:
            _ = [(note.author.handle, list(note.images.all()), [(c.url, c.thumb) for c in note.card_products])]
    return len(captured.captured_queries), cards


def test_notes_cards_query_count_is_constant(django_assert_max_num_queries: Any) -> None:
    viewer = UserFactory()
    _shopkeeper_note(2)
    few, _ = _count(viewer)
    for _ in range(5):
        _shopkeeper_note(6, images=3)
    NoteFactory()  # no products, no images
    many, cards = _count(viewer)
    assert few == many and many <= 5
    assert len(cards) == 7
    with django_assert_max_num_queries(5):
        selectors.notes_cards(selectors.notes_public(), viewer)


def test_cards_link_through_the_authors_shop_only_for_carried_products() -> None:
    shop = ShopFactory()
    carried, not_carried = ProductFactory(), ProductFactory()
    ShopItemFactory(shop=shop, product=carried)
    note = services.note_create(author=shop.owner, title="t", product_ids=[carried.pk, not_carried.pk], publish=True)
    [card] = selectors.notes_cards(Note.objects.filter(pk=note.pk))
    first, second = card.card_products  # type: ignore[attr-defined]
    assert first.via_shop and first.url.startswith("/s/")
    assert not second.via_shop and second.url == f"/p/{not_carried.slug}/"

    # the shop stops carrying it, or is paused: the card links to the product page
    shop.items.all().delete()
    [card] = selectors.notes_cards(Note.objects.filter(pk=note.pk))
    assert not card.card_products[0].via_shop  # type: ignore[attr-defined]
    ShopItemFactory(shop=shop, product=carried)
    Shop.objects.filter(pk=shop.pk).update(status=Shop.Status.PAUSED)
    [card] = selectors.notes_cards(Note.objects.filter(pk=note.pk))
    assert not card.card_products[0].via_shop  # type: ignore[attr-defined]


def test_cards_drop_products_that_are_no_longer_listed() -> None:
    a, b = ProductFactory(), ProductFactory()
    note = services.note_create(author=UserFactory(), title="t", product_ids=[a.pk, b.pk], publish=True)
    Product.objects.filter(pk=a.pk).update(is_listed=False)
    [card] = selectors.notes_cards([Note.objects.get(pk=note.pk)])
    assert [c.product.pk for c in card.card_products] == [b.pk]  # type: ignore[attr-defined]
