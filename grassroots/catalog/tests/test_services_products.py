from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.catalog import services
from grassroots.catalog.models import Category, Product, ProductImage, ProductRevision, ProductStatusChange, Sku
from grassroots.catalog.stock import stock_reserve
from grassroots.catalog.tests.factories import CategoryFactory, ProductFactory, SkuFactory
from grassroots.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from grassroots.curation.models import ScreeningStage, Submission
from grassroots.curation.services import stage_decision_record
from grassroots.merchants.models import Merchant
from grassroots.merchants.tests.factories import MerchantFactory


def png(name: str = "photo.png", size: tuple[int, int] = (960, 640)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture(autouse=True)
def stages(db):  # type: ignore[no-untyped-def]
    # The curation migration seeds the default stages; make sure at least one exists regardless.
    ScreeningStage.objects.get_or_create(code="final", defaults={"name_en": "Final review", "position": 99})


def two_skus() -> list[dict[str, object]]:
    return [
        {"code": "TEA-S", "options": {"size": "S"}, "price_amount": 12900, "stock": 10},
        {"code": "TEA-L", "options": {"size": "L"}, "price_amount": 19900, "stock": 5, "max_per_user": 2},
    ]


def create(merchant: Merchant, **overrides: object) -> Product:
    kwargs: dict[str, object] = {
        "actor": merchant.owner,  # type: ignore[attr-defined]
        "merchant_id": merchant.pk,
        "category_id": CategoryFactory().pk,
        "title_en": "Longjing green tea",
        "title_zh": "龙井绿茶",
        "brand": "West Lake",
        "origin": "Hangzhou",
        "description_md": "**Spring** harvest <script>x</script>",
        "skus": two_skus(),
    }
    kwargs.update(overrides)
    return services.product_create(**kwargs)  # type: ignore[arg-type]


def listed_product() -> tuple[Product, object]:
    """A listed product with two variants and one live image, built through the services; and its owner."""
    merchant = MerchantFactory()
    product = create(merchant, images=[png()])
    Product.objects.filter(pk=product.pk).update(status=Product.Status.LISTED, is_listed=True)
    product.refresh_from_db()
    return product, merchant.owner


def pass_screening(product: Product) -> None:
    curator = CuratorFactory()
    submission = Submission.objects.get(product=product, state=Submission.State.IN_REVIEW)
    for code in submission.stage_plan:
        stage_decision_record(submission=submission, stage_code=code, reviewer=curator, decision="pass", notes="")


def decide_current(product: Product, decision: str, notes: str) -> None:
    submission = Submission.objects.get(product=product, state=Submission.State.IN_REVIEW)
    stage_decision_record(
        submission=submission,
        stage_code=submission.current_stage.code,  # type: ignore[union-attr]
        reviewer=CuratorFactory(),
        decision=decision,
        notes=notes,
    )


# Create -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_product_create_writes_a_draft_with_variants_images_and_an_audit_row():
    merchant = MerchantFactory()

    product = create(merchant, images=[png(size=(1200, 900))])

    product.refresh_from_db()
    assert product.status == Product.Status.DRAFT and not product.is_listed
    assert product.merchant_id == merchant.pk
    assert product.min_price == 12900
    assert product.search_text == "longjing green tea 龙井绿茶 west lake hangzhou"
    assert product.description_html == "<p><strong>Spring</strong> harvest </p>"
    assert product.slug.startswith("longjing-green-tea-")
    skus = list(product.skus.order_by("position"))
    assert [(s.code, s.options, s.price_amount, s.stock, s.max_per_user) for s in skus] == [
        ("TEA-S", {"size": "S"}, 12900, 10, 0),
        ("TEA-L", {"size": "L"}, 19900, 5, 2),
    ]
    image = product.images.get()
    assert (image.width, image.height, image.is_active, image.revision_id) == (1200, 900, True, None)
    with Image.open(image.thumbnail.path) as thumb:
        assert thumb.size == (480, 360)
    change = ProductStatusChange.objects.get(product=product)
    assert (change.from_status, change.to_status, change.action, change.actor_id) == (
        "",
        "draft",
        "create",
        merchant.owner.pk,
    )


@pytest.mark.django_db
def test_two_products_with_the_same_title_get_different_slugs():
    merchant = MerchantFactory()
    assert create(merchant).slug != create(merchant).slug


@pytest.mark.django_db
def test_a_user_without_a_merchant_cannot_create_and_nothing_is_written():
    with pytest.raises(PermissionDenied) as caught:
        services.product_create(
            actor=UserFactory(), merchant_id=None, category_id=CategoryFactory().pk, title_en="X", skus=two_skus()
        )
    assert caught.value.code == "not_a_merchant"
    assert Product.objects.count() == 0 and Sku.objects.count() == 0


@pytest.mark.django_db
def test_creating_for_another_merchant_is_not_found():
    mine, theirs = MerchantFactory(), MerchantFactory()
    with pytest.raises(NotFound):
        create(mine, merchant_id=theirs.pk)
    assert Product.objects.count() == 0


@pytest.mark.django_db
def test_an_unverified_merchant_cannot_create():
    merchant = MerchantFactory(status=Merchant.Status.APPLIED)
    with pytest.raises(PermissionDenied) as caught:
        create(merchant)
    assert caught.value.code == "merchant_not_verified"
    assert Product.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("price", [0, -100, 12.5, "1290", True, None])
def test_a_price_that_is_not_a_positive_integer_is_refused(price):
    merchant = MerchantFactory()
    skus = two_skus()
    skus[1]["price_amount"] = price
    with pytest.raises(ValidationFailed) as caught:
        create(merchant, skus=skus)
    assert caught.value.code == "invalid_price"
    assert caught.value.fields == {"skus.1.price_amount": "must_be_positive_integer"}
    assert Product.objects.count() == 0 and Sku.objects.count() == 0


@pytest.mark.django_db
def test_duplicate_sku_codes_are_refused():
    skus = two_skus()
    skus[1]["code"] = "TEA-S"
    with pytest.raises(ValidationFailed) as caught:
        create(MerchantFactory(), skus=skus)
    assert caught.value.code == "duplicate_sku_code"
    assert caught.value.fields == {"skus.1.code": "duplicate"}
    assert Product.objects.count() == 0


@pytest.mark.django_db
def test_an_unknown_category_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        create(MerchantFactory(), category_id=987654)
    assert caught.value.code == "unknown_category"
    assert Product.objects.count() == 0


@pytest.mark.django_db
def test_a_bad_image_writes_nothing(settings):
    text = SimpleUploadedFile("photo.png", b"just some text, not a picture", content_type="image/png")
    with pytest.raises(ValidationFailed) as caught:
        create(MerchantFactory(), images=[png(), text])
    assert caught.value.code == "invalid_image"
    assert Product.objects.count() == 0 and ProductImage.objects.count() == 0
    media = settings.MEDIA_ROOT
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


# Categories -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_curators_create_categories_and_others_cannot():
    curator = CuratorFactory()
    parent = services.category_create(actor=curator, slug="tea", name_en="Tea", name_zh="茶", parent_id=None)
    child = services.category_create(
        actor=curator, slug="green-tea", name_en="Green tea", name_zh="", parent_id=parent.pk
    )
    assert (child.parent_id, child.position) == (parent.pk, 0)

    with pytest.raises(PermissionDenied):
        services.category_create(actor=MerchantFactory().owner, slug="x", name_en="X", name_zh="", parent_id=None)
    with pytest.raises(Conflict) as taken:
        services.category_create(actor=curator, slug="tea", name_en="Tea again", name_zh="", parent_id=None)
    assert taken.value.code == "slug_taken"
    with pytest.raises(ValidationFailed) as unknown:
        services.category_create(actor=curator, slug="oolong", name_en="Oolong", name_zh="", parent_id=999999)
    assert unknown.value.code == "unknown_category"
    assert Category.objects.count() == 2


# Submit -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_submit_needs_a_variant_and_an_image():
    merchant = MerchantFactory()
    product = create(merchant, skus=[])
    with pytest.raises(ValidationFailed) as caught:
        services.product_submit(actor=merchant.owner, product=product)
    assert caught.value.code == "incomplete"
    assert caught.value.fields == {"skus": "required", "images": "required"}
    product.refresh_from_db()
    assert product.status == Product.Status.DRAFT
    assert Submission.objects.count() == 0


@pytest.mark.django_db
def test_submit_opens_screening_and_passing_it_lists_the_product():
    merchant = MerchantFactory()
    product = create(merchant, images=[png()])

    submitted = services.product_submit(actor=merchant.owner, product=product)

    assert submitted.status == Product.Status.IN_REVIEW
    submission = Submission.objects.get(product=product)
    assert (submission.reason, submission.revision_id, submission.submitted_by_id) == ("new", None, merchant.owner.pk)
    pass_screening(product)
    product.refresh_from_db()
    assert product.status == Product.Status.LISTED and product.is_listed


@pytest.mark.django_db
def test_another_merchant_cannot_submit_or_edit():
    product = create(MerchantFactory(), images=[png()])
    stranger = MerchantFactory().owner
    with pytest.raises(NotFound):
        services.product_submit(actor=stranger, product=product)
    with pytest.raises(NotFound):
        services.product_update(actor=stranger, product=product, title_en="Mine now")
    with pytest.raises(NotFound):
        services.sku_stock_set(actor=stranger, sku=product.skus.first(), stock=0)
    product.refresh_from_db()
    assert product.title_en == "Longjing green tea" and product.status == Product.Status.DRAFT
    assert sorted(product.skus.values_list("stock", flat=True)) == [5, 10]


# Editing a draft ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_draft_changes_in_place():
    merchant = MerchantFactory()
    product = create(merchant, images=[png(), png()])
    first, second = product.images.order_by("position")
    new_category = CategoryFactory()

    result = services.product_update(
        actor=merchant.owner,
        product=product,
        title_en="Longjing tea, first flush",
        description_md="*new*",
        category_id=new_category.pk,
        skus=[{"code": "TEA-L", "options": {"size": "L"}, "price_amount": 25000, "stock": 7}],
        remove_image_ids=[first.pk],
        new_images=[png()],
    )

    product.refresh_from_db()
    assert result.revision is None
    assert (product.title_en, product.description_html, product.category_id) == (
        "Longjing tea, first flush",
        "<p><em>new</em></p>",
        new_category.pk,
    )
    assert product.min_price == 25000
    assert dict(product.skus.values_list("code", "is_active")) == {"TEA-S": False, "TEA-L": True}
    assert product.skus.get(code="TEA-L").stock == 7
    assert list(product.images.values_list("pk", flat=True)) == [second.pk, result.new_images[0].pk]
    assert not ProductImage.objects.filter(pk=first.pk).exists()


@pytest.mark.django_db
def test_at_most_nine_images():
    merchant = MerchantFactory()
    product = create(merchant, images=[png(size=(20, 20)) for _ in range(9)])
    with pytest.raises(ValidationFailed) as caught:
        services.product_image_add(actor=merchant.owner, product=product, upload=png())
    assert caught.value.code == "too_many_images"
    assert product.images.count() == 9


# Editing a listed product ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_material_edit_of_a_listed_product_waits_for_screening_while_the_old_version_stays_listed():
    product, owner = listed_product()

    result = services.product_update(actor=owner, product=product, title_en="Longjing tea 2.0", brand="West Lake")

    revision = result.revision
    assert revision is not None and revision.state == ProductRevision.State.PENDING
    assert revision.payload == {"title_en": "Longjing tea 2.0"}
    assert result.pending == ["title_en"]
    product.refresh_from_db()
    assert (product.title_en, product.status, product.is_listed) == ("Longjing green tea", "listed", True)
    submission = Submission.objects.get(product=product, state=Submission.State.IN_REVIEW)
    assert (submission.reason, submission.revision_id) == ("revision", revision.pk)

    pass_screening(product)

    product.refresh_from_db()
    assert (product.title_en, product.status) == ("Longjing tea 2.0", "listed")
    assert product.search_text.startswith("longjing tea 2.0 ")
    revision.refresh_from_db()
    assert revision.state == ProductRevision.State.APPLIED


@pytest.mark.django_db
def test_a_price_cut_applies_at_once_and_a_rise_waits():
    product, owner = listed_product()
    skus = two_skus()
    skus[0]["price_amount"] = 9900  # cut
    skus[1]["stock"] = 50  # stock

    cut = services.product_update(actor=owner, product=product, skus=skus)

    assert cut.revision is None and ProductRevision.objects.count() == 0
    assert Submission.objects.count() == 0
    product.refresh_from_db()
    assert product.min_price == 9900
    assert dict(product.skus.values_list("code", "price_amount")) == {"TEA-S": 9900, "TEA-L": 19900}
    assert product.skus.get(code="TEA-L").stock == 50

    skus[1]["price_amount"] = 29900  # rise
    rise = services.product_update(actor=owner, product=product, skus=skus)

    assert rise.revision is not None
    assert rise.revision.payload == {"skus": [{"code": "TEA-L", "price_amount": 29900}]}
    assert product.skus.get(code="TEA-L").price_amount == 19900
    pass_screening(product)
    assert product.skus.get(code="TEA-L").price_amount == 29900


@pytest.mark.django_db
def test_variants_added_and_removed_are_material_and_applied_on_approval():
    product, owner = listed_product()
    skus = [two_skus()[1], {"code": "TEA-XL", "options": {"size": "XL"}, "price_amount": 24900, "stock": 3}]

    result = services.product_update(actor=owner, product=product, skus=skus)

    assert result.revision is not None
    assert result.revision.payload == {
        "skus": [
            {
                "code": "TEA-XL",
                "options": {"size": "XL"},
                "price_amount": 24900,
                "max_per_user": 0,
                "is_active": True,
                "stock": 3,
            },
            {"code": "TEA-S", "is_active": False},
        ]
    }
    assert dict(product.skus.values_list("code", "is_active")) == {"TEA-S": True, "TEA-L": True}
    pass_screening(product)
    assert dict(product.skus.values_list("code", "is_active")) == {"TEA-S": False, "TEA-L": True, "TEA-XL": True}
    assert product.skus.get(code="TEA-XL").stock == 3
    product.refresh_from_db()
    assert product.min_price == 19900


@pytest.mark.django_db
def test_new_and_removed_images_of_a_listed_product_wait_for_screening():
    product, owner = listed_product()
    old = product.images.get()

    image = services.product_image_add(actor=owner, product=product, upload=png())

    assert (image.is_active, image.revision.state) == (False, "pending")  # type: ignore[union-attr]
    decide_current(product, "request_changes", "Show the tin from the front.")
    services.product_image_remove(actor=owner, product=product, image_id=old.pk)

    revision = ProductRevision.objects.get(product=product, state=ProductRevision.State.PENDING)
    assert revision.payload == {"remove_image_ids": [old.pk]}
    assert list(ProductImage.objects.filter(revision=revision).values_list("pk", flat=True)) == [image.pk]
    old.refresh_from_db()
    assert old.is_active
    pass_screening(product)
    assert list(ProductImage.objects.filter(product=product, is_active=True).values_list("pk", flat=True)) == [image.pk]


@pytest.mark.django_db
def test_an_edit_after_changes_were_requested_replaces_the_pending_one_and_keeps_the_rest():
    product, owner = listed_product()
    first = services.product_update(actor=owner, product=product, title_en="Tea A", origin="Anji").revision
    decide_current(product, "request_changes", "The origin is wrong.")

    second = services.product_update(actor=owner, product=product, origin="Hangzhou", brand="Lion Peak").revision

    assert second is not None and first is not None
    assert second.payload == {"title_en": "Tea A", "brand": "Lion Peak"}
    first.refresh_from_db()
    assert first.state == ProductRevision.State.DISCARDED
    assert Submission.objects.filter(product=product, state=Submission.State.IN_REVIEW).get().revision_id == second.pk


@pytest.mark.django_db
def test_a_material_edit_while_one_is_in_review_is_refused_and_writes_nothing():
    product, owner = listed_product()
    services.product_update(actor=owner, product=product, title_en="Tea A")

    with pytest.raises(Conflict) as caught:
        services.product_update(actor=owner, product=product, brand="Other", new_images=[png()])

    assert caught.value.code == "in_review"
    assert ProductRevision.objects.count() == 1 and ProductImage.objects.count() == 1
    product.refresh_from_db()
    assert product.brand == "West Lake"


@pytest.mark.django_db
def test_a_rejected_edit_leaves_the_listed_product_alone():
    product, owner = listed_product()
    revision = services.product_update(actor=owner, product=product, title_en="Fake tea").revision
    decide_current(product, "reject", "Not what the brand makes.")
    product.refresh_from_db()
    revision.refresh_from_db()  # type: ignore[union-attr]
    assert (product.title_en, product.status, revision.state) == ("Longjing green tea", "listed", "discarded")  # type: ignore[union-attr]


@pytest.mark.django_db
def test_a_listed_product_keeps_a_variant_and_an_image():
    product, owner = listed_product()
    with pytest.raises(ValidationFailed) as no_sku:
        services.product_update(actor=owner, product=product, skus=[])
    assert no_sku.value.code == "no_active_sku"
    with pytest.raises(ValidationFailed) as no_image:
        services.product_image_remove(actor=owner, product=product, image_id=product.images.get().pk)
    assert no_image.value.code == "no_image"
    assert ProductRevision.objects.count() == 0


@pytest.mark.django_db
def test_a_product_in_review_cannot_be_edited():
    merchant = MerchantFactory()
    product = create(merchant, images=[png()])
    services.product_submit(actor=merchant.owner, product=product)
    with pytest.raises(Conflict) as caught:
        services.product_update(actor=merchant.owner, product=product, title_en="Changed")
    assert caught.value.code == "not_editable"


# Stock ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stock_set_moves_only_free_stock_and_never_below_zero():
    product = ProductFactory()
    sku = SkuFactory(product=product, stock=10)
    stock_reserve(lines={sku.pk: 4})
    owner = product.merchant.owner

    updated = services.sku_stock_set(actor=owner, sku=sku, stock=20)

    assert (updated.stock, updated.reserved, updated.sold) == (20, 4, 0)
    with pytest.raises(ValidationFailed):
        services.sku_stock_set(actor=owner, sku=sku, stock=-1)
    assert services.sku_stock_set(actor=owner, sku=sku, stock=0).stock == 0
    sku.refresh_from_db()
    assert (sku.stock, sku.reserved) == (0, 4)
