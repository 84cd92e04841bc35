"""The social journey in a real browser, through the pages people use: a shopkeeper writes a note
tagging two products their shop carries and publishes it; a buyer follows them from their profile,
finds the note at the top of the home feed labelled as an ad, likes it and comments on it, opens a
tagged product from the note's card (an attributed link of the shopkeeper's shop) and buys it with
the success card; the shopkeeper's earnings show the commission pending, attributed to that note."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from grassroots.accounts.models import User
from grassroots.accounts.tests.factories import UserFactory
from grassroots.attribution.models import Click, ShareLink
from grassroots.commissions.models import CommissionLine
from grassroots.core.tests.browser import PERSON_USER_AGENT, expect_message, log_in, nav, new_page
from grassroots.interactions.models import Comment, Like
from grassroots.ledger.selectors import ledger_problems
from grassroots.ledger.splits import split_line
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.notes.models import Note, NoteProduct
from grassroots.orders.models import OrderLine
from grassroots.orders.tests.browser import pay_with_success_card, place_order_with_new_address
from grassroots.shops.services import shop_item_add, shop_open
from grassroots.shops.tests.factories import listed_with_rate
from grassroots.social.models import Follow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/journey-social.png"
CHENGDU = {
    "Phone": "13700137000",
    "Province / region": "Sichuan",
    "City": "Chengdu",
    "Address": "3 Jinli Street",
    "Postcode": "610000",
}
NOTE_TITLE = "My winter night routine"
COMMENT = "Does the serum sting on dry skin?"


def _tag(page: Page, *, search: str, title: str) -> None:
    """In the composer's product picker: search by title, tick the product in the results."""
    page.get_by_label("Search products by title").fill(search)
    page.locator("#product-results").get_by_role("checkbox", name=re.compile(rf"^{re.escape(title)}\b")).check()


def _note_card(page: Page, note_id: int) -> Locator:
    return page.locator(f"article#note-{note_id}")


def test_social_journey(browser: Browser, live_server) -> None:  # type: ignore[no-untyped-def]
    # Given a verified merchant with two listed products, each with a commission rate; a shopkeeper
    # whose open shop carries both; a buyer; and an unrelated author the buyer does not follow.
    lotus = MerchantFactory(name="Lotus Skincare", owner=UserFactory(display_name="Lin Mei"))
    cream = listed_with_rate(
        merchant=lotus, title="Moisturising Cream", slug="moisturising-cream", price=29900, rate_bps=1000
    )
    serum = listed_with_rate(merchant=lotus, title="Night Serum", slug="night-serum", price=15800, rate_bps=1200)
    keeper = UserFactory(display_name="Chen Xiao", handle="chenxiao", email="chen.xiao@example.com")
    shop = shop_open(user=keeper, name="Xiao's Skin Picks", accept_terms=True)
    shop_item_add(user=keeper, product_id=cream.product_id, recommendation="Calms my dry winter skin.")
    shop_item_add(user=keeper, product_id=serum.product_id, recommendation="Light enough for humid nights.")
    buyer = UserFactory(display_name="Li Na", handle="lina", email="li.na@example.com")
    commission = split_line(paid=15800, platform_fee_bps=500, commission_bps=1200, has_shopkeeper=True).commission
    assert commission == 1896  # 12% of the serum's paid price
    pages: list[Page] = []

    def person(user: User, **options: str) -> Page:
        page = new_page(browser, live_server.url, **options)
        pages.append(page)
        log_in(page, user)
        return page

    try:
        # 1. The shopkeeper writes a note from the nav, tags both products with the picker's search
        # (one search each) and publishes it.
        writer = person(keeper)
        nav(writer, "Write a note")
        writer.wait_for_url("/notes/new/")
        expect(writer.get_by_role("heading", level=1)).to_have_text("New note")
        writer.get_by_label("Title", exact=True).fill(NOTE_TITLE)
        writer.get_by_label("Text", exact=True).fill("Cream first, then two drops of serum. #skincare")
        _tag(writer, search="moisturising", title="Moisturising Cream")
        _tag(writer, search="serum", title="Night Serum")
        # The second search kept the first pick: it moved to the picked list.
        picked = writer.locator("#picked-products").get_by_role("checkbox")
        expect(picked).to_have_count(1)
        expect(picked).to_have_accessible_name(re.compile(r"Moisturising Cream"))
        expect(picked).to_be_checked()
        expect(
            writer.locator("#product-results").get_by_role("checkbox", name=re.compile(r"^Night Serum\b"))
        ).to_be_checked()
        writer.get_by_role("button", name="Publish").click()
        writer.wait_for_url(re.compile(r"/notes/\d+/$"))
        expect_message(writer, "Your note is published.")
        note = Note.objects.get(author=keeper)
        expect(writer.get_by_role("heading", level=1)).to_have_text(f"Ad {NOTE_TITLE}")
        expect(writer.locator("h1 .ad-label")).to_have_text("Ad")
        assert (note.status, note.is_ad) == (Note.Status.PUBLISHED, True)
        assert list(
            NoteProduct.objects.filter(note=note).order_by("position").values_list("product_id", flat=True)
        ) == [
            cream.product_id,
            serum.product_id,
        ]

        # 2. The buyer signs in, opens the shopkeeper's profile and follows them.
        reader = person(buyer, user_agent=PERSON_USER_AGENT)
        reader.goto("/u/chenxiao/")
        expect(reader.get_by_role("heading", level=1)).to_have_text("Chen Xiao")
        expect(_note_card(reader, note.pk)).to_contain_text(NOTE_TITLE)
        followers = reader.locator(f"#followers-user-{keeper.pk}")
        expect(followers).to_have_text("0")
        follow_form = reader.locator(f'form[data-follow="user-{keeper.pk}"]')
        follow_form.get_by_role("button", name="Follow", exact=True).click()
        expect(reader.locator(f'form[data-follow="user-{keeper.pk}"]').get_by_role("button")).to_have_text("Following")
        reader.reload()
        expect(followers).to_have_text("1")
        assert Follow.objects.filter(follower=buyer, target_kind="user", target_id=keeper.pk).exists()

        # 3. Their landing page is now the home feed, with the note at the top, labelled "Ad" in its
        # first line, and both products on its card.
        reader.goto("/")
        cards = reader.locator("#note-list article.note-card")
        expect(cards.first).to_have_attribute("id", f"note-{note.pk}")
        card = _note_card(reader, note.pk)
        expect(card.locator("h3.note-title")).to_have_text(f"Ad {NOTE_TITLE}")
        expect(card.locator("h3.note-title .ad-label")).to_have_text("Ad")
        expect(card.locator(".note-product-title")).to_have_text(["Moisturising Cream", "Night Serum"])
        nav(reader, "Following")
        reader.wait_for_url("/feed/")
        expect(cards.first).to_have_attribute("id", f"note-{note.pk}")

        # 4. Likes it from the feed: the count goes to 1.
        actions = card.locator(f"#note-actions-{note.pk}")
        actions.get_by_role("button", name="Like (0)").click()
        expect(actions.get_by_role("button", name="Unlike (1)")).to_be_visible()
        expect(actions.locator(".action-like .action-count")).to_have_text("1")
        reader.reload()
        expect(card.locator(".action-like .action-count")).to_have_text("1")

        # 5. Opens the comments and writes one: it is visible on the note page.
        card.get_by_role("link", name="Comments (0)").click()
        reader.wait_for_url(re.compile(rf"/notes/{note.pk}/#comments$"))
        reader.get_by_label("Add a comment").fill(COMMENT)
        reader.locator("#comments").get_by_role("button", name="Post").click()
        comment_items = reader.locator("#comments .comment-list > li.comment")
        expect(comment_items).to_have_count(1)
        expect(comment_items.first).to_contain_text("Li Na")
        expect(comment_items.first.locator(".comment-body")).to_have_text(COMMENT)
        expect(reader.locator("#comments-title")).to_contain_text("1")
        reader.reload()
        expect(reader.locator("#comments .comment-body")).to_have_text([COMMENT])

        # 6. Opens the serum from the note's product card: the link is the shop's card link of this
        # note, and it lands on the product page.
        reader.goto("/feed/")
        serum_link = card.locator(".note-product a").filter(has_text="Night Serum")
        link = ShareLink.objects.get(note=note, product_id=serum.product_id, shop=shop)
        expect(serum_link).to_have_attribute("href", f"/s/{link.code}/")
        serum_link.click()
        reader.wait_for_url("/p/night-serum/")
        expect(reader.get_by_role("heading", level=1)).to_have_text("Night Serum")
        click = Click.objects.get(link=link)
        assert (click.user_id, click.is_bot, click.is_duplicate) == (buyer.pk, False, False)

        # 7. Buys it now, checks out with a new address and pays with the success card.
        reader.get_by_role("button", name="Buy now").click()
        reader.wait_for_url(re.compile(rf"/orders/checkout/\?sku={serum.pk}&qty=1$"))
        place_order_with_new_address(reader, name="Li Na", total="¥158.00", address=CHENGDU)
        pay_with_success_card(reader, total="¥158.00")
        line = OrderLine.objects.get(order__buyer=buyer)
        assert (line.paid_amount, line.attribution_rule, line.attributed_shop_id) == (15800, "last_click", shop.pk)
        assert (line.attribution_click_id, line.commission_rate_bps, line.attribution_held) == (click.pk, 1200, False)

        # 8. The shopkeeper's earnings: the commission is pending, and the note made the sale.
        writer.goto("/")
        nav(writer, "Earnings")
        writer.wait_for_url("/earnings/")
        expect(writer.get_by_role("heading", level=1)).to_have_text("Earnings · Xiao's Skin Picks")
        expect(writer.locator('#balances [data-figure="pending"]')).to_have_text("¥18.96")
        expect(writer.locator('#balances [data-figure="held"]')).to_have_count(0)
        expect(writer.locator('#figures [data-figure="orders"]')).to_have_text("1")
        expect(writer.locator('#figures [data-figure="commission"]')).to_have_text("¥18.96")
        expect(writer.get_by_role("heading", name="By note")).to_be_visible()
        by_note = writer.locator("#notes tbody tr")
        expect(by_note).to_have_count(1)
        expect(by_note.get_by_role("rowheader")).to_have_text(NOTE_TITLE)
        expect(by_note.get_by_role("cell")).to_have_text(["1", "¥158.00", "¥18.96"])
        by_note.get_by_role("link", name=NOTE_TITLE).click()
        writer.wait_for_url(f"/notes/{note.pk}/")
        writer.screenshot(path=SCREENSHOT, full_page=True)
    finally:
        for page in pages:
            page.context.close()

    # The records behind the pages: one like, one comment, one commission line credited to the
    # note's card click, and balanced books.
    note.refresh_from_db()
    assert (note.like_count, note.comment_count) == (1, 1)
    assert Like.objects.filter(note=note, user=buyer).count() == 1
    assert list(Comment.objects.filter(note=note).values_list("author_id", "body")) == [(buyer.pk, COMMENT)]
    commission_line = CommissionLine.objects.get()
    assert (commission_line.order_line_id, commission_line.shop_id, commission_line.click_id) == (
        line.pk,
        shop.pk,
        click.pk,
    )
    assert (commission_line.status, commission_line.commission_amount) == (CommissionLine.Status.PENDING, commission)
    assert ledger_problems() == []
