"""Steps the browser journeys share: a fresh person, signing in, the header, flash messages."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, Page, expect

from grassroots.accounts.tests.factories import DEFAULT_PASSWORD

CARD_SUCCEEDS = "4242424242424242"
# Headless Chromium says "HeadlessChrome", which attribution rightly logs as a bot; a buyer or visitor
# in a journey is a person on an ordinary desktop browser.
PERSON_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)


def new_page(browser: Browser, base_url: str, **options: str) -> Page:
    """A fresh browser context: one person, with their own cookies."""
    context = browser.new_context(base_url=base_url, locale="en-GB", **options)
    context.set_default_timeout(15_000)
    return context.new_page()


def fill_login_form(page: Page, user: Any) -> None:
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def log_in(page: Page, user: Any) -> None:
    page.goto("/accounts/login/")
    fill_login_form(page, user)
    page.wait_for_url("/")
    expect(page.get_by_role("link", name=user.display_name)).to_be_visible()


def nav(page: Page, name: str) -> None:
    """Follow a link of the site header."""
    page.get_by_role("banner").get_by_role("link", name=name, exact=True).click()


def expect_message(page: Page, text: str) -> None:
    expect(page.locator("ul.messages")).to_contain_text(text)
