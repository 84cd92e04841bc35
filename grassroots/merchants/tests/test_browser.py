"""The merchant journey in a real browser, without JavaScript-only paths."""

from __future__ import annotations

import pytest
from django.test import Client

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.merchants.models import Merchant
from grassroots.merchants.tests.factories import PDF_BYTES, png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, live_server, user) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def test_apply_and_verify_in_a_browser(page, live_server):
    owner, curator = UserFactory(), CuratorFactory()

    _sign_in(page, live_server, owner)
    page.goto("/merchants/apply/")
    page.fill("input[name=name]", "Lotus Porcelain")
    page.fill("input[name=brand_names]", "Lotus")
    page.fill("input[name=contact_email]", "hi@lotus.example")
    page.set_input_files(
        "input[name=business_licence]", {"name": "licence.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
    )
    page.set_input_files(
        "input[name=brand_authorisation]", {"name": "auth.png", "mimeType": "image/png", "buffer": png_bytes()}
    )
    page.click("button[type=submit]:has-text('Send application')")
    page.wait_for_url("**/merchants/console/**")
    assert "waiting for a curator" in page.content()

    _sign_in(page, live_server, curator)
    page.goto("/merchants/review/")
    page.click("text=Lotus Porcelain")
    page.fill("textarea[name=verify-reason]", "Licence and authorisation match.")
    page.click("button:has-text('Verify')")
    page.wait_for_selector("text=Licence and authorisation match.")

    assert Merchant.objects.get().status == Merchant.Status.VERIFIED
    _sign_in(page, live_server, owner)
    page.goto("/merchants/console/")
    assert page.is_visible("a[href='/console/products/']")
    assert "Your business is verified" in page.content()
