"""Notes API: compose, read, edit, publish, delete, share, lists, and the bad-input answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from grassroots.accounts.tests.factories import UserFactory, bearer_headers
from grassroots.catalog.models import Product
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.notes.models import Note, NoteImage, NoteProduct
from grassroots.notes.tests.factories import NoteFactory, png_upload, uploads
from grassroots.shops.tests.factories import ShopFactory, ShopItemFactory
from grassroots.social.models import Block

pytestmark = pytest.mark.django_db
BASE = "/api/v1/notes"


def post_json(client: Client, path: str, data: Any, headers: dict[str, str]) -> Any:
    return client.post(path, data=json.dumps(data), content_type="application/json", **headers)


@pytest.fixture
def author() -> Any:
    return UserFactory()


@pytest.fixture
def auth(author: Any) -> dict[str, str]:
    return bearer_headers(author)


def test_create_json_then_images_then_publish(client: Client, author: Any, auth: dict[str, str]) -> None:
    product = ProductFactory()
    response = post_json(
        client, f"{BASE}/", {"title": "Kettle", "body": "Boils fast #kitchen", "product_ids": [product.pk]}, auth
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["title"], data["is_ad"]) == ("draft", "Kettle", False)
    assert [p["product_id"] for p in data["products"]] == [product.pk]
    assert data["products"][0]["url"].endswith(f"/p/{product.slug}/") and not data["products"][0]["via_shop"]
    assert '<a href="/tags/kitchen/"' in data["body_html"]
    note_id = data["id"]

    response = client.post(f"{BASE}/{note_id}/images", {"images": uploads(2)}, **auth)
    assert response.status_code == 200, response.content
    assert len(response.json()["images"]) == 2

    response = client.post(f"{BASE}/{note_id}/publish", **auth)
    assert response.status_code == 200 and response.json()["status"] == "published"
    assert response.json()["published_at"]

    # anyone may read it, anonymous included
    assert Client().get(f"{BASE}/{note_id}").json()["title"] == "Kettle"


def test_create_multipart_with_images_published(client: Client, auth: dict[str, str]) -> None:
    products = [ProductFactory(), ProductFactory()]
    response = client.post(
        f"{BASE}/",
        {
            "title": "Photos",
            "body": "look",
            "product_ids": f"{products[0].pk}, {products[1].pk}",
            "publish": "true",
            "images": uploads(3),
        },
        **auth,
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "published" and len(data["images"]) == 3
    assert [i["width"] for i in data["images"]] == [10, 11, 12]
    assert [p["product_id"] for p in data["products"]] == [p.pk for p in products]


def test_script_tag_is_stored_sanitised_and_rendered_inert(client: Client, auth: dict[str, str]) -> None:
    payload = {
        "title": "<script>alert(1)</script>Hi",
        "body": "<script>alert(1)</script><img src=x onerror=y>",
        "publish": True,
    }
    response = post_json(client, f"{BASE}/", payload, auth)
    assert response.status_code == 201
    data = response.json()
    assert data["title"] == "Hi"
    assert "<script" not in data["body_html"] and "<img" not in data["body_html"]
    assert "&lt;script&gt;" in data["body_html"]
    page = Client().get(f"/notes/{data['id']}/").content.decode()
    assert "<script>alert(1)" not in page and "<img src=x" not in page


def test_a_tenth_image_is_422_and_nothing_is_written(client: Client, auth: dict[str, str]) -> None:
    response = client.post(f"{BASE}/", {"title": "Too many", "images": uploads(10)}, **auth)
    assert response.status_code == 422
    assert response.json()["code"] == "too_many_images"
    assert not Note.objects.exists() and not NoteImage.objects.exists()

    note_id = post_json(client, f"{BASE}/", {"title": "Nine"}, auth).json()["id"]
    assert client.post(f"{BASE}/{note_id}/images", {"images": uploads(9)}, **auth).status_code == 200
    response = client.post(f"{BASE}/{note_id}/images", {"images": [png_upload()]}, **auth)
    assert response.status_code == 422 and response.json()["code"] == "too_many_images"
    assert NoteImage.objects.filter(note_id=note_id).count() == 9


def test_an_unlisted_product_tag_is_422(client: Client, auth: dict[str, str]) -> None:
    unlisted = ProductFactory(is_listed=False, status=Product.Status.DRAFT)
    response = post_json(client, f"{BASE}/", {"title": "t", "product_ids": [unlisted.pk], "publish": True}, auth)
    assert response.status_code == 422
    assert response.json()["code"] == "product_not_listed"
    assert response.json()["fields"] == {"product_ids": [unlisted.pk]}
    assert not Note.objects.exists()

    note = post_json(client, f"{BASE}/", {"title": "t", "product_ids": [ProductFactory().pk]}, auth).json()
    response = client.patch(
        f"{BASE}/{note['id']}", data=json.dumps({"product_ids": [unlisted.pk]}), content_type="application/json", **auth
    )
    assert response.status_code == 422 and response.json()["code"] == "product_not_listed"
    assert NoteProduct.objects.filter(note_id=note["id"]).count() == 1


def test_bad_requests_are_4xx(client: Client, auth: dict[str, str]) -> None:
    assert post_json(client, f"{BASE}/", {"body": "no title"}, auth).status_code == 422
    assert post_json(client, f"{BASE}/", {"title": ""}, auth).status_code == 422
    assert post_json(client, f"{BASE}/", {"title": "x" * 101}, auth).json()["code"] == "title_too_long"
    assert post_json(client, f"{BASE}/", {"title": "t", "product_ids": ["abc"]}, auth).status_code == 422
    assert post_json(client, f"{BASE}/", [1, 2], auth).status_code == 422
    response = client.post(f"{BASE}/", data="{not json", content_type="application/json", **auth)
    assert response.status_code == 422
    response = client.post(f"{BASE}/", {"title": "t", "images": [png_upload()], "product_ids": "1x"}, **auth)
    assert response.status_code == 422
    assert Client().post(f"{BASE}/", data="{}", content_type="application/json").status_code == 401
    assert client.get(f"{BASE}/999999999", **auth).status_code == 404
    assert not Note.objects.exists()


def test_reading_a_blocked_users_note_is_404(client: Client, author: Any, auth: dict[str, str]) -> None:
    note = NoteFactory(author=author)
    reader = UserFactory()
    reader_auth = bearer_headers(reader)
    assert client.get(f"{BASE}/{note.pk}", **reader_auth).status_code == 200
    Block.objects.create(blocker=author, blocked=reader)
    response = client.get(f"{BASE}/{note.pk}", **reader_auth)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert client.get(f"{BASE}/by/{author.handle}", **reader_auth).json()["items"] == []
    assert client.post(f"{BASE}/{note.pk}/share", **reader_auth).status_code == 404


def test_posting_past_the_rate_limit_is_429_with_retry_after(
    client: Client, auth: dict[str, str], settings: Any
) -> None:
    settings.GRASSROOTS = {**settings.GRASSROOTS, "NOTES_PER_HOUR": 1}
    assert post_json(client, f"{BASE}/", {"title": "one"}, auth).status_code == 201
    response = post_json(client, f"{BASE}/", {"title": "two"}, auth)
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 3600
    assert Note.objects.count() == 1


def test_update_delete_and_others_notes(client: Client, author: Any, auth: dict[str, str]) -> None:
    data = client.post(f"{BASE}/", {"title": "t", "images": uploads(3), "publish": "1"}, **auth).json()
    ids = [i["id"] for i in data["images"]]
    response = client.patch(
        f"{BASE}/{data['id']}",
        data=json.dumps({"title": "New", "image_order": [ids[2], ids[0]]}),
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 200
    assert response.json()["title"] == "New" and [i["id"] for i in response.json()["images"]] == [ids[2], ids[0]]

    stranger = bearer_headers(UserFactory())
    response = client.patch(
        f"{BASE}/{data['id']}", data=json.dumps({"title": "Mine"}), content_type="application/json", **stranger
    )
    assert response.status_code == 404
    assert client.delete(f"{BASE}/{data['id']}", **stranger).status_code == 404
    assert client.delete(f"{BASE}/{data['id']}", **auth).status_code == 204
    assert client.get(f"{BASE}/{data['id']}", **auth).status_code == 404
    assert client.delete(f"{BASE}/{data['id']}", **auth).status_code == 404


def test_lists_by_author_and_drafts(client: Client, author: Any, auth: dict[str, str]) -> None:
    notes = [NoteFactory(author=author) for _ in range(3)]
    draft = NoteFactory(author=author, status=Note.Status.DRAFT, published_at=None)
    page = client.get(f"{BASE}/by/{author.handle}?limit=2").json()
    assert [n["id"] for n in page["items"]] == [notes[2].pk, notes[1].pk]
    rest = client.get(f"{BASE}/by/{author.handle}?limit=2&cursor={page['next_cursor']}").json()
    assert [n["id"] for n in rest["items"]] == [notes[0].pk] and rest["next_cursor"] is None
    assert client.get(f"{BASE}/by/nobody-here").status_code == 404
    assert client.get(f"{BASE}/by/{author.handle}?cursor=%%%").status_code == 422
    drafts = client.get(f"{BASE}/drafts", **auth).json()
    assert [n["id"] for n in drafts["items"]] == [draft.pk]
    assert client.get(f"{BASE}/drafts", **bearer_headers(UserFactory())).json()["items"] == []
    # someone else's draft is not readable
    assert client.get(f"{BASE}/{draft.pk}", **bearer_headers(UserFactory())).status_code == 404


def test_list_query_count_is_constant(client: Client, author: Any, django_assert_max_num_queries: Any) -> None:
    shop = ShopFactory(owner=author)
    for _ in range(6):
        product = ProductFactory()
        ShopItemFactory(shop=shop, product=product)
        NoteFactory(author=author).product_tags.create(product=product)
    with django_assert_max_num_queries(9):
        response = client.get(f"{BASE}/by/{author.handle}")
    assert len(response.json()["items"]) == 6


def test_share_returns_an_attributed_link_and_qr(client: Client, author: Any, auth: dict[str, str]) -> None:
    shop = ShopFactory(owner=author)
    product = ProductFactory()
    ShopItemFactory(shop=shop, product=product)
    note = post_json(client, f"{BASE}/", {"title": "t", "product_ids": [product.pk], "publish": True}, auth).json()
    assert note["is_ad"] is True and note["products"][0]["via_shop"] is True
    assert "/s/" in note["products"][0]["url"]
    reader = bearer_headers(UserFactory())
    first = client.post(f"{BASE}/{note['id']}/share", **reader).json()
    again = client.post(f"{BASE}/{note['id']}/share", **reader).json()
    assert first["url"] == again["url"] and first["url"].startswith("http://testserver/s/")
    assert first["qr_svg"].startswith("<svg") and first["qr_svg_url"].endswith("/qr.svg")
    assert (first["share_count"], again["share_count"]) == (1, 1)
    assert client.get(f"{BASE}/{note['id']}").json()["share_count"] == 1
    # the link leads to the note page
    response = Client().get(first["url"].removeprefix("http://testserver"))
    assert response.status_code == 302 and response["Location"] == f"/notes/{note['id']}/"
