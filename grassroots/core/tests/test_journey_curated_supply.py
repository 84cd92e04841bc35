"""The curated-supply journey in a real browser, through the pages people use: a merchant is verified,
its product passes every screening stage and is found by buyers in Chinese and English; a buyer's
counterfeit report gets it suspended, and then nobody can find or open it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.catalog.models import Product
from grassroots.catalog.tests.factories import CategoryFactory
from grassroots.core.tests.browser import expect_message, fill_login_form, log_in, new_page
from grassroots.curation.models import StageDecision
from grassroots.merchants.tests.factories import PDF_BYTES, png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STAGES = ["Qualification", "Authenticity", "Sample quality", "Pricing", "Final review"]
SCREENSHOT = "/tmp/journey-product.png"


def _search_from_home(page: Page, query: str) -> None:
    page.goto("/")
    box = page.get_by_role("main").get_by_role("searchbox", name="Search goods")
    box.fill(query)
    box.press("Enter")
    expect(page.get_by_role("heading", name=f"Results for “{query}”")).to_be_visible()


def test_curated_supply_journey(browser: Browser, live_server) -> None:  # type: ignore[no-untyped-def]
    # Given a would-be merchant, a curator, a buyer and a category.
    owner = UserFactory(display_name="Lin Mei")
    curator = CuratorFactory(display_name="Curator Zhao")
    reporter = UserFactory(display_name="Buyer Wang")
    category = CategoryFactory(name_en="Skincare", name_zh="护肤")
    base_url = live_server.url
    pages: list[Page] = []

    def person() -> Page:
        page = new_page(browser, base_url)
        pages.append(page)
        return page

    try:
        # 1. The user logs in and applies to become a merchant, with both documents.
        merchant_page = person()
        log_in(merchant_page, owner)
        merchant_page.goto("/merchants/apply/")
        merchant_page.get_by_label("Company or brand name").fill("Lotus Skincare")
        merchant_page.get_by_label("Brands you sell").fill("Lotus")
        merchant_page.get_by_label("Contact email").fill("hello@lotus.example")
        merchant_page.get_by_label("About your business").fill("We make creams in Yunnan.")
        merchant_page.get_by_label("Business licence (PDF or image)").set_input_files(
            files=[{"name": "licence.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}]
        )
        merchant_page.get_by_label("Brand authorisation (PDF or image)").set_input_files(
            files=[{"name": "authorisation.png", "mimeType": "image/png", "buffer": png_bytes()}]
        )
        merchant_page.get_by_role("button", name="Send application").click()
        merchant_page.wait_for_url(re.compile(r"/merchants/console/\?merchant=\d+$"))
        expect_message(merchant_page, "Your application is waiting for review.")
        expect(merchant_page.get_by_role("heading", name="Lotus Skincare")).to_contain_text("Applied")
        merchant_id = int(merchant_page.url.rsplit("=", 1)[1])

        # 2. The curator logs in and verifies the merchant after looking at its documents.
        curator_page = person()
        log_in(curator_page, curator)
        curator_page.goto(f"/merchants/review/{merchant_id}/")
        expect(curator_page.get_by_role("link", name="Business licence")).to_be_visible()
        expect(curator_page.get_by_role("link", name="Brand authorisation")).to_be_visible()
        verify_form = curator_page.locator("form").filter(
            has=curator_page.get_by_role("button", name="Verify", exact=True)
        )
        verify_form.get_by_label("Reason").fill("Licence and brand authorisation check out.")
        verify_form.get_by_role("button", name="Verify", exact=True).click()
        expect_message(curator_page, "Saved: Lotus Skincare is now Verified.")
        expect(curator_page.get_by_role("heading", name="Lotus Skincare")).to_contain_text("Verified")

        # 3. The merchant drafts the product, adds an image on the edit page and submits it.
        merchant_page.goto("/console/products/new/")
        merchant_page.get_by_label("Title (English)").fill("Moisturising Cream")
        merchant_page.get_by_label("Title (Chinese)").fill("保湿面霜")
        merchant_page.get_by_label("Brand").fill("Lotus")
        merchant_page.get_by_label("Origin").fill("Yunnan")
        merchant_page.get_by_label("Category").select_option(label=category.name_en)
        merchant_page.get_by_label("Description").fill("A rich **night cream** for dry skin.\n\n- 50 ml")
        first_variant = merchant_page.locator(".card").filter(has_text="Variant 1")
        first_variant.get_by_label("Size").fill("50 ml")
        first_variant.get_by_label("Price (CNY)").fill("129.00")
        first_variant.get_by_label("Stock").fill("40")
        merchant_page.get_by_role("button", name="Save draft").click()
        merchant_page.wait_for_url(re.compile(r"/console/products/\d+/$"))
        expect_message(merchant_page, "Saved as a draft.")
        expect(merchant_page.get_by_role("heading", name="Moisturising Cream")).to_be_visible()
        expect(merchant_page.get_by_text("No images yet: add at least one before submitting.")).to_be_visible()

        merchant_page.get_by_role("link", name="Edit", exact=True).click()
        merchant_page.wait_for_url(re.compile(r"/console/products/\d+/edit/$"))
        merchant_page.get_by_label("Add images").set_input_files(
            files=[{"name": "cream.png", "mimeType": "image/png", "buffer": png_bytes((480, 480))}]
        )
        merchant_page.get_by_role("button", name="Save changes").click()
        merchant_page.wait_for_url(re.compile(r"/console/products/\d+/$"))
        expect_message(merchant_page, "Saved.")
        expect(merchant_page.locator(".gallery img")).to_have_count(1)

        merchant_page.get_by_role("button", name="Submit for screening").click()
        expect_message(merchant_page, "Submitted for screening.")
        expect(merchant_page.locator(".badge").first).to_have_text("In review")

        # 4. The curator passes it through every stage, from the dashboard's queues, with a note each time.
        curator_page.goto("/curation/")
        expect(curator_page.get_by_role("row", name=re.compile(r"^Qualification .* 1$"))).to_be_visible()
        curator_page.get_by_role("link", name="Qualification", exact=True).click()
        expect(curator_page.get_by_role("heading", level=1)).to_have_text(STAGES[0])
        curator_page.get_by_role("link", name="Moisturising Cream").click()
        for stage in STAGES:
            # After each pass the curator stays on the product, now at its next stage.
            curator_page.wait_for_url(re.compile(r"/curation/submissions/\d+/$"))
            expect(curator_page.get_by_role("heading", name=f"Decide: {stage}")).to_be_visible()
            curator_page.get_by_label("Pass", exact=True).check()
            curator_page.get_by_label("Notes").fill(f"{stage}: checked and fine.")
            curator_page.get_by_role("button", name="Record decision").click()
            expect_message(curator_page, f"{stage}: Pass recorded for Moisturising Cream.")
        # The last pass closes the review and returns to the (now empty) final queue.
        expect(curator_page.get_by_text("Nothing is waiting at this stage.")).to_be_visible()
        curator_page.goto("/curation/")
        expect(curator_page.get_by_role("link", name="0 open reports")).to_be_visible()

        # 5. An anonymous buyer finds it by its Chinese title and sees the screened badge and the price.
        buyer_page = person()
        _search_from_home(buyer_page, "面霜")
        expect(buyer_page).to_have_url(re.compile(r"q=%E9%9D%A2%E9%9C%9C"))
        results = buyer_page.locator("#product-grid .card")
        expect(results).to_have_count(1)
        expect(results).to_contain_text("¥129.00")
        results.get_by_role("link").click()
        buyer_page.wait_for_url(re.compile(r"/p/moisturising-cream-[0-9a-f]+/$"))
        product_url = buyer_page.url
        expect(buyer_page.get_by_role("heading", level=1)).to_have_text("Moisturising Cream")
        expect(buyer_page.locator("section p.price")).to_have_text("¥129.00")
        screened = buyer_page.locator("p.screened .badge")
        expect(screened).to_have_text(["✓ Screened", *STAGES])
        photo = buyer_page.get_by_role("img", name="Moisturising Cream, image 1")
        expect(photo).to_be_visible()
        assert photo.evaluate("img => img.complete && img.naturalWidth") == 480  # the upload is served, not broken
        buyer_page.screenshot(path=SCREENSHOT, full_page=True)
        # And by the English title, from the search box at the top of any page.
        top_search = buyer_page.get_by_role("banner").get_by_role("searchbox", name="Search goods")
        top_search.fill("cream")
        top_search.press("Enter")
        expect(buyer_page.get_by_role("heading", name="Results for “cream”")).to_be_visible()
        expect(buyer_page.locator("#product-grid .card")).to_have_count(1)
        expect(buyer_page.locator("#product-grid")).to_contain_text("Moisturising Cream")

        # 6. Another buyer reports it as counterfeit; the report link asks them to log in first.
        reporter_page = person()
        reporter_page.goto(product_url)
        reporter_page.get_by_role("link", name="Report this product").click()
        reporter_page.wait_for_url(re.compile(r"/accounts/login/\?next="))
        fill_login_form(reporter_page, reporter)
        reporter_page.wait_for_url(re.compile(r"/curation/report/\d+/$"))
        expect(reporter_page.get_by_role("heading", name="Report “Moisturising Cream”")).to_be_visible()
        reporter_page.get_by_label("Counterfeit").check()
        reporter_page.get_by_label("Describe the problem").fill("The jar has a misspelt logo and no batch code.")
        reporter_page.get_by_role("button", name="Send report").click()
        expect_message(reporter_page, "Thank you. A curator will review this product.")
        expect(reporter_page.get_by_role("heading", name="Your reports on this product")).to_be_visible()

        # 7. The curator sees the open report and suspends the product from it.
        curator_page.goto("/curation/reports/")
        report_row = curator_page.get_by_role("row").filter(has_text="Moisturising Cream")
        expect(report_row).to_contain_text("Counterfeit")
        expect(report_row).to_contain_text("misspelt logo")
        report_row.get_by_role("link", name="Moisturising Cream").click()
        curator_page.wait_for_url(re.compile(r"/curation/reports/\d+/$"))
        expect(curator_page.get_by_role("heading", name="Report: Counterfeit")).to_be_visible()
        curator_page.get_by_label("Reason").fill("Counterfeit report with photos of a fake logo.")
        curator_page.get_by_role("button", name="Suspend now").click()
        expect_message(curator_page, "Moisturising Cream is suspended and no longer listed.")

        # 8. Buyers can neither find nor open it any more.
        _search_from_home(buyer_page, "面霜")
        expect(buyer_page.get_by_text("Nothing matches “面霜”.")).to_be_visible()
        expect(buyer_page.locator("#product-grid .card")).to_have_count(0)
        response = buyer_page.goto(product_url)
        assert response is not None
        assert response.status == 404
    finally:
        for page in pages:
            page.context.close()

    product = Product.objects.get(title_en="Moisturising Cream")
    assert product.status == Product.Status.SUSPENDED
    assert product.is_listed is False
    assert StageDecision.objects.filter(submission__product=product, decision=StageDecision.Decision.PASS).count() == 5
