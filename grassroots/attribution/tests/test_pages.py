from __future__ import annotations

import io
import json
import re
from typing import Any
from xml.etree import ElementTree

import pytest
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.urls import reverse
from PIL import Image

from grassroots.accounts.tests.factories import UserFactory
from grassroots.attribution.models import Click, ShareLink
from grassroots.attribution.services import attribution_resolve, share_link_for
from grassroots.attribution.tests.factories import BROWSER_UA, ShopFactory, shop_with
from grassroots.attribution.views import VISITOR_COOKIE
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.shops.models import Shop

pytestmark = pytest.mark.django_db

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def browser() -> Client:
    return Client(HTTP_USER_AGENT=BROWSER_UA)


def signed_in(user: Any) -> Client:
    client = browser()
    client.force_login(user)
    return client


# --- the short link ------------------------------------------------------------------------


def test_a_shop_link_logs_the_click_sets_the_device_cookie_and_redirects_to_the_shop():
    shop = ShopFactory()
    link = share_link_for(shop=shop)

    response = browser().get(f"/s/{link.code}/")

    assert response.status_code == 302
    assert response["Location"] == reverse("shops:detail", kwargs={"slug": shop.slug})
    cookie = response.cookies[VISITOR_COOKIE]
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", cookie.value)
    assert (cookie["httponly"], cookie["samesite"], cookie["max-age"], cookie["path"]) == (True, "Lax", 31536000, "/")
    assert "no-cache" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    click = Click.objects.get()
    assert (click.link_id, click.visitor_key, click.user_id, click.is_bot) == (link.pk, cookie.value, None, False)
    assert ShareLink.objects.get(pk=link.pk).click_count == 1


def test_a_product_link_redirects_to_the_product_page_and_the_device_is_attributed():
    product = ProductFactory()
    shop = shop_with(product)
    link = share_link_for(shop=shop, product=product)
    client = browser()

    response = client.get(f"/s/{link.code}/")

    assert response["Location"] == reverse("catalog:product", kwargs={"slug": product.slug})
    device = response.cookies[VISITOR_COOKIE].value
    result = attribution_resolve(
        buyer=None, visitor_key=device, product_id=product.pk, at=Click.objects.get().created_at
    )
    assert (result.rule, result.shop_id) == ("last_click", shop.pk)


def test_a_returning_device_keeps_its_cookie_and_a_signed_in_click_records_the_user():
    link = share_link_for(shop=ShopFactory())
    user = UserFactory()
    client = signed_in(user)
    client.cookies[VISITOR_COOKIE] = "returning-device-key-0001"

    response = client.get(f"/s/{link.code}/")

    assert response.cookies[VISITOR_COOKIE].value == "returning-device-key-0001"
    click = Click.objects.get()
    assert (click.visitor_key, click.user_id) == ("returning-device-key-0001", user.pk)


def test_a_tampered_cookie_is_replaced():
    link = share_link_for(shop=ShopFactory())
    client = browser()
    client.cookies[VISITOR_COOKIE] = "bad value;<>"

    response = client.get(f"/s/{link.code}/")

    new_key = response.cookies[VISITOR_COOKIE].value
    assert new_key != "bad value;<>"
    assert Click.objects.get().visitor_key == new_key


@pytest.mark.parametrize("code", ["Zz9Zz9Zz", "nope", "AAAAAAAAAAAA", "%00AAAAAAA", "%C3%A4%C3%A4"])
def test_a_forged_code_is_a_404_and_no_click_is_written(code: str):
    share_link_for(shop=ShopFactory())

    response = browser().get(f"/s/{code}/")

    assert response.status_code == 404
    assert browser().head(f"/s/{code}/").status_code == 404
    assert browser().get(f"/s/{code}/qr.svg").status_code == 404
    assert VISITOR_COOKIE not in response.cookies
    assert not Click.objects.exists()


def test_a_preview_bot_gets_the_redirect_and_its_click_is_logged_as_bot():
    product = ProductFactory()
    SkuFactory(product=product, price_amount=12990)
    link = share_link_for(shop=shop_with(product), product=product)
    bot = Client(HTTP_USER_AGENT="facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)")

    response = bot.get(f"/s/{link.code}/", follow=True)

    assert response.redirect_chain == [(reverse("catalog:product", kwargs={"slug": product.slug}), 302)]
    # The fetcher then reads the product page's Open Graph tags.
    html = response.content.decode()
    assert f'<meta property="og:title" content="{product.title}">' in html
    click = Click.objects.get()
    assert (click.is_bot, click.is_duplicate) == (True, False)
    assert ShareLink.objects.get(pk=link.pk).click_count == 0


def test_a_head_request_redirects_without_logging():
    link = share_link_for(shop=ShopFactory())

    response = browser().head(f"/s/{link.code}/")

    assert response.status_code == 302
    assert not Click.objects.exists()


def test_a_suspended_shops_link_is_a_404():
    shop = ShopFactory()
    link = share_link_for(shop=shop)
    Shop.objects.filter(pk=shop.pk).update(status=Shop.Status.SUSPENDED)

    assert browser().get(f"/s/{link.code}/").status_code == 404
    assert browser().get(f"/s/{link.code}/qr.svg").status_code == 404
    assert not Click.objects.exists()


def test_clicks_over_the_per_ip_limit_still_redirect_but_are_not_logged(settings: Any):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "SHARE_CLICKS_PER_IP_PER_MINUTE": 2}
    link = share_link_for(shop=ShopFactory())

    responses = [Client(HTTP_USER_AGENT=BROWSER_UA).get(f"/s/{link.code}/") for _ in range(3)]

    assert [response.status_code for response in responses] == [302, 302, 302]
    assert Click.objects.count() == 2
    assert ShareLink.objects.get(pk=link.pk).click_count == 2


def test_post_is_not_allowed_on_a_short_link():
    link = share_link_for(shop=ShopFactory())

    assert browser().post(f"/s/{link.code}/").status_code == 405
    assert not Click.objects.exists()


# --- QR codes ------------------------------------------------------------------------------


def test_the_svg_qr_code_is_a_cacheable_svg_image():
    link = share_link_for(shop=ShopFactory())

    response = browser().get(f"/s/{link.code}/qr.svg")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert "public" in response["Cache-Control"] and "max-age=86400" in response["Cache-Control"]
    assert response["Content-Disposition"] == f'inline; filename="grassroots-{link.code}.svg"'
    root = ElementTree.fromstring(response.content)  # noqa: S314  # our own output
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}path") is not None
    assert not Click.objects.exists()


def test_the_png_qr_code_is_a_png_of_the_requested_scale():
    link = share_link_for(shop=ShopFactory())

    small = browser().get(f"/s/{link.code}/qr.png?scale=2&download=1")
    large = browser().get(f"/s/{link.code}/qr.png?scale=999")

    assert small.status_code == 200 and small["Content-Type"] == "image/png"
    assert small.content.startswith(PNG_MAGIC)
    assert small["Content-Disposition"] == f'attachment; filename="grassroots-{link.code}.png"'
    small_image, large_image = Image.open(io.BytesIO(small.content)), Image.open(io.BytesIO(large.content))
    assert small_image.size[0] == small_image.size[1]
    assert large_image.size[0] == small_image.size[0] * 10  # capped at scale 20


def test_the_qr_code_of_an_unknown_code_is_a_404():
    assert browser().get("/s/Zz9Zz9Zz/qr.png").status_code == 404


# --- the shopkeeper's share page -----------------------------------------------------------


def test_the_share_page_lists_the_shop_and_each_item_with_url_qr_and_clicks():
    first, second = ProductFactory(title_en="Green tea"), ProductFactory(title_en="Oolong")
    shop = shop_with(first, second, name="Leaf & Co")
    shop_link = share_link_for(shop=shop)
    ShareLink.objects.filter(pk=shop_link.pk).update(click_count=7)

    response = signed_in(shop.owner).get("/s/share/")

    assert response.status_code == 200
    html = response.content.decode()
    links = {link.product_id: link for link in ShareLink.objects.filter(shop=shop)}
    assert set(links) == {None, first.pk, second.pk}
    for link in links.values():
        assert f'value="http://testserver/s/{link.code}/"' in html
        assert f'src="/s/{link.code}/qr.svg"' in html
        assert f'href="/s/{link.code}/qr.png?download=1"' in html
    assert "Shop: Leaf &amp; Co" in html and "Green tea" in html and "Oolong" in html
    assert "7 clicks" in html
    assert "Cache-Control" in response and "no-store" in response["Cache-Control"]


def test_the_share_page_asks_someone_without_a_shop_to_open_one():
    response = signed_in(UserFactory()).get("/s/share/")

    assert response.status_code == 200
    assert reverse("shops:open") in response.content.decode()
    assert not ShareLink.objects.exists()


def test_the_share_page_needs_a_signed_in_user():
    response = browser().get("/s/share/")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


# --- template tags -------------------------------------------------------------------------


def render(source: str, **context: Any) -> str:
    request = RequestFactory().get("/")
    request.user = context.pop("user", None) or UserFactory.build()
    return Template("{% load attribution_tags %}" + source).render(Context({"request": request, **context}))


def _json_ld(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.DOTALL)
    assert match is not None
    return json.loads(match.group(1))


def test_share_meta_renders_open_graph_twitter_and_product_json_ld():
    product = ProductFactory(
        title_en="Jasmine tea", brand="Leaf", description_html="<p>Hand-rolled &amp; fragrant.</p>"
    )
    SkuFactory(product=product, price_amount=12990, currency="CNY", stock=3)

    html = render("{% share_meta product=product %}", product=product)

    url = f"http://testserver/p/{product.slug}/"
    for tag in [
        '<meta property="og:type" content="product">',
        '<meta property="og:title" content="Jasmine tea">',
        '<meta property="og:description" content="Hand-rolled &amp; fragrant.">',
        f'<meta property="og:url" content="{url}">',
        '<meta property="product:price:amount" content="129.90">',
        '<meta name="twitter:title" content="Jasmine tea">',
    ]:
        assert tag in html
    assert _json_ld(html) == {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": "Jasmine tea",
        "description": "Hand-rolled & fragrant.",
        "url": url,
        "brand": {"@type": "Brand", "name": "Leaf"},
        "offers": {
            "@type": "Offer",
            "price": "129.90",
            "priceCurrency": "CNY",
            "availability": "https://schema.org/InStock",
            "url": url,
        },
    }


def test_share_meta_shows_a_price_range_and_out_of_stock():
    product = ProductFactory()
    SkuFactory(product=product, price_amount=5000, stock=0)
    SkuFactory(product=product, price_amount=8000, stock=0)

    offers = _json_ld(render("{% share_meta product=product %}", product=product))["offers"]

    assert offers["@type"] == "AggregateOffer"
    assert (offers["lowPrice"], offers["highPrice"], offers["offerCount"]) == ("50.00", "80.00", 2)
    assert offers["availability"] == "https://schema.org/OutOfStock"


def test_share_meta_escapes_a_title_that_tries_to_close_the_script():
    title = 'Tea</script><script>alert("x")</script><!--'
    product = ProductFactory(title_en=title, brand="A & B")

    html = render("{% share_meta product=product %}", product=product)

    assert html.count("</script>") == 1
    assert "<script>alert" not in html and "<!--" not in html
    assert "\\u003C/script\\u003E" in html
    data = _json_ld(html)
    assert (data["name"], data["brand"]["name"]) == (title, "A & B")
    assert '<meta property="og:title" content="Tea&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)' in html


def test_share_meta_for_a_shop_uses_its_pitch_and_the_given_url_and_image():
    shop = ShopFactory(name="Leaf & Co", pitch="Teas I drink")

    html = render(
        "{% share_meta shop=shop url='https://example.com/shops/leaf/' image='https://example.com/a.png' %}",
        shop=shop,
    )

    assert '<meta property="og:type" content="website">' in html
    assert '<meta property="og:title" content="Leaf &amp; Co">' in html
    assert '<meta property="og:description" content="Teas I drink">' in html
    assert '<meta property="og:url" content="https://example.com/shops/leaf/">' in html
    assert '<meta property="og:image" content="https://example.com/a.png">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    assert "ld+json" not in html


def test_share_meta_without_a_subject_renders_nothing():
    assert render("{% share_meta %}").strip() == ""


def test_share_panel_shows_the_shop_link_and_qr_to_everyone():
    shop = ShopFactory()

    html = render("{% share_panel shop %}", shop=shop)

    link = ShareLink.objects.get(shop=shop, kind="shop")
    assert f'value="http://testserver/s/{link.code}/"' in html
    assert f'src="/s/{link.code}/qr.svg"' in html
    assert "clicks" not in html  # counts are for the owner


def test_share_panel_shows_the_owner_their_click_count():
    shop = ShopFactory()

    html = render("{% share_panel shop %}", shop=shop, user=shop.owner)

    assert "0 clicks" in html and reverse("attribution:share") in html


def test_share_panel_for_a_product_uses_the_viewers_own_shop_only_if_it_carries_it():
    product = ProductFactory()
    keeper_shop = shop_with(product)

    for_keeper = render("{% share_panel product=product %}", product=product, user=keeper_shop.owner)
    for_other = render("{% share_panel product=product %}", product=product, user=UserFactory())
    foreign = render("{% share_panel shop product=product %}", shop=ShopFactory(), product=product)

    link = ShareLink.objects.get(kind="product")
    assert (link.shop_id, link.product_id) == (keeper_shop.pk, product.pk)
    assert f"/s/{link.code}/" in for_keeper
    assert for_other.strip() == "" and foreign.strip() == ""
    assert ShareLink.objects.count() == 1
