"""Staff admin for shops: pages render, the status changes only through the list actions (the
service), and the history records who changed it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client

from grassroots.accounts.tests.factories import UserFactory
from grassroots.shops.models import Shop
from grassroots.shops.tests.factories import ShopFactory, ShopItemFactory

pytestmark = pytest.mark.django_db


def test_admin_pages_render_with_the_status_actions(staff_client: Client) -> None:
    item = ShopItemFactory()
    pages = ["/admin/shops/shop/", f"/admin/shops/shop/{item.shop_id}/change/", "/admin/shops/shopitem/"]

    assert [staff_client.get(url).status_code for url in pages] == [200] * len(pages)
    listing = staff_client.get("/admin/shops/shop/").content.decode()
    assert all(f'value="{action}"' in listing for action in ("pause", "suspend", "reopen"))


@pytest.mark.parametrize(("action", "status"), [("pause", "paused"), ("suspend", "suspended")])
def test_the_list_actions_set_the_status_through_the_service(
    staff_client: Client, action: str, status: str, django_capture_on_commit_callbacks: Any
) -> None:
    shops = [ShopFactory(), ShopFactory()]
    untouched = ShopFactory()

    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(
            "/admin/shops/shop/", {"action": action, "_selected_action": [shop.pk for shop in shops]}, follow=True
        )

    assert response.status_code == 200
    assert "2 shops are now" in response.content.decode()
    assert sorted(Shop.objects.values_list("pk", "status")) == sorted(
        [(shops[0].pk, status), (shops[1].pk, status), (untouched.pk, "active")]
    )
    assert len(callbacks) == 2  # one card refresh per shop
    assert LogEntry.objects.filter(object_id__in=[str(shop.pk) for shop in shops]).count() == 2


def test_reopen_leaves_active_shops_alone(staff_client: Client) -> None:
    paused, active = ShopFactory(status=Shop.Status.PAUSED), ShopFactory()

    response = staff_client.post(
        "/admin/shops/shop/", {"action": "reopen", "_selected_action": [paused.pk, active.pk]}, follow=True
    )

    assert "1 shop is now" in response.content.decode()
    assert set(Shop.objects.values_list("status", flat=True)) == {"active"}
    assert list(LogEntry.objects.values_list("object_id", flat=True)) == [str(paused.pk)]


def test_the_change_form_cannot_set_the_status(staff_client: Client) -> None:
    shop = ShopFactory(name="Before")
    url = f"/admin/shops/shop/{shop.pk}/change/"

    response = staff_client.post(url, {"name": "After", "pitch": shop.pitch, "status": "suspended"})

    assert response.status_code == 302
    shop.refresh_from_db()
    assert (shop.name, shop.status) == ("After", Shop.Status.ACTIVE)


def test_staff_without_the_change_permission_get_no_status_actions() -> None:
    from django.contrib.auth.models import Permission

    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="shops", codename="view_shop"))
    client = Client()
    client.force_login(viewer)
    shop = ShopFactory()

    assert 'value="pause"' not in client.get("/admin/shops/shop/").content.decode()
    client.post("/admin/shops/shop/", {"action": "pause", "_selected_action": [shop.pk]})
    assert Shop.objects.get(pk=shop.pk).status == Shop.Status.ACTIVE


def test_shops_are_never_deleted_in_the_admin(staff_client: Client) -> None:
    shop = ShopFactory()

    response = staff_client.post(f"/admin/shops/shop/{shop.pk}/delete/", {"post": "yes"})
    staff_client.post("/admin/shops/shop/", {"action": "delete_selected", "_selected_action": [shop.pk], "post": "yes"})

    assert response.status_code == 403
    assert "delete_selected" not in staff_client.get("/admin/shops/shop/").content.decode()
    assert Shop.objects.filter(pk=shop.pk).exists()


def test_a_name_or_pitch_edited_by_staff_is_cleaned_like_the_owners(staff_client: Client) -> None:
    shop = ShopFactory(name="Before")
    url = f"/admin/shops/shop/{shop.pk}/change/"

    response = staff_client.post(url, {"name": " <b>Tea</b> &amp; Cups ", "pitch": "<img src=x onerror=alert(1)>Fresh"})

    assert response.status_code == 302, response.content
    shop.refresh_from_db()
    assert (shop.name, shop.pitch) == ("Tea & Cups", "Fresh")


def test_a_name_that_cleans_to_nothing_is_refused_and_nothing_is_written(staff_client: Client) -> None:
    shop = ShopFactory(name="Before")
    url = f"/admin/shops/shop/{shop.pk}/change/"

    response = staff_client.post(url, {"name": "<script>alert(1)</script>", "pitch": ""})

    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    assert Shop.objects.get(pk=shop.pk).name == "Before"


def test_the_avatar_is_not_uploaded_through_the_admin(staff_client: Client) -> None:
    shop = ShopFactory()

    form = staff_client.get(f"/admin/shops/shop/{shop.pk}/change/").context["adminform"].form

    assert set(form.fields) == {"name", "pitch"}
