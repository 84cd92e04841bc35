"""Staff admin for merchants: pages render, edits are cleaned as an application's are, the slug
never changes, and a name edit refreshes the brand's cards after the commit while other edits
leave them alone."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from grassroots.merchants.models import Merchant
from grassroots.merchants.tests.factories import MerchantDocumentFactory, MerchantFactory, admin_form_data

pytestmark = pytest.mark.django_db


def _edit(client: Client, merchant: Merchant, **changes: Any) -> Any:
    url = f"/admin/merchants/merchant/{merchant.pk}/change/"
    return client.post(url, {**admin_form_data(client.get(url)), **changes})


def test_admin_pages_render(staff_client: Client) -> None:
    merchant = MerchantFactory()
    MerchantDocumentFactory(merchant=merchant)
    pages = ["/admin/merchants/merchant/", f"/admin/merchants/merchant/{merchant.pk}/change/"]

    assert [staff_client.get(url).status_code for url in pages] == [200] * len(pages)


@pytest.mark.parametrize(
    ("changes", "refreshes"),
    [
        ({"name": "Renamed"}, 1),
        ({"description": "Only the description"}, 0),
        ({}, 0),
    ],
)
def test_a_name_edit_refreshes_the_brands_cards_after_commit(
    staff_client: Client, changes: dict[str, str], refreshes: int, django_capture_on_commit_callbacks: Any
) -> None:
    merchant = MerchantFactory(name="Before", slug="before")

    with django_capture_on_commit_callbacks() as callbacks:
        response = _edit(staff_client, merchant, **changes)

    assert response.status_code == 302, response.content
    merchant.refresh_from_db()
    assert {field: getattr(merchant, field) for field in changes} == changes
    assert len(callbacks) == refreshes


def test_a_refused_edit_refreshes_nothing(staff_client: Client, django_capture_on_commit_callbacks: Any) -> None:
    merchant = MerchantFactory(name="Before")

    with django_capture_on_commit_callbacks() as callbacks:
        response = _edit(staff_client, merchant, name="<script>alert(1)</script>")

    assert response.status_code == 200  # the form comes back with the error
    assert "name" in response.context["adminform"].form.errors
    assert Merchant.objects.get(pk=merchant.pk).name == "Before" and callbacks == []


def test_edits_are_stored_as_plain_text_like_an_applications(staff_client: Client) -> None:
    merchant = MerchantFactory(name="Before")

    response = _edit(
        staff_client,
        merchant,
        name=" <b>Jade</b> &amp; Spring ",
        brand_names="<i>Jade</i>",
        description="<img src=x onerror=alert(1)>Creams",
        contact_email=" Shop@Example.COM ",
    )

    assert response.status_code == 302, response.content
    merchant.refresh_from_db()
    assert (merchant.name, merchant.brand_names, merchant.description, merchant.contact_email) == (
        "Jade & Spring",
        "Jade",
        "Creams",
        "shop@example.com",
    )


def test_the_slug_cannot_be_changed_so_brand_links_keep_working(staff_client: Client) -> None:
    merchant = MerchantFactory(slug="before")

    response = _edit(staff_client, merchant, slug="after")

    assert response.status_code == 302, response.content
    assert Merchant.objects.get(pk=merchant.pk).slug == "before"
    assert staff_client.get("/brands/before/").status_code == 200


def test_merchants_are_neither_added_nor_deleted_in_the_admin(staff_client: Client) -> None:
    merchant = MerchantFactory()

    assert staff_client.get("/admin/merchants/merchant/add/").status_code == 403
    assert staff_client.post(f"/admin/merchants/merchant/{merchant.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Merchant.objects.filter(pk=merchant.pk).exists()
