"""The merchant product API at /api/v1/catalog/merchant/."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.catalog.models import Category, Product, ProductImage, ProductRevision, Sku
from grassroots.catalog.tests.factories import CategoryFactory, ProductFactory, SkuFactory
from grassroots.curation.models import ScreeningStage, Submission
from grassroots.merchants.tests.factories import MerchantFactory

BASE = "/api/v1/catalog/merchant"


def png(name: str = "photo.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (30, 120, 60)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture(autouse=True)
def stages(db):  # type: ignore[no-untyped-def]
    ScreeningStage.objects.get_or_create(code="final", defaults={"name_en": "Final review", "position": 99})


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send(client: Client, method: str, path: str, body: Any = None) -> Any:
    return getattr(client, method)(f"{BASE}{path}", data=json.dumps(body), content_type="application/json")


def product_body(category: Category, **overrides: Any) -> dict[str, Any]:
    body = {
        "category_id": category.pk,
        "title_en": "Silk scarf",
        "title_zh": "真丝围巾",
        "brand": "Hangzhou Silk",
        "origin": "Hangzhou",
        "description_md": "Mulberry silk, *hand-rolled* edges.",
        "skus": [
            {"code": "SCARF-RED", "options": {"colour": "red"}, "price_amount": 29900, "stock": 12},
            {"code": "SCARF-BLUE", "options": {"colour": "blue"}, "price_amount": 31900, "stock": 8},
        ],
    }
    body.update(overrides)
    return body


@pytest.mark.django_db
def test_create_a_product_with_two_skus_and_an_image_then_submit_it():
    merchant = MerchantFactory()
    client = signed_in(merchant.owner)

    created = send(client, "post", "/products", product_body(CategoryFactory()))

    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["status"], data["is_listed"], data["min_price"], data["merchant_id"]) == (
        "draft",
        False,
        29900,
        merchant.pk,
    )
    assert [(s["code"], s["price_amount"], s["stock"], s["reserved"]) for s in data["skus"]] == [
        ("SCARF-RED", 29900, 12, 0),
        ("SCARF-BLUE", 31900, 8, 0),
    ]
    assert data["description_html"] == "<p>Mulberry silk, <em>hand-rolled</em> edges.</p>"

    uploaded = client.post(f"{BASE}/products/{data['id']}/images", {"images": [png()]})

    assert uploaded.status_code == 201, uploaded.content
    images = uploaded.json()["images"]
    assert [(i["width"], i["height"], i["pending"]) for i in images] == [(800, 600, False)]
    assert images[0]["thumbnail_url"].startswith("/media/products/thumbs/")

    submitted = client.post(f"{BASE}/products/{data['id']}/submit")

    assert submitted.status_code == 200
    assert submitted.json()["status"] == "in_review"
    assert Submission.objects.filter(product_id=data["id"], state="in_review").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("price", [-100, 0, "12.5", 12.5, "1290"])
def test_a_price_that_is_not_a_positive_integer_is_422_and_nothing_is_written(price):
    client = signed_in(MerchantFactory().owner)
    body = product_body(CategoryFactory())
    body["skus"][1]["price_amount"] = price

    response = send(client, "post", "/products", body)

    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["skus.1.price_amount"]
    assert Product.objects.count() == 0 and Sku.objects.count() == 0


@pytest.mark.django_db
def test_an_unknown_category_is_422_unknown_category():
    client = signed_in(MerchantFactory().owner)
    category = CategoryFactory()
    body = product_body(category, category_id=category.pk + 1000)

    response = send(client, "post", "/products", body)

    assert response.status_code == 422
    assert response.json() == {
        "code": "unknown_category",
        "message": "Choose an existing category.",
        "fields": {"category_id": "unknown"},
    }
    assert Product.objects.count() == 0


@pytest.mark.django_db
def test_duplicate_sku_codes_are_422():
    client = signed_in(MerchantFactory().owner)
    body = product_body(CategoryFactory())
    body["skus"][1]["code"] = "SCARF-RED"
    response = send(client, "post", "/products", body)
    assert response.status_code == 422
    assert response.json()["code"] == "duplicate_sku_code"
    assert Product.objects.count() == 0


@pytest.mark.django_db
def test_a_user_who_is_not_a_merchant_gets_403_and_nothing_is_written():
    client = signed_in(UserFactory())
    response = send(client, "post", "/products", product_body(CategoryFactory()))
    assert response.status_code == 403
    assert response.json()["code"] == "not_a_merchant"
    assert Product.objects.count() == 0 and Sku.objects.count() == 0
    assert client.get(f"{BASE}/products").status_code == 403


@pytest.mark.django_db
def test_anonymous_callers_get_401():
    assert Client().get(f"{BASE}/products").status_code == 401


@pytest.mark.django_db
def test_another_merchants_product_is_404_and_unchanged():
    product = ProductFactory(status=Product.Status.DRAFT, is_listed=False)
    sku = SkuFactory(product=product, stock=7)
    title = product.title_en
    image_count = ProductImage.objects.count()
    client = signed_in(MerchantFactory().owner)

    responses = [
        client.get(f"{BASE}/products/{product.pk}"),
        send(client, "patch", f"/products/{product.pk}", {"title_en": "Stolen"}),
        send(client, "put", f"/products/{product.pk}/skus/{sku.pk}/stock", {"stock": 0}),
        client.post(f"{BASE}/products/{product.pk}/images", {"images": [png()]}),
        client.post(f"{BASE}/products/{product.pk}/submit"),
        client.delete(f"{BASE}/products/{product.pk}/images/1"),
    ]

    assert [r.status_code for r in responses] == [404] * 6
    assert {r.json()["code"] for r in responses} == {"not_found"}
    product.refresh_from_db()
    sku.refresh_from_db()
    assert (product.title_en, product.status, sku.stock) == (title, "draft", 7)
    assert ProductImage.objects.count() == image_count


@pytest.mark.django_db
def test_listing_another_merchants_products_by_id_is_404():
    client = signed_in(MerchantFactory().owner)
    response = client.get(f"{BASE}/products", {"merchant_id": MerchantFactory().pk})
    assert response.status_code == 404


@pytest.mark.django_db
def test_a_text_file_named_png_is_422():
    merchant = MerchantFactory()
    product = ProductFactory(merchant=merchant, status=Product.Status.DRAFT, is_listed=False)
    client = signed_in(merchant.owner)
    fake = SimpleUploadedFile("photo.png", b"GIF89a? no, just text pretending", content_type="image/png")

    response = client.post(f"{BASE}/products/{product.pk}/images", {"images": [fake]})

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_image"
    assert ProductImage.objects.count() == 0


@pytest.mark.django_db
def test_a_material_edit_of_a_listed_product_keeps_the_old_title_listed_until_screening_passes():
    merchant = MerchantFactory()
    product = ProductFactory(merchant=merchant, title_en="Silk scarf")
    SkuFactory(product=product, code="A", price_amount=29900)
    client = signed_in(merchant.owner)

    response = send(client, "patch", f"/products/{product.pk}", {"title_en": "Silk scarf, new season"})

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["title_en"], data["status"], data["is_listed"]) == ("Silk scarf", "listed", True)
    assert data["pending_revision"]["payload"] == {"title_en": "Silk scarf, new season"}
    revision = ProductRevision.objects.get(product=product)
    assert revision.state == "pending"
    submission = Submission.objects.get(product=product, state="in_review")
    assert (submission.reason, submission.revision_id) == ("revision", revision.pk)
    product.refresh_from_db()
    assert (product.title_en, product.is_listed) == ("Silk scarf", True)


@pytest.mark.django_db
def test_a_price_decrease_applies_at_once_without_a_revision():
    merchant = MerchantFactory()
    product = ProductFactory(merchant=merchant)
    SkuFactory(product=product, code="A", options={"colour": "red"}, price_amount=29900, stock=3)
    client = signed_in(merchant.owner)

    response = send(
        client,
        "patch",
        f"/products/{product.pk}",
        {"skus": [{"code": "A", "options": {"colour": "red"}, "price_amount": 24900, "stock": 3}]},
    )

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["min_price"], data["skus"][0]["price_amount"], data["pending_revision"]) == (24900, 24900, None)
    assert ProductRevision.objects.count() == 0 and Submission.objects.count() == 0


@pytest.mark.django_db
def test_set_stock_and_remove_an_image():
    merchant = MerchantFactory()
    client = signed_in(merchant.owner)
    created = send(client, "post", "/products", product_body(CategoryFactory())).json()
    with_images = client.post(f"{BASE}/products/{created['id']}/images", {"images": [png(), png()]}).json()
    sku_id = created["skus"][0]["id"]

    stock = send(client, "put", f"/products/{created['id']}/skus/{sku_id}/stock", {"stock": 40})
    negative = send(client, "put", f"/products/{created['id']}/skus/{sku_id}/stock", {"stock": -1})
    removed = client.delete(f"{BASE}/products/{created['id']}/images/{with_images['images'][0]['id']}")

    assert stock.status_code == 200 and stock.json()["stock"] == 40
    assert negative.status_code == 422 and list(negative.json()["fields"]) == ["stock"]
    assert Sku.objects.get(pk=sku_id).stock == 40
    assert removed.status_code == 200
    assert [i["id"] for i in removed.json()["images"]] == [with_images["images"][1]["id"]]


@pytest.mark.django_db
def test_list_is_cursor_paginated_and_scoped_to_the_merchant():
    merchant = MerchantFactory()
    mine = [ProductFactory(merchant=merchant) for _ in range(3)]
    ProductFactory()  # someone else's
    client = signed_in(merchant.owner)

    first = client.get(f"{BASE}/products", {"limit": 2}).json()
    second = client.get(f"{BASE}/products", {"limit": 2, "cursor": first["next_cursor"]}).json()

    assert [p["id"] for p in first["items"] + second["items"]] == [p.pk for p in reversed(mine)]
    assert second["next_cursor"] is None


@pytest.mark.django_db
def test_categories_are_created_by_curators_only():
    body = {"slug": "scarves", "name_en": "Scarves", "name_zh": "围巾"}
    refused = send(signed_in(MerchantFactory().owner), "post", "/categories", body)
    created = send(signed_in(CuratorFactory()), "post", "/categories", body)
    assert refused.status_code == 403
    assert created.status_code == 201
    assert created.json()["slug"] == "scarves"
    assert Category.objects.filter(slug="scarves").count() == 1
