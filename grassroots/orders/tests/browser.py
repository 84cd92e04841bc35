"""Checkout steps the browser journeys share: a new delivery address and the order, then paying."""

from __future__ import annotations

import re
from collections.abc import Mapping

from playwright.sync_api import Page, expect

from grassroots.core.tests.browser import CARD_SUCCEEDS, expect_message

SHENZHEN = {
    "Phone": "13900139000",
    "Province / region": "Guangdong",
    "City": "Shenzhen",
    "Address": "8 Binhai Avenue",
    "Postcode": "518000",
}


def place_order_with_new_address(page: Page, *, name: str, total: str, address: Mapping[str, str] = SHENZHEN) -> None:
    """On the checkout page of a member without an address: save one, place the order of `total`."""
    expect(page.get_by_role("heading", name="Checkout", exact=True)).to_be_visible()
    expect(page.get_by_text("Add a delivery address to continue.")).to_be_visible()
    page.get_by_label("Recipient").fill(name)
    for label in ("Phone", "Province / region", "City"):
        page.get_by_label(label).fill(address[label])
    page.get_by_label(re.compile(r"^Address")).fill(address["Address"])
    page.get_by_label("Postcode").fill(address["Postcode"])
    page.get_by_role("button", name="Save address").click()
    page.wait_for_url(re.compile(r"/orders/checkout/\?(.+&)?address=\d+$"))
    expect_message(page, "Address saved.")
    page.get_by_role("button", name=f"Place order · {total}").click()
    page.wait_for_url(re.compile(r"/orders/checkouts/\d+/$"))
    expect(page.get_by_text(f"To pay: {total}")).to_be_visible()


def pay_with_success_card(page: Page, *, total: str) -> None:
    """From the placed checkout: pay `total` with the card that succeeds and come back to it."""
    page.get_by_role("button", name="Pay now").click()
    page.wait_for_url(re.compile(r"/payments/pay/\d+/$"))
    page.get_by_label("Card number").fill(CARD_SUCCEEDS)
    page.get_by_role("button", name=f"Pay {total}").click()
    page.wait_for_url(re.compile(r"/payments/pay/\d+/$"))
    expect(page.get_by_text(f"Thank you. We received {total}.")).to_be_visible()
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(re.compile(r"/orders/checkouts/\d+/$"))
    expect(page.get_by_text("Paid. Thank you! The shops will ship your orders.")).to_be_visible()
