"""The distribution journey in a real browser, through the pages people use: a buyer opens a shop,
picks three products with a recommendation each and reads the shop's short link on the share page;
an anonymous visitor opens the link, signs up from the cart and buys with the success card; the
merchant ships and the buyer confirms receipt; the shopkeeper sees the commission pending. Then the
return window passes (the settlement runs with `now` moved past it), the commission becomes
available, the shopkeeper withdraws it, a curator approves and the simulated payout succeeds."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Locator, Page, expect

from grassroots.accounts.models import User
from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.attribution.models import Click, ShareLink
from grassroots.catalog.models import Product
from grassroots.commissions.models import CommissionLine, Withdrawal
from grassroots.commissions.selectors import shopkeeper_balances
from grassroots.commissions.services import commissions_setting, commissions_settle_due
from grassroots.core.tests.browser import PERSON_USER_AGENT, expect_message, log_in, nav, new_page
from grassroots.ledger.selectors import ledger_problems
from grassroots.ledger.splits import split_line
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.orders.models import Order, OrderLine
from grassroots.orders.tests.browser import pay_with_success_card, place_order_with_new_address
from grassroots.shops.models import Shop, ShopItem
from grassroots.shops.tests.factories import listed_with_rate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/journey-earnings.png"
VISITOR_EMAIL = "li.na@example.com"


def _figure(page: Page, name: str) -> Locator:
    return page.locator(f'#balances [data-figure="{name}"]')


def _expect_balances(page: Page, **figures: str) -> None:
    for name, text in figures.items():
        expect(_figure(page, name)).to_have_text(text)


def _pick(page: Page, product: Product, recommendation: str) -> None:
    """On /shops/select/: add one product from the pool with the shopkeeper's own words."""
    card = page.locator(f"#product-{product.pk}")
    card.get_by_label("Your recommendation").fill(recommendation)
    card.get_by_role("button", name="Add to my shop").click()
    page.wait_for_url(re.compile(rf"/shops/select/(\?order=rate)?#product-{product.pk}$"))
    expect_message(page, "Added to your shop.")
    expect(page.locator(f"#product-{product.pk}").get_by_text("In your shop")).to_be_visible()


def _ship(page: Page, *, order_id: int, tracking: str) -> None:
    nav(page, "Orders to ship")
    page.wait_for_url("/orders/console/")
    card = page.locator("section.card").filter(
        has=page.get_by_role("heading", name=re.compile(rf"^Order {order_id}\b"))
    )
    card.get_by_label("Carrier").fill("SF Express")
    card.get_by_label("Tracking number").fill(tracking)
    card.get_by_role("button", name="Mark as shipped").click()
    page.wait_for_url("/orders/console/")
    expect_message(page, f"Order {order_id} marked as shipped.")


def _confirm_receipt(page: Page, *, order_id: int) -> None:
    page.goto(f"/orders/{order_id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order_id} Shipped")
    page.get_by_role("button", name="I received it").click()
    page.wait_for_url(f"/orders/{order_id}/")
    expect_message(page, "Thanks! Receipt confirmed.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order_id} Delivered")


def test_distribution_journey(browser: Browser, live_server) -> None:  # type: ignore[no-untyped-def]
    # Given one verified merchant with three products in the curated pool, each with a commission
    # rate; a buyer who will open a shop; and a curator who approves payouts.
    lotus = MerchantFactory(name="Lotus Skincare", owner=UserFactory(display_name="Lin Mei"))
    cream = listed_with_rate(
        merchant=lotus, title="Moisturising Cream", slug="moisturising-cream", price=29900, rate_bps=1000
    )
    serum = listed_with_rate(merchant=lotus, title="Night Serum", slug="night-serum", price=15800, rate_bps=1200)
    mask = listed_with_rate(merchant=lotus, title="Clay Mask", slug="clay-mask", price=6800, rate_bps=800)
    keeper = UserFactory(display_name="Chen Xiao", email="chen.xiao@example.com")
    curator = CuratorFactory(display_name="Curator Zhao")
    commission = split_line(paid=29900, platform_fee_bps=500, commission_bps=1000, has_shopkeeper=True).commission
    assert commission == 2990  # the 10% rate on the paid price, at least the 10.00 minimum
    pages: list[Page] = []

    def person(user: User | None = None, **options: str) -> Page:
        page = new_page(browser, live_server.url, **options)
        pages.append(page)
        if user is not None:
            log_in(page, user)
        return page

    try:
        # 1. The buyer becomes a shopkeeper: accepts the terms and opens a shop.
        shopkeeper = person(keeper)
        nav(shopkeeper, "Become a shopkeeper")
        shopkeeper.wait_for_url("/shops/open/")
        shopkeeper.get_by_label("Shop name").fill("Xiao's Skin Picks")
        shopkeeper.get_by_label("Your pitch (optional)").fill("Only what I use myself, every day.")
        shopkeeper.get_by_label(re.compile(r"I accept the shopkeeper terms")).check()
        shopkeeper.get_by_role("button", name="Open my shop for free").click()
        shopkeeper.wait_for_url("/shops/select/")
        expect_message(shopkeeper, "Your shop is open. Pick products from the pool to fill it.")
        shop = Shop.objects.get(owner=keeper)
        assert (shop.name, shop.status) == ("Xiao's Skin Picks", Shop.Status.ACTIVE)

        # 2. Picks the three products from the pool, each with a recommendation.
        cream_card = shopkeeper.locator(f"#product-{cream.product_id}")
        expect(cream_card).to_contain_text("Commission 10% · about ¥29.90 per unit")
        _pick(shopkeeper, cream.product, "The only cream that calms my dry winter skin.")
        _pick(shopkeeper, serum.product, "Light enough for humid Shenzhen nights.")
        _pick(shopkeeper, mask.product, "Once a week, ten minutes, done.")
        assert list(ShopItem.objects.filter(shop=shop).order_by("product_id").values_list("product_id", flat=True)) == [
            cream.product_id,
            serum.product_id,
            mask.product_id,
        ]

        # 3. Opens the share page and reads the shop's short link (without opening it: a shopkeeper's
        # own click from the same network would rightly hold the sale for self-referral review).
        nav(shopkeeper, "Share")
        shopkeeper.wait_for_url("/s/share/")
        shop_row = shopkeeper.locator("section.share-link").filter(
            has=shopkeeper.get_by_role("heading", name="Shop: Xiao's Skin Picks")
        )
        short_url = shop_row.get_by_label("Link to share").input_value()
        link = ShareLink.objects.get(shop=shop, product__isnull=True)
        assert short_url == f"{live_server.url}/s/{link.code}/"
        expect(shop_row).to_contain_text("0 clicks")

        # 4. An anonymous visitor opens the link: redirected to the shop page, with a device cookie.
        visitor = person(user_agent=PERSON_USER_AGENT)
        visitor.goto(short_url)
        visitor.wait_for_url(f"/shops/{shop.slug}/")
        expect(visitor.get_by_role("heading", level=1)).to_have_text("Xiao's Skin Picks")
        expect(visitor.locator("blockquote.recommendation")).to_have_count(3)
        device = {c["name"]: c["value"] for c in visitor.context.cookies()}.get("gr_vid", "")
        assert device
        click = Click.objects.get(link=link)
        assert (click.visitor_key, click.user_id, click.is_bot, click.is_duplicate) == (device, None, False, False)

        # 5. Opens the cream from the shop, puts it in the cart as a guest, and signs up to check out.
        visitor.locator("article.card").filter(has_text="Moisturising Cream").get_by_role("link").click()
        visitor.wait_for_url("/p/moisturising-cream/")
        visitor.get_by_role("button", name="Add to cart").click()
        visitor.wait_for_url("/orders/cart/")
        expect_message(visitor, "Added to your cart.")
        visitor.get_by_role("link", name="Log in to check out").click()
        visitor.wait_for_url(re.compile(r"/accounts/login/\?next="))
        visitor.get_by_role("link", name="Create an account").click()
        visitor.wait_for_url(re.compile(r"/accounts/signup/\?next="))
        visitor.get_by_label("Email").fill(VISITOR_EMAIL)
        visitor.get_by_label("Display name").fill("Li Na")
        visitor.get_by_label("Password").fill("a-long-and-unusual-passphrase")
        visitor.get_by_role("button", name="Sign up").click()
        visitor.wait_for_url("/orders/checkout/")
        expect_message(visitor, "Welcome to Grassroots, Li Na.")
        buyer = User.objects.get(email=VISITOR_EMAIL)

        # 6. Checks out with a new address and pays with the success card.
        place_order_with_new_address(visitor, name="Li Na", total="¥299.00")
        pay_with_success_card(visitor, total="¥299.00")
        order = Order.objects.get(buyer=buyer)
        line = OrderLine.objects.get(order=order)
        assert (line.paid_amount, line.attribution_rule, line.attributed_shop_id) == (29900, "last_click", shop.pk)
        assert (line.attribution_click_id, line.commission_rate_bps, line.attribution_held) == (click.pk, 1000, False)

        # 7. The merchant ships it from the console; the buyer confirms receipt.
        merchant_page = person(lotus.owner)
        _ship(merchant_page, order_id=order.pk, tracking="SF5550001111")
        _confirm_receipt(visitor, order_id=order.pk)

        # 8. The shopkeeper's share page counts the visit; the earnings show the commission pending.
        shopkeeper.reload()
        expect(shop_row).to_contain_text("1 click")
        nav(shopkeeper, "Earnings")
        shopkeeper.wait_for_url("/earnings/")
        expect(shopkeeper.get_by_role("heading", level=1)).to_have_text("Earnings · Xiao's Skin Picks")
        _expect_balances(shopkeeper, pending="¥29.90", available="¥0.00", withdrawing="¥0.00", withdrawn="¥0.00")
        expect(_figure(shopkeeper, "held")).to_have_count(0)  # not held for self-referral review
        expect(shopkeeper.locator('#figures [data-figure="clicks"]')).to_have_text("1")
        expect(shopkeeper.locator('#figures [data-figure="orders"]')).to_have_text("1")
        expect(shopkeeper.locator('#figures [data-figure="gmv"]')).to_have_text("¥299.00")
        expect(shopkeeper.locator('#figures [data-figure="commission"]')).to_have_text("¥29.90")
        # Inside the return window the settlement moves nothing.
        assert commissions_settle_due(now=timezone.now()).lines == 0
        assert CommissionLine.objects.get().status == CommissionLine.Status.PENDING

        # 9. Time moves forward: the return window closes and the settlement runs.
        order.refresh_from_db()
        after_window = order.delivered_at + timedelta(days=commissions_setting("RETURN_WINDOW_DAYS") + 1)
        settled = commissions_settle_due(now=after_window)
        assert (settled.lines, settled.amount, settled.netted) == (1, commission, 0)
        shopkeeper.reload()
        _expect_balances(shopkeeper, pending="¥0.00", available="¥29.90", withdrawing="¥0.00", withdrawn="¥0.00")

        # 10. The shopkeeper withdraws all of it.
        shopkeeper.get_by_role("main").get_by_role("link", name="Withdraw", exact=True).last.click()
        shopkeeper.wait_for_url("/earnings/withdraw/")
        expect(shopkeeper.locator("#withdrawable")).to_have_text("¥29.90")
        expect(shopkeeper.get_by_text("The minimum withdrawal is ¥10.00.")).to_be_visible()
        shopkeeper.get_by_label("Amount (CNY)").fill("29.90")
        shopkeeper.get_by_role("button", name="Withdraw").click()
        shopkeeper.wait_for_url("/earnings/withdrawals/")
        expect_message(shopkeeper, "You asked to withdraw ¥29.90. A curator will review it.")
        withdrawal = Withdrawal.objects.get(shopkeeper=keeper)
        request_card = shopkeeper.locator(f"#withdrawal-{withdrawal.pk}")
        expect(request_card.locator("[data-status]")).to_have_text("Requested")

        # 11. A curator approves it; the simulated provider pays it out.
        reviewer = person(curator)
        nav(reviewer, "Withdrawals")
        reviewer.wait_for_url("/earnings/review/withdrawals/")
        review_card = reviewer.locator(f"#withdrawal-{withdrawal.pk}")
        expect(review_card).to_contain_text("Chen Xiao")
        expect(review_card.get_by_role("heading")).to_contain_text("¥29.90")
        review_card.get_by_role("button", name="Approve and pay out").click()
        reviewer.wait_for_url("/earnings/review/withdrawals/")
        expect_message(reviewer, "Paid out ¥29.90.")

        # 12. The shopkeeper sees it paid, and the dashboard adds up.
        shopkeeper.reload()
        paid_card = shopkeeper.locator(f"#withdrawal-{withdrawal.pk}")
        expect(paid_card.locator("[data-status]")).to_have_text("Paid")
        expect(paid_card).to_contain_text(f"Payout reference: sim-{withdrawal.pk}")
        expect(paid_card.locator("ol.timeline li strong")).to_have_text(["Requested", "Approved", "Paid out"])
        shopkeeper.get_by_role("main").get_by_role("link", name="Dashboard").click()
        shopkeeper.wait_for_url("/earnings/")
        _expect_balances(shopkeeper, pending="¥0.00", available="¥0.00", withdrawing="¥0.00", withdrawn="¥29.90")
        shopkeeper.screenshot(path=SCREENSHOT, full_page=True)
    finally:
        for page in pages:
            page.context.close()

    # The books: one commission line for the click's shop, settled and paid out exactly.
    line_row = CommissionLine.objects.get()
    assert (line_row.order_line_id, line_row.shop_id, line_row.shopkeeper_id) == (line.pk, shop.pk, keeper.pk)
    assert (line_row.rule, line_row.click_id, line_row.rate_bps) == ("last_click", click.pk, 1000)
    assert (line_row.paid_amount, line_row.commission_amount, line_row.override_amount) == (29900, commission, 0)
    assert (line_row.status, line_row.available_at) == (CommissionLine.Status.AVAILABLE, after_window)
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.amount, withdrawal.payout_ref, withdrawal.decided_by_id) == (
        Withdrawal.Status.PAID,
        commission,
        f"sim-{withdrawal.pk}",
        curator.pk,
    )
    balances = shopkeeper_balances(user_id=keeper.pk)
    assert balances == {
        "pending": 0,
        "held": 0,
        "available": 0,
        "withdrawing": 0,
        "receivable": 0,
        "withdrawn_total": commission,
    }
    assert ledger_problems() == []
