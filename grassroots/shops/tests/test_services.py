from __future__ import annotations

from typing import Any

import pytest

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.models import Product
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from grassroots.ledger.models import JournalEntry, Posting
from grassroots.merchants.models import Merchant
from grassroots.payments.models import PaymentIntent
from grassroots.shops import services
from grassroots.shops.models import MAX_SHOP_ITEMS, Shop, ShopItem
from grassroots.shops.tests.factories import ShopFactory, ShopItemFactory, png_upload, text_upload

pytestmark = pytest.mark.django_db


# --- opening a shop -----------------------------------------------------------------------


def test_opening_a_shop_takes_one_step_and_moves_no_money():
    user = UserFactory()

    shop = services.shop_open(user=user, name="Lily's Picks", pitch="Tea I drink daily.", accept_terms=True)

    shop.refresh_from_db()
    assert (shop.owner_id, shop.name, shop.pitch, shop.status, shop.slug, shop.item_count) == (
        user.pk,
        "Lily's Picks",
        "Tea I drink daily.",
        Shop.Status.ACTIVE,
        "lilys-picks",
        0,
    )
    assert shop.terms_accepted_at is not None
    # No entry fee, ever: nothing is charged, posted or even prepared for payment.
    assert JournalEntry.objects.count() == 0
    assert Posting.objects.count() == 0
    assert PaymentIntent.objects.count() == 0


@pytest.mark.parametrize("accept", [False, "yes", 1, None])
def test_opening_a_shop_requires_accepting_the_terms(accept: Any):
    user = UserFactory()

    with pytest.raises(ValidationFailed) as error:
        services.shop_open(user=user, name="Lily", pitch="", accept_terms=accept)

    assert (error.value.status, error.value.code, error.value.fields) == (
        422,
        "terms_required",
        {"accept_terms": "required"},
    )
    assert not Shop.objects.exists()


def test_a_second_shop_is_a_conflict():
    user = UserFactory()
    first = services.shop_open(user=user, name="One", pitch="", accept_terms=True)

    with pytest.raises(Conflict) as error:
        services.shop_open(user=user, name="Two", pitch="", accept_terms=True)

    assert (error.value.status, error.value.code) == (409, "already_shopkeeper")
    assert list(Shop.objects.values_list("pk", "name")) == [(first.pk, "One")]


def test_slugs_are_unique_and_never_shadow_shop_pages():
    same = [services.shop_open(user=UserFactory(), name="Tea Time", pitch="", accept_terms=True) for _ in range(2)]
    reserved = services.shop_open(user=UserFactory(), name="Mine", pitch="", accept_terms=True)
    chinese = services.shop_open(user=UserFactory(), name="莉莉的小店", pitch="", accept_terms=True)

    assert same[0].slug == "tea-time"
    assert same[1].slug.startswith("tea-time-") and len(same[1].slug) == len("tea-time-") + 6
    assert reserved.slug.startswith("mine-")
    assert chinese.slug.startswith("shop-")
    assert chinese.name == "莉莉的小店"


def test_a_shop_name_is_plain_text_and_required():
    user = UserFactory()

    with pytest.raises(ValidationFailed) as error:
        services.shop_open(user=user, name="  <b></b> ", pitch="", accept_terms=True)
    assert error.value.fields == {"name": "required"}
    assert not Shop.objects.exists()

    shop = services.shop_open(user=user, name="<script>x</script>Lily", pitch="<i>hi</i>", accept_terms=True)
    assert (shop.name, shop.pitch) == ("Lily", "hi")


def test_a_too_long_pitch_is_refused_not_cut():
    with pytest.raises(ValidationFailed) as error:
        services.shop_open(user=UserFactory(), name="Lily", pitch="x" * 281, accept_terms=True)

    assert (error.value.code, error.value.fields) == ("text_too_long", {"pitch": "too_long"})
    assert not Shop.objects.exists()


# --- editing a shop -----------------------------------------------------------------------


def test_the_owner_updates_name_pitch_and_avatar():
    shop = ShopFactory()

    updated = services.shop_update(user=shop.owner, shop=shop, name="New name", pitch="New pitch", avatar=png_upload())

    updated.refresh_from_db()
    assert (updated.name, updated.pitch) == ("New name", "New pitch")
    assert updated.avatar.name.endswith(".jpg")
    assert updated.avatar.storage.exists(updated.avatar.name)


def test_a_bad_avatar_changes_nothing():
    shop = ShopFactory(name="Old")

    with pytest.raises(ValidationFailed) as error:
        services.shop_update(user=shop.owner, shop=shop, name="New", pitch=None, avatar=text_upload())

    assert error.value.code == "invalid_image"
    shop.refresh_from_db()
    assert (shop.name, shop.avatar.name) == ("Old", "")


def test_someone_else_cannot_update_a_shop():
    shop = ShopFactory(name="Old")

    with pytest.raises(NotFound):
        services.shop_update(user=UserFactory(), shop=shop, name="Hijacked", pitch=None)

    shop.refresh_from_db()
    assert shop.name == "Old"


# --- status (staff) -----------------------------------------------------------------------


def _staff_with(*codenames: str) -> Any:
    from django.contrib.auth.models import Permission

    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="shops", codename__in=codenames))
    return user


def test_staff_pause_and_reopen_a_shop_and_its_cards_are_refreshed_after_commit(
    django_capture_on_commit_callbacks: Any,
):
    shop = ShopFactory()
    staff = _staff_with("change_shop")

    with django_capture_on_commit_callbacks() as paused_hooks:
        assert services.shop_status_set(shop=shop, actor=staff, status="paused").status == Shop.Status.PAUSED
    with django_capture_on_commit_callbacks() as reopened_hooks:
        services.shop_status_set(shop=shop, actor=staff, status=Shop.Status.ACTIVE)

    assert Shop.objects.get(pk=shop.pk).status == Shop.Status.ACTIVE
    assert (len(paused_hooks), len(reopened_hooks)) == (1, 2)  # cards; reopening also labels and links


def test_setting_the_current_status_writes_nothing(django_capture_on_commit_callbacks: Any):
    shop = ShopFactory(status=Shop.Status.SUSPENDED)

    with django_capture_on_commit_callbacks() as callbacks:
        services.shop_status_set(shop=shop, actor=_staff_with("change_shop"), status="suspended")

    assert callbacks == []


@pytest.mark.parametrize("status", ["closed", "", "ACTIVE", None, 1, ["paused"]])
def test_an_unknown_status_is_refused(status: Any, django_capture_on_commit_callbacks: Any):
    shop = ShopFactory()

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ValidationFailed) as error:
        services.shop_status_set(shop=shop, actor=_staff_with("change_shop"), status=status)

    assert (error.value.code, error.value.fields) == ("invalid_status", {"status": "invalid"})
    assert Shop.objects.get(pk=shop.pk).status == Shop.Status.ACTIVE and callbacks == []


def test_a_status_change_that_loses_a_race_gets_409_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
):
    from django.db.models import QuerySet

    shop = ShopFactory()
    staff = _staff_with("change_shop")
    read_status = QuerySet.first

    def read_then_lose_the_race(queryset: QuerySet[Any]) -> Any:
        current = read_status(queryset)
        if queryset.model is Shop:  # another member of staff suspends it between our read and write
            Shop.objects.filter(pk=shop.pk).update(status=Shop.Status.SUSPENDED)
        return current

    monkeypatch.setattr(QuerySet, "first", read_then_lose_the_race)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(Conflict) as error:
        services.shop_status_set(shop=shop, actor=staff, status="paused")

    assert error.value.code == "concurrent_change" and callbacks == []
    # The whole transaction rolled back (here the rival's update ran inside it, so it went too).
    assert Shop.objects.get(pk=shop.pk).status == Shop.Status.ACTIVE


def test_only_staff_allowed_to_change_shops_may_set_a_status():
    from django.contrib.auth.models import AnonymousUser

    shop = ShopFactory()

    for actor in (
        AnonymousUser(),
        shop.owner,
        _staff_with("view_shop"),
        UserFactory(is_superuser=True, is_active=False),
    ):
        with pytest.raises(PermissionDenied):
            services.shop_status_set(shop=shop, actor=actor, status="suspended")

    assert Shop.objects.get(pk=shop.pk).status == Shop.Status.ACTIVE


def test_a_deleted_shop_is_not_found():
    shop = ShopFactory()
    Shop.objects.filter(pk=shop.pk).delete()

    with pytest.raises(NotFound):
        services.shop_status_set(shop=shop, actor=_staff_with("change_shop"), status="paused")


def test_reopening_labels_and_links_the_notes_tagged_while_paused(django_capture_on_commit_callbacks: Any):
    from grassroots.attribution.models import ShareLink
    from grassroots.notes.models import Note
    from grassroots.notes.services import note_create

    product = ProductFactory()
    shop = ShopFactory(status=Shop.Status.PAUSED)
    ShopItemFactory(shop=shop, product=product)
    note = note_create(author=shop.owner, title="Tagged while paused", product_ids=[product.pk], publish=True)
    assert not note.is_ad

    with django_capture_on_commit_callbacks(execute=True):
        services.shop_status_set(shop=shop, actor=_staff_with("change_shop"), status="active")

    assert Note.objects.get(pk=note.pk).is_ad
    assert ShareLink.objects.filter(kind="note", note=note, product=product, shop=shop).exists()


# --- items --------------------------------------------------------------------------------


def test_adding_a_listed_product_with_a_recommendation():
    shop = ShopFactory()
    product = ProductFactory()

    item = services.shop_item_add(user=shop.owner, product_id=product.pk, recommendation="Best <b>tea</b> ever")

    assert (item.shop_id, item.product_id, item.recommendation) == (shop.pk, product.pk, "Best tea ever")
    shop.refresh_from_db()
    assert shop.item_count == 1


@pytest.mark.parametrize(
    "product_kwargs",
    [
        {"is_listed": False, "status": Product.Status.SUSPENDED},
        {"is_listed": False, "status": Product.Status.DRAFT},
        {"merchant__status": Merchant.Status.SUSPENDED},
    ],
)
def test_an_unavailable_product_cannot_be_added(product_kwargs: dict[str, Any]):
    shop = ShopFactory()
    product = ProductFactory(**product_kwargs)

    with pytest.raises(ValidationFailed) as error:
        services.shop_item_add(user=shop.owner, product_id=product.pk, recommendation="")

    assert (error.value.status, error.value.code) == (422, "not_available")
    assert not ShopItem.objects.exists()
    shop.refresh_from_db()
    assert shop.item_count == 0


def test_a_missing_product_is_not_available():
    shop = ShopFactory()

    with pytest.raises(ValidationFailed) as error:
        services.shop_item_add(user=shop.owner, product_id=999_999, recommendation="")

    assert error.value.code == "not_available"


def test_adding_the_same_product_twice_is_a_conflict():
    item = ShopItemFactory()

    with pytest.raises(Conflict) as error:
        services.shop_item_add(user=item.shop.owner, product_id=item.product_id, recommendation="again")

    assert (error.value.status, error.value.code) == (409, "already_in_shop")
    assert ShopItem.objects.count() == 1
    item.shop.refresh_from_db()
    assert item.shop.item_count == 1


def test_a_full_shop_takes_no_more_items():
    shop = ShopFactory()
    Shop.objects.filter(pk=shop.pk).update(item_count=MAX_SHOP_ITEMS)

    with pytest.raises(ValidationFailed) as error:
        services.shop_item_add(user=shop.owner, product_id=ProductFactory().pk, recommendation="")

    assert error.value.code == "shop_full"
    assert not ShopItem.objects.exists()


def test_adding_needs_a_shop():
    with pytest.raises(NotFound) as error:
        services.shop_item_add(user=UserFactory(), product_id=ProductFactory().pk, recommendation="")

    assert error.value.code == "no_shop"
    assert not ShopItem.objects.exists()


def test_the_owner_edits_and_removes_an_item():
    item = ShopItemFactory(recommendation="old")

    services.shop_item_update(user=item.shop.owner, item_id=item.pk, recommendation="new", position=3)
    item.refresh_from_db()
    assert (item.recommendation, item.position) == ("new", 3)

    services.shop_item_remove(user=item.shop.owner, item_id=item.pk)
    assert not ShopItem.objects.exists()
    item.shop.refresh_from_db()
    assert item.shop.item_count == 0


def test_someone_elses_item_is_not_found_and_untouched():
    item = ShopItemFactory(recommendation="mine")
    stranger = ShopFactory().owner

    with pytest.raises(NotFound):
        services.shop_item_update(user=stranger, item_id=item.pk, recommendation="theirs")
    with pytest.raises(NotFound):
        services.shop_item_remove(user=stranger, item_id=item.pk)

    item.refresh_from_db()
    assert item.recommendation == "mine"
    item.shop.refresh_from_db()
    assert item.shop.item_count == 1


def test_an_out_of_range_position_is_refused():
    item = ShopItemFactory()

    with pytest.raises(ValidationFailed) as error:
        services.shop_item_update(user=item.shop.owner, item_id=item.pk, recommendation="x", position=-1)

    assert error.value.fields == {"position": "out_of_range"}
    item.refresh_from_db()
    assert item.position == 0
    assert item.recommendation != "x"
