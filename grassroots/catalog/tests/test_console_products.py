"""Merchant console pages under /console/products/."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.catalog import services
from grassroots.catalog.forms import major_to_minor
from grassroots.catalog.models import Product, ProductImage, ProductRevision, Sku
from grassroots.catalog.tests.factories import CategoryFactory, ProductFactory, SkuFactory
from grassroots.curation.models import ScreeningStage, Submission
from grassroots.curation.services import stage_decision_record
from grassroots.merchants.tests.factories import MerchantFactory


def png(name: str = "photo.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 640), (90, 90, 200)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture(autouse=True)
def stages(db):  # type: ignore[no-untyped-def]
    ScreeningStage.objects.get_or_create(code="final", defaults={"name_en": "Final review", "position": 99})


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def management(total: int, initial: int = 0) -> dict[str, str]:
    return {
        "sku-TOTAL_FORMS": str(total),
        "sku-INITIAL_FORMS": str(initial),
        "sku-MIN_NUM_FORMS": "0",
        "sku-MAX_NUM_FORMS": "3",
    }


def new_form(category_id: int, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title_en": "Ceramic teapot",
        "title_zh": "陶瓷茶壶",
        "brand": "Jingdezhen",
        "origin": "Jiangxi",
        "category": str(category_id),
        "description_md": "Hand-thrown, **600 ml**.",
        **management(3),
        "sku-0-size": "600 ml",
        "sku-0-colour": "white",
        "sku-0-price": "129.00",
        "sku-0-stock": "10",
        "sku-1-code": "POT-BLUE",
        "sku-1-size": "600 ml",
        "sku-1-colour": "blue",
        "sku-1-price": "139.5",
        "sku-1-stock": "4",
        "sku-1-max_per_user": "2",
        # Row 2 left empty: skipped.
    }
    data.update(overrides)
    return data


def test_major_units_convert_exactly():
    assert major_to_minor("129.00", currency="CNY") == 12900
    assert major_to_minor("0.1", currency="CNY") == 10
    assert major_to_minor(" 19999999.99 ", currency="CNY") == 1999999999
    assert major_to_minor("1200", currency="JPY") == 1200


@pytest.mark.django_db
def test_console_needs_a_signed_in_merchant_member():
    assert Client().get("/console/products/").status_code == 302
    assert signed_in(UserFactory()).get("/console/products/").status_code == 403
    assert signed_in(UserFactory()).get("/console/products/new/").status_code == 403


@pytest.mark.django_db
def test_create_a_product_with_two_skus_and_an_image_through_the_form():
    merchant = MerchantFactory()
    category = CategoryFactory()
    client = signed_in(merchant.owner)
    assert client.get(reverse("catalog:console_product_new")).status_code == 200

    response = client.post(reverse("catalog:console_product_new"), new_form(category.pk, images=[png()]))

    product = Product.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("catalog:console_product_detail", args=[product.pk])
    assert (product.merchant_id, product.status, product.title_zh, product.min_price) == (
        merchant.pk,
        "draft",
        "陶瓷茶壶",
        12900,
    )
    skus = list(product.skus.order_by("position"))
    assert [(s.code, s.options, s.price_amount, s.stock, s.max_per_user) for s in skus] == [
        ("V1", {"size": "600 ml", "colour": "white"}, 12900, 10, 0),
        ("POT-BLUE", {"size": "600 ml", "colour": "blue"}, 13950, 4, 2),
    ]
    assert product.images.count() == 1
    detail = client.get(response["Location"])
    assert detail.status_code == 200
    assert "¥139.50" in detail.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("price", ["12.345", "-5", "0", "abc", "1e3"])
def test_a_bad_price_in_the_form_writes_nothing(price):
    client = signed_in(MerchantFactory().owner)

    response = client.post(
        reverse("catalog:console_product_new"), new_form(CategoryFactory().pk, **{"sku-1-price": price})
    )

    assert response.status_code == 422
    assert response.context["formset"].forms[1].errors["price"]
    assert Product.objects.count() == 0 and Sku.objects.count() == 0


@pytest.mark.django_db
def test_more_than_two_decimals_says_so():
    client = signed_in(MerchantFactory().owner)
    response = client.post(
        reverse("catalog:console_product_new"), new_form(CategoryFactory().pk, **{"sku-0-price": "9.999"})
    )
    assert response.context["formset"].forms[0].errors["price"] == ["Use at most 2 decimal places."]


@pytest.mark.django_db
def test_a_text_file_named_png_is_shown_as_an_error_and_nothing_is_written():
    client = signed_in(MerchantFactory().owner)
    fake = SimpleUploadedFile("photo.png", b"plain text", content_type="image/png")

    response = client.post(reverse("catalog:console_product_new"), new_form(CategoryFactory().pk, images=[fake]))

    assert response.status_code == 422
    assert response.context["form"].errors["images"] == ["The file is not a JPEG, PNG, WebP or GIF image."]
    assert Product.objects.count() == 0 and ProductImage.objects.count() == 0


@pytest.mark.django_db
def test_edit_a_draft_adds_and_removes_images_and_submit_sends_it_to_screening():
    merchant = MerchantFactory()
    client = signed_in(merchant.owner)
    client.post(reverse("catalog:console_product_new"), new_form(CategoryFactory().pk, images=[png()]))
    product = Product.objects.get()
    old_image = product.images.get()
    edit_url = reverse("catalog:console_product_edit", args=[product.pk])
    page = client.get(edit_url)
    assert page.status_code == 200
    form = page.context["form"]
    rows = page.context["formset"]

    data = {
        **{name: form.initial.get(name, "") for name in ("title_en", "title_zh", "brand", "origin", "description_md")},
        "title_en": "Ceramic teapot, large",
        "category": str(form.initial["category"]),
        **management(rows.total_form_count(), initial=rows.initial_form_count()),
        "remove_images": [str(old_image.pk)],
        "images": [png(), png()],
    }
    for index, row in enumerate(rows.initial):
        data.update({f"sku-{index}-{key}": value for key, value in row.items()})
    data["sku-1-DELETE"] = "on"

    response = client.post(edit_url, data)

    assert response.status_code == 302, response.context and response.context["form"].errors
    product.refresh_from_db()
    assert product.title_en == "Ceramic teapot, large"
    assert dict(product.skus.values_list("code", "is_active")) == {"V1": True, "POT-BLUE": False}
    assert not ProductImage.objects.filter(pk=old_image.pk).exists()
    assert product.images.count() == 2

    submitted = client.post(reverse("catalog:console_product_submit", args=[product.pk]))

    assert submitted.status_code == 302
    product.refresh_from_db()
    assert product.status == Product.Status.IN_REVIEW
    assert Submission.objects.filter(product=product, state="in_review").exists()


@pytest.mark.django_db
def test_submitting_without_an_image_shows_why():
    merchant = MerchantFactory()
    client = signed_in(merchant.owner)
    client.post(reverse("catalog:console_product_new"), new_form(CategoryFactory().pk))
    product = Product.objects.get()

    response = client.post(reverse("catalog:console_product_submit", args=[product.pk]), follow=True)

    assert "Add at least one variant and one image before submitting." in response.content.decode()
    product.refresh_from_db()
    assert product.status == Product.Status.DRAFT


@pytest.mark.django_db
def test_editing_a_listed_product_creates_a_pending_revision_shown_in_the_list():
    merchant = MerchantFactory()
    product = ProductFactory(merchant=merchant, title_en="Teapot", title_zh="")
    SkuFactory(product=product, code="P1", options={"size": "L"}, price_amount=12900, stock=5)
    client = signed_in(merchant.owner)
    data = {
        "title_en": "Teapot, new glaze",
        "brand": product.brand,
        "origin": product.origin,
        "category": str(product.category_id),
        "description_md": product.description_md,
        **management(3, initial=1),
        "sku-0-code": "P1",
        "sku-0-size": "L",
        "sku-0-price": "129.00",
        "sku-0-stock": "5",
    }

    response = client.post(reverse("catalog:console_product_edit", args=[product.pk]), data)

    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.title_en, product.is_listed) == ("Teapot", True)
    assert ProductRevision.objects.get(product=product).payload == {"title_en": "Teapot, new glaze"}
    listing = client.get(reverse("catalog:console_products")).content.decode()
    assert "Edit pending" in listing
    # Opening the edit page again shows what was proposed, not the listed text.
    again = client.get(reverse("catalog:console_product_edit", args=[product.pk]))
    assert again.context["form"].initial["title_en"] == "Teapot, new glaze"


@pytest.mark.django_db
def test_detail_shows_the_status_history_with_the_curators_note():
    merchant = MerchantFactory()
    product = services.product_create(
        actor=merchant.owner,
        merchant_id=merchant.pk,
        category_id=CategoryFactory().pk,
        title_en="Teapot",
        skus=[{"code": "P1", "options": {}, "price_amount": 100, "stock": 1}],
        images=[png()],
    )
    services.product_submit(actor=merchant.owner, product=product)
    submission = Submission.objects.get(product=product)
    stage_decision_record(
        submission=submission,
        stage_code=submission.current_stage.code,  # type: ignore[union-attr]
        reviewer=CuratorFactory(display_name="Curator Chen"),
        decision="request_changes",
        notes="Show the maker's mark on the base.",
    )

    page = signed_in(merchant.owner).get(reverse("catalog:console_product_detail", args=[product.pk])).content.decode()

    assert "Created as a draft" in page and "Submitted for screening" in page and "Changes requested" in page
    assert "Show the maker&#x27;s mark on the base." in page
    assert "Curator Chen" not in page


@pytest.mark.django_db
def test_another_merchants_product_pages_are_404_and_posts_change_nothing():
    product = ProductFactory(status=Product.Status.DRAFT, is_listed=False)
    sku = SkuFactory(product=product, stock=3)
    title = product.title_en
    client = signed_in(MerchantFactory().owner)

    codes = [
        client.get(reverse("catalog:console_product_detail", args=[product.pk])).status_code,
        client.get(reverse("catalog:console_product_edit", args=[product.pk])).status_code,
        client.post(reverse("catalog:console_product_edit", args=[product.pk]), {"title_en": "Mine"}).status_code,
        client.post(reverse("catalog:console_product_submit", args=[product.pk])).status_code,
        client.post(reverse("catalog:console_sku_stock", args=[product.pk, sku.pk]), {"stock": "0"}).status_code,
    ]

    assert codes == [404] * 5
    product.refresh_from_db()
    sku.refresh_from_db()
    assert (product.title_en, product.status, sku.stock) == (title, "draft", 3)


@pytest.mark.django_db
def test_stock_form_sets_free_stock():
    merchant = MerchantFactory()
    product = ProductFactory(merchant=merchant)
    sku = SkuFactory(product=product, stock=3)
    client = signed_in(merchant.owner)

    response = client.post(reverse("catalog:console_sku_stock", args=[product.pk, sku.pk]), {"stock": "25"})

    assert response.status_code == 302
    sku.refresh_from_db()
    assert sku.stock == 25


def _list_queries(django_assert_max_num_queries: Any, count: int) -> int:
    merchant = MerchantFactory()
    for _ in range(count):
        product = ProductFactory(merchant=merchant)
        SkuFactory(product=product)
        ProductImage.objects.create(product=product, image="products/x.png", thumbnail="products/thumbs/x.jpg")
        ProductRevision.objects.create(product=product, payload={"title_en": "New"})
    client = signed_in(merchant.owner)

    with django_assert_max_num_queries(14) as captured:  # incl. the header's two unread counts
        response = client.get(reverse("catalog:console_products"))
    assert response.status_code == 200
    assert response.content.decode().count("Edit pending") == count
    return len(captured)


@pytest.mark.django_db
def test_console_list_query_count_does_not_grow_with_products(django_assert_max_num_queries):
    few = _list_queries(django_assert_max_num_queries, 3)
    many = _list_queries(django_assert_max_num_queries, 20)
    assert few == many


@pytest.mark.django_db
def test_saving_the_edit_form_again_while_an_edit_is_in_screening_only_changes_stock():
    merchant = MerchantFactory()
    product = ProductFactory(merchant=merchant, title_en="Teapot", title_zh="")
    SkuFactory(product=product, code="P1", options={"size": "L"}, price_amount=12900, stock=5)
    client = signed_in(merchant.owner)
    edit_url = reverse("catalog:console_product_edit", args=[product.pk])
    services.product_update(
        actor=merchant.owner,
        product=product,
        title_en="Teapot, new glaze",
        skus=[
            {"code": "P1", "options": {"size": "L"}, "price_amount": 12900, "stock": 5},
            {"code": "P2", "options": {"size": "XL"}, "price_amount": 15900, "stock": 2},
        ],
    )
    page = client.get(edit_url)
    form, rows = page.context["form"], page.context["formset"]
    assert [row["code"] for row in rows.initial] == ["P1", "P2"]
    data = {
        **{name: form.initial.get(name, "") for name in ("title_en", "title_zh", "brand", "origin", "description_md")},
        "category": str(form.initial["category"]),
        **management(rows.total_form_count(), initial=rows.initial_form_count()),
    }
    for index, row in enumerate(rows.initial):
        data.update({f"sku-{index}-{key}": value for key, value in row.items()})
    data["sku-0-stock"] = "9"

    response = client.post(edit_url, data)

    assert response.status_code == 302
    assert ProductRevision.objects.filter(product=product).count() == 1
    assert Submission.objects.filter(product=product).count() == 1
    assert product.skus.get(code="P1").stock == 9
    product.refresh_from_db()
    assert product.title_en == "Teapot"
