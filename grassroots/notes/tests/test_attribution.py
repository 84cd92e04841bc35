"""Note links: a click through a note (or one of its product cards) is logged like any share link,
and a purchase after it is credited to the author's shop and traceable to the note."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError
from django.test import Client

from grassroots.accounts.tests.factories import UserFactory
from grassroots.attribution.models import Click, ShareLink
from grassroots.attribution.services import share_link_for_note
from grassroots.attribution.views import VISITOR_COOKIE
from grassroots.commissions.models import CommissionLine
from grassroots.commissions.tests.test_commission_helpers import (
    BROWSER_UA,
    buy,
    buyer_with_address,
    product_with_rate,
    shop_of,
)
from grassroots.core.errors import NotFound
from grassroots.notes import selectors, services
from grassroots.notes.models import Note
from grassroots.orders.models import OrderLine

pytestmark = pytest.mark.django_db


def _card_link(note: Note) -> str:
    [card] = selectors.notes_cards(Note.objects.filter(pk=note.pk))
    item = card.card_products[0]  # type: ignore[attr-defined]
    assert item.via_shop
    return str(item.url)


def test_a_purchase_through_a_note_card_credits_the_authors_shop_and_the_note(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # Given a shopkeeper's note tagging a product their shop carries (10% commission)
    product, sku = product_with_rate(price=10000, rate_bps=1000)
    keeper = UserFactory()
    shop = shop_of(keeper, product)
    note = services.note_create(author=keeper, title="My favourite kettle", product_ids=[product.pk], publish=True)
    assert note.is_ad

    # When a buyer opens the product from the card, then buys it on the same device
    buyer = buyer_with_address()
    client = Client(HTTP_USER_AGENT=BROWSER_UA)
    client.force_login(buyer)
    response = client.get(_card_link(note))
    assert response.status_code == 302 and response["Location"] == f"/p/{product.slug}/"
    device = response.cookies[VISITOR_COOKIE].value
    order = buy(buyer, [(sku, 1)], django_capture_on_commit_callbacks, device=device)

    # Then the line is credited to the author's shop through the click on the note's card
    line = OrderLine.objects.select_related("attribution_click__link").get(order=order)
    assert (line.attribution_rule, line.attributed_shop_id) == ("last_click", shop.pk)
    assert line.attribution_click is not None
    assert line.attribution_click.link.note_id == note.pk
    assert line.attribution_click.link.product_id == product.pk
    commission = CommissionLine.objects.get(order_line=line)
    assert (commission.shopkeeper_id, commission.commission_amount) == (keeper.pk, 1000)

    # and the per-note selector shows it
    [row] = selectors.notes_commission_by_note(shopkeeper=keeper)
    assert (row.note_id, row.title, row.lines, row.paid_amount, row.commission) == (
        note.pk,
        "My favourite kettle",
        1,
        10000,
        1000,
    )
    assert selectors.notes_commission_by_note(shopkeeper=UserFactory()) == []


def test_the_dashboard_shows_commission_by_note(django_capture_on_commit_callbacks: Any) -> None:
    from django.urls import reverse

    product, sku = product_with_rate(price=5000, rate_bps=2000)
    keeper = UserFactory()
    shop = shop_of(keeper, product)
    note = services.note_create(author=keeper, title="Tea set <b>notes</b>", product_ids=[product.pk], publish=True)
    buyer = buyer_with_address()
    client = Client(HTTP_USER_AGENT=BROWSER_UA)
    share = services.note_share(note_id=note.pk, user=buyer)
    response = client.get(share.path)  # the note-level link: to the note page
    assert response.status_code == 302 and response["Location"] == f"/notes/{note.pk}/"
    buy(buyer, [(sku, 2)], django_capture_on_commit_callbacks, device=response.cookies[VISITOR_COOKIE].value)
    assert CommissionLine.objects.get().shop_id == shop.pk

    owner = Client()
    owner.force_login(keeper)
    html = owner.get(reverse("commissions:dashboard")).content.decode()
    assert "Tea set notes" in html
    assert f'data-note-commission="{note.pk}">¥20.00' in html


def test_note_links_log_clicks_like_other_links() -> None:
    product, _sku = product_with_rate()
    keeper = UserFactory()
    shop = shop_of(keeper, product)
    note = services.note_create(author=keeper, title="t", product_ids=[product.pk], publish=True)
    link = ShareLink.objects.get(kind="note", note=note, product=product)
    human = Client(HTTP_USER_AGENT=BROWSER_UA)
    bot = Client(HTTP_USER_AGENT="Googlebot/2.1 (+http://www.google.com/bot.html)")
    path = f"/s/{link.code}/"
    first = human.get(path)
    assert first.status_code == 302 and first.cookies[VISITOR_COOKIE].value
    assert "no-cache" in first["Cache-Control"] or "max-age=0" in first["Cache-Control"]
    human.get(path)  # a duplicate within the window
    assert bot.get(path).status_code == 302
    clicks = list(Click.objects.filter(link=link).order_by("id").values_list("is_bot", "is_duplicate", "shop_id"))
    assert clicks == [(False, False, shop.pk), (False, True, shop.pk), (True, False, shop.pk)]
    link.refresh_from_db()
    assert link.click_count == 1
    assert Client().head(path).status_code == 302 and Click.objects.filter(link=link).count() == 3


def test_note_links_are_idempotent_and_constrained() -> None:
    product, _sku = product_with_rate()
    keeper = UserFactory()
    shop = shop_of(keeper, product)
    note = services.note_create(author=keeper, title="t", publish=True)
    a = share_link_for_note(shop=shop, note_id=note.pk)
    assert share_link_for_note(shop=shop, note_id=note.pk) == a
    b = share_link_for_note(shop=shop, note_id=note.pk, product_id=product.pk)
    assert b != a and share_link_for_note(shop=shop, note_id=note.pk, product_id=product.pk) == b
    with pytest.raises(NotFound):
        share_link_for_note(shop=shop, note_id=note.pk, product_id=product_with_rate()[0].pk)
    with pytest.raises(IntegrityError):
        ShareLink.objects.create(code="AAAAAAAA", shop=shop, kind="note", note=None)


def test_shop_and_product_links_are_unchanged() -> None:
    from grassroots.attribution.services import share_link_for

    product, _sku = product_with_rate()
    shop = shop_of(UserFactory(), product)
    note = services.note_create(author=shop.owner, title="t", publish=True)
    assert share_link_for(shop=shop).kind == "shop"
    assert share_link_for(shop=shop, product=product).kind == "product"
    with pytest.raises(IntegrityError):
        ShareLink.objects.create(code="BBBBBBBB", shop=shop, kind="shop", note=note)
