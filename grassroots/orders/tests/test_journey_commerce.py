"""The commerce journey in a real browser, through the pages people use: a buyer fills a cart from two
shops, checks out, pays with the success card; both merchants ship from their consoles, the buyer
confirms receipt and reviews. A second buyer's declined card, then a cancelled checkout, leave stock
and the ledger as they were. A third buyer returns an item and is refunded."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from grassroots.accounts.models import User
from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.models import Sku
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.core.tests.browser import CARD_SUCCEEDS, expect_message, log_in, new_page
from grassroots.ledger.models import JournalEntry
from grassroots.ledger.selectors import ledger_problems
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.orders.models import Order, OrderLine, ReturnRequest
from grassroots.payments.models import PaymentIntent, Refund

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CARD_DECLINED = "4000000000000002"
SCREENSHOT = "/tmp/journey-order.png"


def _listed(*, merchant: object, title_en: str, title_zh: str, slug: str, size: str, price: int, stock: int) -> Sku:
    product = ProductFactory(merchant=merchant, title_en=title_en, title_zh=title_zh, slug=slug, min_price=price)
    return SkuFactory(product=product, options={"size": size}, price_amount=price, stock=stock)


def _counters(sku: Sku) -> tuple[int, int, int]:
    sku.refresh_from_db()
    return sku.stock, sku.reserved, sku.sold


def _place_order_with_new_address(page: Page, *, name: str, total: str) -> int:
    """On the checkout page of a buyer with no address book yet: add one, place the order. Returns
    the checkout id."""
    expect(page.get_by_role("heading", name="Checkout", exact=True)).to_be_visible()
    expect(page.get_by_text("Add a delivery address to continue.")).to_be_visible()
    page.get_by_label("Recipient").fill(name)
    page.get_by_label("Phone").fill("13800138000")
    page.get_by_label("Province / region").fill("Zhejiang")
    page.get_by_label("City").fill("Hangzhou")
    page.get_by_label(re.compile(r"^Address")).fill("1 West Lake Road")
    page.get_by_label("Postcode").fill("310000")
    page.get_by_role("button", name="Save address").click()
    page.wait_for_url(re.compile(r"/orders/checkout/\?(.+&)?address=\d+$"))
    expect_message(page, "Address saved.")
    expect(page.get_by_role("radio", name=re.compile(rf"^{name}, 13800138000"))).to_be_checked()
    page.get_by_role("button", name=f"Place order · {total}").click()
    page.wait_for_url(re.compile(r"/orders/checkouts/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Awaiting payment")
    expect(page.get_by_text(f"To pay: {total}")).to_be_visible()
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def _pay(page: Page, *, card: str, total: str) -> None:
    """From the checkout page to the simulated gateway's card form, and submit it."""
    page.get_by_role("button", name="Pay now").click()
    page.wait_for_url(re.compile(r"/payments/pay/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Pay {total}")
    page.get_by_label("Card number").fill(card)
    page.get_by_role("button", name=f"Pay {total}").click()
    page.wait_for_url(re.compile(r"/payments/pay/\d+/$"))


def _paid_and_back(page: Page, *, total: str) -> None:
    expect(page.get_by_text(f"Thank you. We received {total}.")).to_be_visible()
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(re.compile(r"/orders/checkouts/\d+/$"))
    expect(page.get_by_text("Paid. Thank you! The shops will ship your orders.")).to_be_visible()


def _order_card(page: Page, order_id: int) -> Locator:
    return page.locator("section.card").filter(
        has=page.get_by_role("heading", name=re.compile(rf"^Order {order_id}\b"))
    )


def _ship(page: Page, *, order_id: int, carrier: str, tracking: str) -> None:
    """The merchant's console, from the nav: fill the order's ship form."""
    page.goto("/")
    page.get_by_role("banner").get_by_role("link", name="Orders to ship").click()
    page.wait_for_url("/orders/console/")
    card = _order_card(page, order_id)
    expect(card.get_by_role("heading")).to_contain_text("Paid")
    card.get_by_label("Carrier").fill(carrier)
    card.get_by_label("Tracking number").fill(tracking)
    card.get_by_role("button", name="Mark as shipped").click()
    page.wait_for_url("/orders/console/")
    expect_message(page, f"Order {order_id} marked as shipped.")
    expect(_order_card(page, order_id)).to_have_count(0)  # gone from "To ship"


def _confirm_receipt(page: Page, *, order_id: int, tracking: str) -> None:
    page.goto(f"/orders/{order_id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order_id} Shipped")
    expect(page.locator("code").filter(has_text=tracking)).to_be_visible()
    page.get_by_role("button", name="I received it").click()
    page.wait_for_url(f"/orders/{order_id}/")
    expect_message(page, "Thanks! Receipt confirmed.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order_id} Delivered")


def test_commerce_journey(browser: Browser, live_server) -> None:  # type: ignore[no-untyped-def]
    # Given two verified shops, each with one listed product, and three buyers.
    lotus = MerchantFactory(name="Lotus Skincare", owner=UserFactory(display_name="Lin Mei"))
    hill = MerchantFactory(name="Hill Tea Co", owner=UserFactory(display_name="Zhou Shan"))
    cream = _listed(
        merchant=lotus,
        title_en="Moisturising Cream",
        title_zh="保湿面霜",
        slug="moisturising-cream",
        size="50 ml",
        price=12900,
        stock=10,
    )
    tea = _listed(
        merchant=hill, title_en="Green Tea", title_zh="绿茶", slug="green-tea", size="250 g", price=5800, stock=20
    )
    first = UserFactory(display_name="Buyer Wang")
    second = UserFactory(display_name="Buyer Zhao")
    third = UserFactory(display_name="Buyer Chen")
    base_url = live_server.url
    pages: list[Page] = []

    def person(user: User) -> Page:
        page = new_page(browser, base_url)
        pages.append(page)
        log_in(page, user)
        return page

    try:
        # 1. The first buyer fills the cart from both shops' product pages.
        buyer = person(first)
        buyer.goto("/p/moisturising-cream/")
        expect(buyer.get_by_role("heading", level=1)).to_have_text("Moisturising Cream")
        expect(buyer.get_by_text("No reviews yet.")).to_be_visible()
        buyer.get_by_role("button", name="Add to cart").click()
        buyer.wait_for_url("/orders/cart/")
        expect_message(buyer, "Added to your cart.")
        buyer.goto("/p/green-tea/")
        buyer.get_by_label("Quantity").fill("2")
        buyer.get_by_role("button", name="Add to cart").click()
        buyer.wait_for_url("/orders/cart/")
        expect(buyer.get_by_role("heading", level=2)).to_have_text(["Lotus Skincare", "Hill Tea Co"])
        expect(buyer.get_by_text("Total for goods: ¥245.00")).to_be_visible()

        # 2. Checks out: one payment, two orders (one per shop), paid with the success card.
        buyer.get_by_role("link", name="Check out").click()
        buyer.wait_for_url("/orders/checkout/")
        expect(buyer.get_by_text("Ships as 2 orders, one per shop; you pay once.")).to_be_visible()
        _place_order_with_new_address(buyer, name="Wang Fang", total="¥245.00")
        _pay(buyer, card=CARD_SUCCEEDS, total="¥245.00")
        _paid_and_back(buyer, total="¥245.00")
        order_links = buyer.get_by_role("link", name=re.compile(r"^Order \d+$"))
        expect(order_links).to_have_count(2)
        cream_order_id, tea_order_id = (
            Order.objects.filter(buyer=first, merchant=m).values_list("pk", flat=True).get() for m in (lotus, hill)
        )
        expect(_order_card(buyer, cream_order_id)).to_contain_text("Lotus Skincare")
        expect(_order_card(buyer, tea_order_id)).to_contain_text("Hill Tea Co")
        assert _counters(cream) == (9, 0, 1)
        assert _counters(tea) == (18, 0, 2)

        # 3. Each merchant ships its own order from its console.
        lotus_page = person(lotus.owner)
        _ship(lotus_page, order_id=cream_order_id, carrier="SF Express", tracking="SF1234567890")
        hill_page = person(hill.owner)
        _ship(hill_page, order_id=tea_order_id, carrier="ZTO", tracking="ZTO-7788990011")
        # Each console shows only its own shop's orders.
        hill_page.get_by_role("link", name="All", exact=True).click()
        hill_page.wait_for_url(re.compile(r"/orders/console/\?status=$"))
        expect(_order_card(hill_page, tea_order_id)).to_contain_text("ZTO · ZTO-7788990011")
        expect(_order_card(hill_page, cream_order_id)).to_have_count(0)

        # 4. The buyer confirms receipt of both and reviews the cream from the order page.
        _confirm_receipt(buyer, order_id=tea_order_id, tracking="ZTO-7788990011")
        _confirm_receipt(buyer, order_id=cream_order_id, tracking="SF1234567890")
        buyer.get_by_role("link", name="Write a review of Moisturising Cream").click()
        buyer.wait_for_url(re.compile(r"/reviews/write/\d+/$"))
        expect(buyer.get_by_role("heading", name="Write a review")).to_be_visible()
        buyer.get_by_role("radio", name="5 stars").check()
        buyer.get_by_label("Your review").fill("Rich but gentle; the jar arrived sealed.")
        buyer.get_by_role("button", name="Publish review").click()
        buyer.wait_for_url(f"/reviews/products/{cream.product_id}/")
        expect_message(buyer, "Thank you! Your review is published.")
        buyer.goto("/p/moisturising-cream/")
        review = buyer.locator("#reviews article.review")
        expect(review).to_have_count(1)
        expect(review).to_contain_text("Buyer Wang")
        expect(review).to_contain_text("✓ Verified purchase")
        expect(review).to_contain_text("Rich but gentle; the jar arrived sealed.")
        expect(buyer.locator("#reviews .rating-summary")).to_contain_text("5.0 out of 5 · 1 rating")

        # 5. A second buyer tries the cream with buy-now and a card that is declined.
        cream_before, entries_before = _counters(cream), JournalEntry.objects.count()
        decliner = person(second)
        decliner.goto("/p/moisturising-cream/")
        decliner.get_by_role("button", name="Buy now").click()
        decliner.wait_for_url(re.compile(rf"/orders/checkout/\?sku={cream.pk}&qty=1$"))
        _place_order_with_new_address(decliner, name="Zhao Lei", total="¥129.00")
        _pay(decliner, card=CARD_DECLINED, total="¥129.00")
        expect(decliner.get_by_text("Payment failed")).to_be_visible()
        expect(decliner.get_by_text("Your card was declined.")).to_be_visible()
        expect(decliner.locator(".timeline")).to_contain_text("•••• 0002 · Failed (card_declined)")
        stock, reserved, sold = _counters(cream)
        assert (stock, reserved, sold) == (cream_before[0] - 1, cream_before[1] + 1, cream_before[2])  # held
        assert JournalEntry.objects.count() == entries_before
        # They give up: back to the order and cancel it, which puts the unit back on sale.
        decliner.get_by_role("link", name="Continue").click()
        decliner.wait_for_url(re.compile(r"/orders/checkouts/\d+/$"))
        decliner.get_by_role("button", name="Cancel order").click()
        expect_message(decliner, "Your order was cancelled.")
        expect(decliner.get_by_role("heading", level=1)).to_contain_text("Cancelled")
        expect(decliner.get_by_role("button", name="Pay now")).to_have_count(0)
        assert _counters(cream) == cream_before
        assert JournalEntry.objects.count() == entries_before
        assert ledger_problems() == []
        assert not PaymentIntent.objects.filter(payer=second, status=PaymentIntent.Status.SUCCEEDED).exists()

        # 6. A third buyer buys the tea, it is shipped and received ...
        returner = person(third)
        returner.goto("/p/green-tea/")
        returner.get_by_role("button", name="Buy now").click()
        returner.wait_for_url(re.compile(rf"/orders/checkout/\?sku={tea.pk}&qty=1$"))
        _place_order_with_new_address(returner, name="Chen Jing", total="¥58.00")
        _pay(returner, card=CARD_SUCCEEDS, total="¥58.00")
        _paid_and_back(returner, total="¥58.00")
        order_id = Order.objects.values_list("pk", flat=True).get(buyer=third)
        assert _counters(tea) == (17, 0, 3)
        _ship(hill_page, order_id=order_id, carrier="YTO", tracking="YT5566778899")
        _confirm_receipt(returner, order_id=order_id, tracking="YT5566778899")

        # ... then requests a return from the order page,
        after_sale = returner.locator("#after-sale")
        expect(after_sale).to_contain_text("You can request a return until")
        after_sale.get_by_label("Reason (optional)").fill("Too smoky for me.")
        after_sale.get_by_role("button", name="Request a return").click()
        returner.wait_for_url(re.compile(r"/orders/returns/\d+/$"))
        return_id = int(returner.url.rstrip("/").rsplit("/", 1)[1])
        expect_message(returner, "Request sent. The merchant will answer it.")
        expect(returner.get_by_role("heading", level=1)).to_have_text(f"Return {return_id} Requested")
        expect(returner.get_by_text("Waiting for the merchant to answer.")).to_be_visible()

        # the merchant approves it,
        hill_page.goto("/orders/console/")
        hill_page.get_by_role("main").get_by_role("link", name="Returns and refunds").click()
        hill_page.wait_for_url("/orders/console/returns/")
        request_card = hill_page.locator("section.card").filter(has_text=f"Return {return_id}")
        expect(request_card).to_contain_text("Reason: Too smoky for me.")
        request_card.get_by_role("button", name="Approve the return").click()
        expect_message(hill_page, f"Return {return_id} approved.")

        # the buyer sends it back with a tracking number,
        returner.reload()
        expect(returner.get_by_role("heading", level=1)).to_have_text(f"Return {return_id} Approved")
        returner.get_by_label("Carrier").fill("YTO")
        returner.get_by_label("Tracking number").fill("YT0001112223")
        returner.get_by_role("button", name="I sent it back").click()
        expect_message(returner, "Thanks. The merchant refunds you when the parcel arrives.")
        expect(returner.get_by_role("heading", level=1)).to_have_text(f"Return {return_id} Sent back")

        # and the merchant, once the parcel is in, refunds the buyer.
        hill_page.get_by_role("link", name="On the way back").click()
        hill_page.wait_for_url(re.compile(r"/orders/console/returns/\?status=shipped_back$"))
        request_card = hill_page.locator("section.card").filter(has_text=f"Return {return_id}")
        expect(request_card).to_contain_text("Sent back with YTO · YT0001112223")
        request_card.get_by_role("button", name="Goods received: refund the buyer").click()
        expect_message(hill_page, f"Return {return_id} received and refunded.")

        # The buyer sees the refund on the return and on the order.
        returner.reload()
        expect(returner.get_by_role("heading", level=1)).to_have_text(f"Return {return_id} Refunded")
        expect(returner.get_by_text("Refunded in all ¥58.00")).to_be_visible()
        expect(returner.locator("ol.timeline li strong")).to_have_text(
            ["Requested", "Approved", "Sent back", "Goods received by the merchant", "Refunded"]
        )
        returner.get_by_role("link", name=f"Order {order_id}", exact=True).click()
        returner.wait_for_url(f"/orders/{order_id}/")
        # Every unit came back: the order reads refunded, not delivered.
        expect(returner.get_by_role("heading", level=1)).to_have_text(f"Order {order_id} Refunded")
        expect(returner.locator("#after-sale li")).to_have_text(
            f"Return {return_id} · Return and refund · Refunded · ¥58.00"
        )
        expect(returner.locator("ol.timeline li strong")).to_have_text(["Placed", "Paid", "Shipped", "Received"])
        returner.screenshot(path=SCREENSHOT, full_page=True)
    finally:
        for page in pages:
            page.context.close()

    # The books: the refund went through the gateway, the line and the stock were given back.
    line = OrderLine.objects.get(order_id=order_id)
    assert (line.refunded_quantity, line.refunded_amount, line.paid_amount) == (1, 5800, 5800)
    returned = ReturnRequest.objects.get(pk=return_id)
    assert (returned.status, returned.refund_amount) == (ReturnRequest.Status.REFUNDED, 5800)
    refund = Refund.objects.get(intent__payer=third)
    assert (refund.amount, refund.status, refund.intent.amount_refunded) == (5800, Refund.Status.SUCCEEDED, 5800)
    assert _counters(tea) == (18, 0, 2)
    assert _counters(cream) == (9, 0, 1)
    assert ledger_problems() == []
