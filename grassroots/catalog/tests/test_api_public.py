import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.models import Product, ProductImage
from grassroots.catalog.selectors import category_by_slug
from grassroots.catalog.tests.factories import CategoryFactory, ProductFactory, SkuFactory
from grassroots.core.errors import NotFound
from grassroots.curation.models import ScreeningStage
from grassroots.merchants.models import Merchant
from grassroots.merchants.tests.factories import MerchantFactory

API = "/api/v1/catalog"
NOW = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)


def _stocked(**kwargs: object) -> Product:
    product = ProductFactory(**kwargs)
    ProductImage.objects.create(
        product=product, image=f"products/{product.slug}.jpg", thumbnail=f"products/thumbs/{product.slug}.jpg"
    )
    SkuFactory(product=product, options={"size": "M"}, price_amount=9900)
    SkuFactory(product=product, options={"size": "L"}, price_amount=12900)
    return product


def _hidden_products(**kwargs: object) -> list[Product]:
    return [
        ProductFactory(is_listed=False, status=Product.Status.DRAFT, **kwargs),
        ProductFactory(is_listed=False, status=Product.Status.SUSPENDED, **kwargs),
        ProductFactory(merchant=MerchantFactory(status=Merchant.Status.APPLIED), **kwargs),
        ProductFactory(merchant=MerchantFactory(status=Merchant.Status.REJECTED), **kwargs),
    ]


def _ids(response) -> list[int]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


@pytest.mark.django_db
def test_categories_tree(client):  # type: ignore[no-untyped-def]
    food = CategoryFactory(slug="food", name_en="Food", name_zh="食品", position=1)
    tea = CategoryFactory(slug="tea", name_en="Tea", name_zh="茶", parent=food)
    beauty = CategoryFactory(slug="beauty", name_en="Beauty", name_zh="美妆", position=2)

    response = client.get(f"{API}/categories")

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": food.pk,
            "slug": "food",
            "name": "Food",
            "name_en": "Food",
            "name_zh": "食品",
            "children": [
                {"id": tea.pk, "slug": "tea", "name": "Tea", "name_en": "Tea", "name_zh": "茶", "children": []}
            ],
        },
        {
            "id": beauty.pk,
            "slug": "beauty",
            "name": "Beauty",
            "name_en": "Beauty",
            "name_zh": "美妆",
            "children": [],
        },
    ]


@pytest.mark.django_db
def test_product_list_item_shape(client):  # type: ignore[no-untyped-def]
    product = _stocked(title_en="Moisturising Cream", title_zh="保湿面霜", brand="Herbs")
    Product.objects.filter(pk=product.pk).update(min_price=9900)

    response = client.get(f"{API}/products")

    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {
                "id": product.pk,
                "slug": product.slug,
                "title": "Moisturising Cream",
                "title_en": "Moisturising Cream",
                "title_zh": "保湿面霜",
                "brand": "Herbs",
                "min_price": 9900,
                "currency": "CNY",
                "thumbnail": f"http://testserver/media/products/thumbs/{product.slug}.jpg",
                "merchant": {"id": product.merchant.pk, "name": product.merchant.name},
            }
        ],
        "next_cursor": None,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("q", "found"), [("面霜", True), ("cream", True), ("Cream", True), ("保湿 CREAM", True), ("cream 茶", False)]
)
def test_product_search_in_chinese_and_english(client, q, found):  # type: ignore[no-untyped-def]
    cream = ProductFactory(title_en="Moisturising Cream", title_zh="保湿面霜")
    ProductFactory(title_en="Green Tea", title_zh="绿茶")

    assert _ids(client.get(f"{API}/products", {"q": q})) == ([cream.pk] if found else [])


@pytest.mark.django_db
def test_hidden_products_are_absent_and_404(client):  # type: ignore[no-untyped-def]
    category = CategoryFactory(slug="serums")
    visible = ProductFactory(title_en="Visible Serum", category=category)
    hidden = _hidden_products(title_en="Hidden Serum", category=category)
    client.force_login(hidden[0].merchant.owner)  # even the merchant's own team: the public API shows listed only

    assert _ids(client.get(f"{API}/products")) == [visible.pk]
    assert _ids(client.get(f"{API}/products", {"q": "serum"})) == [visible.pk]
    assert _ids(client.get(f"{API}/products", {"category": "serums"})) == [visible.pk]
    for product in hidden:
        for key in (product.pk, product.slug):
            response = client.get(f"{API}/products/{key}")
            assert response.status_code == 404
            assert response.json() == {"code": "not_found", "message": "Product not found.", "fields": {}}


@pytest.mark.django_db
def test_category_filter_includes_sub_categories_by_slug_or_id(client):  # type: ignore[no-untyped-def]
    food = CategoryFactory(slug="food")
    tea = CategoryFactory(slug="tea", parent=food)
    other = CategoryFactory(slug="other")
    in_food = ProductFactory(category=food, listed_at=NOW)
    in_tea = ProductFactory(category=tea, listed_at=NOW - datetime.timedelta(hours=1))
    in_other = ProductFactory(category=other)

    assert _ids(client.get(f"{API}/products", {"category": "food"})) == [in_food.pk, in_tea.pk]
    assert _ids(client.get(f"{API}/products", {"category": str(tea.pk)})) == [in_tea.pk]
    response = client.get(f"{API}/products", {"category": "nope"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert _ids(client.get(f"{API}/products", {"category": "other"})) == [in_other.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("q", [None, "cream"])
def test_cursor_pagination_returns_every_product_exactly_once(client, q):  # type: ignore[no-untyped-def]
    # Several products share a listing time, so the id tie-breaker matters.
    products = [
        ProductFactory(title_en=f"Cream {i}", listed_at=NOW - datetime.timedelta(days=i % 4)) for i in range(23)
    ]
    ProductFactory(title_en="Exactly", title_zh="cream")  # exact title match ranks first when searching
    expected = {p.pk for p in products} | set(Product.objects.filter(title_en="Exactly").values_list("pk", flat=True))
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 5, **({"q": q} if q else {}), **({"cursor": cursor} if cursor else {})}
        body = client.get(f"{API}/products", params).json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages == 5
    assert len(seen) == len(set(seen)) == 24
    assert set(seen) == expected
    if q:
        assert seen[0] == Product.objects.get(title_en="Exactly").pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "%%%"}, "cursor"),
        ({"cursor": "WyJ4Il0"}, "cursor"),  # ["x"]
        ({"cursor": "WyJub3QtYS1kYXRlIiwgMV0"}, "cursor"),  # ["not-a-date", 1]
        ({"cursor": "WyIyMDI1LTAxLTAxIDAwOjAwOjAwKzAwOjAwIiwgOTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5XQ"}, "cursor"),  # huge id
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"q": "x" * 101}, "q"),
    ],
)
def test_bad_list_parameters_are_422(client, params, field):  # type: ignore[no-untyped-def]
    ProductFactory()
    response = client.get(f"{API}/products", params)
    assert response.status_code == 422
    body = response.json()
    assert field in body["fields"]
    assert body["code"] in {"invalid", "invalid_cursor"}


@pytest.mark.django_db
def test_product_detail(client):  # type: ignore[no-untyped-def]
    ScreeningStage.objects.create(code="buyer-auth", name_en="Authenticity check", name_zh="真伪鉴定", position=901)
    product = ProductFactory(
        title_en="Moisturising Cream",
        title_zh="保湿面霜",
        brand="Herbs",
        origin="Yunnan",
        passed_stages=["buyer-auth", "retired-stage"],
        description_html="<p>Rich.</p>",
    )
    image = ProductImage.objects.create(
        product=product, image="products/a.jpg", thumbnail="products/thumbs/a.jpg", width=800, height=600
    )
    ProductImage.objects.create(product=product, image="products/old.jpg", thumbnail="t/old.jpg", is_active=False)
    small = SkuFactory(product=product, code="S", options={"size": "50 ml"}, price_amount=9900, stock=4)
    big = SkuFactory(product=product, code="L", options={"size": "100 ml"}, price_amount=15900, stock=0)
    SkuFactory(product=product, code="OLD", price_amount=100, is_active=False)

    by_id = client.get(f"{API}/products/{product.pk}")
    by_slug = client.get(f"{API}/products/{product.slug}")

    assert by_id.status_code == 200
    assert by_id.json() == by_slug.json()
    assert by_id.json() == {
        "id": product.pk,
        "slug": product.slug,
        "title": "Moisturising Cream",
        "title_en": "Moisturising Cream",
        "title_zh": "保湿面霜",
        "brand": "Herbs",
        "origin": "Yunnan",
        "min_price": 9900,
        "max_price": 15900,
        "currency": "CNY",
        "description_html": "<p>Rich.</p>",
        "merchant": {"id": product.merchant.pk, "name": product.merchant.name},
        "category": {"id": product.category.pk, "slug": product.category.slug, "name": product.category.name_en},
        "images": [
            {
                "id": image.pk,
                "url": "http://testserver/media/products/a.jpg",
                "thumbnail_url": "http://testserver/media/products/thumbs/a.jpg",
                "width": 800,
                "height": 600,
            }
        ],
        "skus": [
            {
                "id": small.pk,
                "code": "S",
                "label": "50 ml",
                "options": {"size": "50 ml"},
                "price_amount": 9900,
                "currency": "CNY",
                "stock": 4,
            },
            {
                "id": big.pk,
                "code": "L",
                "label": "100 ml",
                "options": {"size": "100 ml"},
                "price_amount": 15900,
                "currency": "CNY",
                "stock": 0,
            },
        ],
        "passed_stages": [
            {"code": "buyer-auth", "name": "Authenticity check"},
            {"code": "retired-stage", "name": "retired-stage"},
        ],
    }


@pytest.mark.django_db
def test_product_detail_names_follow_the_language(client):  # type: ignore[no-untyped-def]
    ScreeningStage.objects.create(code="buyer-auth", name_en="Authenticity check", name_zh="真伪鉴定", position=901)
    product = ProductFactory(title_en="Cream", title_zh="面霜", passed_stages=["buyer-auth"])

    body = client.get(f"{API}/products/{product.pk}", HTTP_ACCEPT_LANGUAGE="zh-hans").json()

    assert body["title"] == "面霜"
    assert body["passed_stages"] == [{"code": "buyer-auth", "name": "真伪鉴定"}]


@pytest.mark.django_db
def test_anonymous_and_token_callers_allowed_but_a_bad_token_is_401(client):  # type: ignore[no-untyped-def]
    ProductFactory()
    assert client.get(f"{API}/products").status_code == 200
    client.force_login(UserFactory())
    assert client.get(f"{API}/categories").status_code == 200
    response = client.get(f"{API}/products", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


@pytest.mark.django_db
def test_product_list_queries_do_not_grow_with_products(client):  # type: ignore[no-untyped-def]
    def measure(params: dict[str, str]) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"{API}/products", params)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    category = CategoryFactory(slug="shelf")
    for i in range(3):
        _stocked(title_en=f"Cream {i}", category=category)
    few = [measure({}), measure({"q": "cream"}), measure({"category": "shelf"})]
    for i in range(22):
        _stocked(title_en=f"Cream {i}", category=category)
    many = [measure({}), measure({"q": "cream"}), measure({"category": "shelf"})]

    assert few == many
    assert many == [2, 2, 4]


def test_category_by_slug_not_found_is_a_service_error(db):  # type: ignore[no-untyped-def]
    CategoryFactory(slug="tea")
    assert category_by_slug(slug="tea").slug == "tea"
    with pytest.raises(NotFound):
        category_by_slug(slug="coffee")


def test_openapi_schema_documents_the_public_catalog(client, db):  # type: ignore[no-untyped-def]
    schema = client.get("/api/v1/openapi.json").json()

    products = schema["paths"]["/api/v1/catalog/products"]["get"]
    assert {p["name"] for p in products["parameters"]} == {"q", "category", "cursor", "limit"}
    assert "/api/v1/catalog/products/{id_or_slug}" in schema["paths"]
    assert "/api/v1/catalog/categories" in schema["paths"]
    assert "CategoryOut" in schema["components"]["schemas"]
