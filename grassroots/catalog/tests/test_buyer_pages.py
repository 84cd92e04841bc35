import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.catalog.models import Product, ProductImage
from grassroots.catalog.tests.factories import CategoryFactory, ProductFactory, SkuFactory
from grassroots.curation.models import ScreeningStage
from grassroots.merchants.models import Merchant
from grassroots.merchants.tests.factories import MerchantFactory

NOW = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)


def _stocked(**kwargs: object) -> Product:
    """A listed product with one image and two SKUs, as the list pages render it."""
    product = ProductFactory(**kwargs)
    ProductImage.objects.create(
        product=product, image=f"products/{product.slug}.jpg", thumbnail=f"products/thumbs/{product.slug}.jpg"
    )
    SkuFactory(product=product, options={"size": "M"}, price_amount=9900)
    SkuFactory(product=product, options={"size": "L"}, price_amount=12900)
    return product


def _link(product: Product) -> str:
    return f'href="/p/{product.slug}/"'


def _hidden_products(**kwargs: object) -> list[Product]:
    """One of each kind a buyer must never see."""
    return [
        ProductFactory(is_listed=False, status=Product.Status.DRAFT, **kwargs),
        ProductFactory(is_listed=False, status=Product.Status.IN_REVIEW, **kwargs),
        ProductFactory(is_listed=False, status=Product.Status.SUSPENDED, **kwargs),
        # Listed, but the merchant is not (or no longer) verified.
        ProductFactory(merchant=MerchantFactory(status=Merchant.Status.APPLIED), **kwargs),
        ProductFactory(merchant=MerchantFactory(status=Merchant.Status.SUSPENDED), **kwargs),
    ]


@pytest.mark.django_db
def test_home_lists_newest_listed_products_with_category_chips(client):  # type: ignore[no-untyped-def]
    old = _stocked(title_en="Old Kettle", listed_at=NOW - datetime.timedelta(days=2))
    new = _stocked(title_en="New Teapot", listed_at=NOW)

    response = client.get("/")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.index(_link(new)) < html.index(_link(old))
    assert "¥99.00" in html
    assert f'src="/media/products/thumbs/{new.slug}.jpg"' in html
    assert new.merchant.name in html
    assert f'href="/c/{new.category.slug}/"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/search/?q=serum", "/?q=serum", "CATEGORY"])
def test_hidden_products_are_absent_from_every_list(client, path):  # type: ignore[no-untyped-def]
    category = CategoryFactory()
    visible = ProductFactory(title_en="Visible Serum", category=category)
    hidden = _hidden_products(title_en="Hidden Serum", category=category)
    url = f"/c/{category.slug}/" if path == "CATEGORY" else path

    html = client.get(url).content.decode()

    assert _link(visible) in html
    for product in hidden:
        assert _link(product) not in html
    assert "Hidden Serum" not in html


@pytest.mark.django_db
def test_hidden_product_pages_are_404_for_strangers(client):  # type: ignore[no-untyped-def]
    hidden = _hidden_products()
    stranger = UserFactory()
    for product in hidden:
        assert client.get(f"/p/{product.slug}/").status_code == 404
        assert client.get(f"/p/{product.pk}/").status_code == 404
    client.force_login(stranger)
    for product in hidden:
        assert client.get(f"/p/{product.slug}/").status_code == 404
    assert client.get("/p/no-such-product/").status_code == 404


@pytest.mark.django_db
def test_merchant_member_and_curator_preview_an_unlisted_product_with_a_banner(client):  # type: ignore[no-untyped-def]
    product = ProductFactory(is_listed=False, status=Product.Status.IN_REVIEW, title_en="Draft Balm")

    for viewer in (product.merchant.owner, CuratorFactory()):
        client.force_login(viewer)
        response = client.get(f"/p/{product.slug}/")
        assert response.status_code == 200
        assert "Not listed." in response.content.decode()
        assert response["X-Robots-Tag"] == "noindex"


@pytest.mark.django_db
def test_listed_product_page_has_no_preview_banner(client):  # type: ignore[no-untyped-def]
    product = _stocked()
    client.force_login(product.merchant.owner)
    html = client.get(f"/p/{product.slug}/").content.decode()
    assert "Not listed." not in html


@pytest.mark.django_db
def test_category_page_includes_sub_category_products_only(client):  # type: ignore[no-untyped-def]
    # Given a category tree: food > tea > green tea, and a sibling, drinks.
    food = CategoryFactory(slug="food", name_en="Food")
    tea = CategoryFactory(slug="tea", name_en="Tea", parent=food)
    green = CategoryFactory(slug="green-tea", name_en="Green tea", parent=tea)
    drinks = CategoryFactory(slug="drinks", name_en="Drinks")
    in_food = ProductFactory(category=food)
    in_tea = ProductFactory(category=tea)
    in_green = ProductFactory(category=green)
    in_drinks = ProductFactory(category=drinks)

    food_html = client.get("/c/food/").content.decode()
    tea_html = client.get("/c/tea/").content.decode()

    assert all(_link(p) in food_html for p in (in_food, in_tea, in_green))
    assert _link(in_drinks) not in food_html
    assert all(_link(p) in tea_html for p in (in_tea, in_green))
    assert _link(in_food) not in tea_html
    assert 'href="/c/green-tea/"' in tea_html  # sub-category chip
    assert 'href="/c/food/"' in tea_html  # breadcrumb
    assert client.get("/c/no-such-category/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "found"), [("面霜", True), ("cream", True), ("CREAM 保湿", True), ("cream tea", False)]
)
def test_search_page_in_chinese_and_english(client, query, found):  # type: ignore[no-untyped-def]
    cream = ProductFactory(title_en="Moisturising Cream", title_zh="保湿面霜")
    tea = ProductFactory(title_en="Green Tea", title_zh="绿茶")

    html = client.get("/search/", {"q": query}).content.decode()

    assert (_link(cream) in html) is found
    assert _link(tea) not in html
    if not found:
        assert "Nothing matches" in html


@pytest.mark.django_db
def test_product_page_shows_stage_badges_variants_and_details(client):  # type: ignore[no-untyped-def]
    ScreeningStage.objects.create(code="buyer-auth", name_en="Authenticity check", name_zh="真伪鉴定", position=901)
    ScreeningStage.objects.create(code="buyer-price", name_en="Fair price", name_zh="价格审核", position=902)
    product = ProductFactory(
        title_en="Moisturising Cream",
        title_zh="保湿面霜",
        brand="Yunnan Herbs",
        origin="Yunnan",
        passed_stages=["buyer-auth", "buyer-price"],
        description_html="<p>Rich &amp; <strong>gentle</strong>.</p>",
    )
    ProductImage.objects.create(product=product, image="products/a.jpg", thumbnail="products/thumbs/a.jpg")
    ProductImage.objects.create(product=product, image="products/b.jpg", thumbnail="products/thumbs/b.jpg")
    ProductImage.objects.create(product=product, image="products/gone.jpg", thumbnail="t.jpg", is_active=False)
    medium = SkuFactory(product=product, options={"size": "50 ml"}, price_amount=9900, stock=3)
    large = SkuFactory(product=product, options={"size": "100 ml"}, price_amount=15900, stock=0)
    SkuFactory(product=product, options={"size": "retired"}, price_amount=100, is_active=False)

    response = client.get(f"/p/{product.slug}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Moisturising Cream</h1>" in html
    assert "Yunnan Herbs" in html and "Yunnan" in html and product.merchant.name in html
    assert "¥99.00 – ¥159.00" in html
    assert '<span class="badge">Authenticity check</span>' in html
    assert '<span class="badge">Fair price</span>' in html
    assert "<p>Rich &amp; <strong>gentle</strong>.</p>" in html
    # Variants: a radio per active SKU; the sold-out one is disabled and labelled.
    assert f'value="{medium.pk}" checked required' in html
    assert f'value="{large.pk}" disabled required' in html
    assert "50 ml" in html and "100 ml" in html and "retired" not in html
    assert html.count("Sold out") == 1
    assert 'id="buy-form"' in html
    # Gallery: full image links and thumbnails, inactive images left out.
    assert 'href="/media/products/a.jpg"' in html and 'src="/media/products/thumbs/b.jpg"' in html
    assert "gone.jpg" not in html
    # Link preview cards.
    assert '<meta property="og:title" content="Moisturising Cream">' in html
    assert '<meta property="og:image" content="http://testserver/media/products/a.jpg">' in html
    assert '<meta property="og:description" content="Rich &amp; gentle.">' in html


@pytest.mark.django_db
def test_product_page_in_chinese_uses_chinese_title_and_stage_names(client):  # type: ignore[no-untyped-def]
    ScreeningStage.objects.create(code="buyer-auth", name_en="Authenticity check", name_zh="真伪鉴定", position=901)
    product = ProductFactory(title_en="Moisturising Cream", title_zh="保湿面霜", passed_stages=["buyer-auth"])

    html = client.get(f"/p/{product.slug}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "<h1>保湿面霜</h1>" in html
    assert '<span class="badge">真伪鉴定</span>' in html


@pytest.mark.django_db
def test_buy_form_and_report_link(client):  # type: ignore[no-untyped-def]
    product = _stocked()
    html = client.get(f"/p/{product.slug}/").content.decode()

    assert f'<form id="buy-form" method="post" action="{reverse("orders:cart_add")}">' in html
    assert f'formaction="{reverse("orders:buy_now")}"' in html
    try:
        report_url = reverse("curation:report_product", args=[product.pk])
    except NoReverseMatch:
        assert "Report this product" not in html
    else:
        assert f'<a href="{report_url}">Report this product</a>' in html


@pytest.mark.django_db
def test_product_page_by_id_redirects_to_the_slug(client):  # type: ignore[no-untyped-def]
    product = _stocked()
    response = client.get(f"/p/{product.pk}/")
    assert response.status_code == 302
    assert response["Location"] == f"/p/{product.slug}/"


@pytest.mark.django_db
def test_numeric_slug_wins_over_another_products_id(client):  # type: ignore[no-untyped-def]
    first = ProductFactory()
    numeric = ProductFactory(slug=str(first.pk))
    html = client.get(f"/p/{first.pk}/").content.decode()
    assert f"<h1>{numeric.title_en}</h1>" in html


def _next_url(html: str) -> str | None:
    match = re.search(r'<nav id="load-more"[^>]*>\s*<a class="btn secondary" href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def _slugs(html: str) -> list[str]:
    return re.findall(r'href="/p/([^/"]+)/"', html)


@pytest.mark.django_db
def test_load_more_links_walk_every_product_exactly_once_without_js(client, settings):  # type: ignore[no-untyped-def]
    settings.GRASSROOTS = {**settings.GRASSROOTS, "API_PAGE_SIZE": 4}
    # Same listing time for several products: the id tie-breaker keeps pages disjoint.
    products = [
        ProductFactory(title_en=f"Cream {i}", listed_at=NOW - datetime.timedelta(days=i % 3)) for i in range(11)
    ]
    url: str | None = "/search/?q=cream"
    seen: list[str] = []
    pages = 0
    while url:
        html = client.get(url).content.decode()
        seen += _slugs(html)
        url = _next_url(html)
        pages += 1

    assert pages == 3
    assert sorted(seen) == sorted(p.slug for p in products)
    assert len(seen) == len(set(seen))


@pytest.mark.django_db
def test_htmx_requests_get_fragments(client, settings):  # type: ignore[no-untyped-def]
    settings.GRASSROOTS = {**settings.GRASSROOTS, "API_PAGE_SIZE": 2}
    for i in range(3):
        ProductFactory(title_en=f"Cream {i}")

    results = client.get("/search/?q=cream", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
    html = results.content.decode()
    more = client.get(_next_url(html), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="product-grid").content.decode()

    assert "<html" not in html and html.lstrip().startswith('<section id="results"')
    assert len(_slugs(html)) == 2
    assert "HX-Request" in results["Vary"]
    assert "<section" not in more and len(_slugs(more)) == 1
    assert '<nav id="load-more" hx-swap-oob="true">' in more
    assert _next_url(more) is None


@pytest.mark.django_db
def test_bad_cursor_is_a_400(client):  # type: ignore[no-untyped-def]
    ProductFactory()
    assert client.get("/?cursor=not-a-cursor").status_code == 400
    assert client.get("/?cursor=WyJ4Il0").status_code == 400  # ["x"]: wrong shape


def _count_queries(client, url: str) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/c/shelf/", "/search/?q=cream", "/?q=cream&cursor=CURSOR"])
def test_list_page_queries_do_not_grow_with_products(client, url):  # type: ignore[no-untyped-def]
    parent = CategoryFactory(slug="shelf")
    child = CategoryFactory(parent=parent)

    def add(n: int) -> None:
        for i in range(n):
            _stocked(title_en=f"Cream {i}", category=child if i % 2 else parent)

    def measure() -> int:
        target = url
        if "CURSOR" in url:
            first = client.get("/?q=cream").content.decode()
            target = _next_url(first) or "/?q=cream"
        return _count_queries(client, target)

    add(3)
    few = measure()
    add(22)
    many = measure()

    assert few == many
    assert many <= 6
