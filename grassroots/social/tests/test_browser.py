"""The follow button in a real browser: htmx swaps it in place and updates the count; without
JavaScript the same form posts and redirects back."""

from __future__ import annotations

import pytest
from django.test import Client

from grassroots.accounts.tests.factories import UserFactory
from grassroots.social.models import Follow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(context, live_server, user) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    context.clear_cookies()
    context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def test_follow_button_swaps_in_place_and_updates_the_count(page, live_server):  # type: ignore[no-untyped-def]
    fan, star = UserFactory(), UserFactory(display_name="Star")
    _sign_in(page.context, live_server, fan)

    page.goto(f"/u/{star.handle}/")
    page.evaluate("window.stillHere = true")
    page.get_by_role("button", name="Follow", exact=True).click()
    page.get_by_role("button", name="Following").wait_for()

    assert page.evaluate("window.stillHere") is True
    assert page.locator(f"#followers-user-{star.pk}").inner_text() == "1"
    assert Follow.objects.filter(follower=fan, target_id=star.pk).exists()

    page.get_by_role("button", name="Following").click()
    page.get_by_role("button", name="Follow", exact=True).wait_for()
    assert page.locator(f"#followers-user-{star.pk}").inner_text() == "0"
    assert page.evaluate("window.stillHere") is True
    assert not Follow.objects.exists()


def test_follow_button_works_without_javascript(browser, live_server):  # type: ignore[no-untyped-def]
    fan, star = UserFactory(), UserFactory()
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        _sign_in(context, live_server, fan)
        page = context.new_page()
        page.goto(f"/u/{star.handle}/")
        page.get_by_role("button", name="Follow", exact=True).click()
        page.wait_for_url(f"**/u/{star.handle}/")
        assert page.get_by_role("button", name="Following").count() == 1
        assert page.locator(f"#followers-user-{star.pk}").inner_text() == "1"
    finally:
        context.close()
