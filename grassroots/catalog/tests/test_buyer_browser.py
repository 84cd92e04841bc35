import pytest

from grassroots.catalog.tests.factories import ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_search_box_and_load_more_swap_fragments_without_a_page_load(page, settings):  # type: ignore[no-untyped-def]
    settings.GRASSROOTS = {**settings.GRASSROOTS, "API_PAGE_SIZE": 2}
    for i in range(3):
        ProductFactory(title_en=f"Moisturising Cream {i}", title_zh=f"保湿面霜{i}")
    ProductFactory(title_en="Green Tea", title_zh="绿茶")

    page.goto("/")
    page.evaluate("window.stillHere = true")
    page.locator("form.search-page input[name=q]").fill("面霜")
    page.locator("#results h1").filter(has_text="面霜").wait_for()

    assert page.evaluate("window.stillHere") is True  # htmx swapped the results; no navigation
    assert "q=%E9%9D%A2%E9%9C%9C" in page.url
    assert page.locator("#product-grid .card").count() == 2

    page.get_by_role("link", name="Load more").click()
    page.locator("#product-grid .card").nth(2).wait_for()

    assert page.locator("#product-grid .card").count() == 3
    assert page.get_by_role("link", name="Load more").count() == 0
    assert page.evaluate("window.stillHere") is True
    assert "Green Tea" not in page.content()


def test_load_more_link_works_without_javascript(browser, live_server, settings):  # type: ignore[no-untyped-def]
    settings.GRASSROOTS = {**settings.GRASSROOTS, "API_PAGE_SIZE": 2}
    for i in range(3):
        ProductFactory(title_en=f"Cream {i}")
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/search/?q=cream")
        assert page.locator("#product-grid .card").count() == 2
        page.get_by_role("link", name="Load more").click()
        page.wait_for_url("**cursor=**")
        assert page.locator("#product-grid .card").count() == 1
    finally:
        context.close()
