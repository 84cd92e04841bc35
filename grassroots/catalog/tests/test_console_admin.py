"""Staff admin pages for the catalog render, and the audit trail cannot be edited there."""

from __future__ import annotations

import pytest
from django.test import Client

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.models import ProductRevision, ProductStatusChange
from grassroots.catalog.tests.factories import listed_product_with_sku


@pytest.mark.django_db
def test_admin_pages_render_and_the_status_history_is_read_only():
    product, _sku = listed_product_with_sku()
    ProductRevision.objects.create(product=product, payload={"title_en": "New"})
    change = ProductStatusChange.objects.create(
        product=product, from_status="in_review", to_status="listed", action="approve"
    )
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    pages = [
        "/admin/catalog/category/",
        "/admin/catalog/product/",
        f"/admin/catalog/product/{product.pk}/change/",
        "/admin/catalog/productrevision/",
        "/admin/catalog/productstatuschange/",
        f"/admin/catalog/productstatuschange/{change.pk}/change/",
    ]

    assert [client.get(url).status_code for url in pages] == [200] * len(pages)
    assert client.get("/admin/catalog/productstatuschange/add/").status_code == 403
    assert client.post(f"/admin/catalog/productstatuschange/{change.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ProductStatusChange.objects.filter(pk=change.pk).exists()
