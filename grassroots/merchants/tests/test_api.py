from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.merchants.models import Merchant, MerchantDocument, MerchantMember, MerchantStatusChange
from grassroots.merchants.tests.factories import (
    AppliedMerchantFactory,
    MerchantFactory,
    pdf_upload,
    png_bytes,
    png_upload,
    stored_files,
)

BASE = "/api/v1/merchants"


def _client(user=None) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _application(**overrides):  # type: ignore[no-untyped-def]
    data = {
        "name": "Hill Farm Honey",
        "description": "Raw honey from Yunnan.",
        "brand_names": "Hill Farm",
        "contact_email": "hello@hillfarm.example",
        "business_licence": pdf_upload(),
        "brand_authorisation": png_upload(),
    }
    data.update(overrides)
    return data


def _post_json(client: Client, url: str, body: dict):  # type: ignore[no-untyped-def]
    return client.post(url, body, content_type="application/json")


@pytest.mark.django_db
def test_apply_then_verify_through_the_api():
    owner, curator, stranger = UserFactory(), CuratorFactory(), UserFactory()

    created = _client(owner).post(f"{BASE}/applications", _application())
    assert created.status_code == 201, created.content
    body = created.json()
    merchant_id = body["id"]
    assert body["status"] == "applied"
    assert body["name"] == "Hill Farm Honey"
    assert sorted(d["kind"] for d in body["documents"]) == ["brand_authorisation", "business_licence"]
    assert {d["content_type"] for d in body["documents"]} == {"application/pdf", "image/png"}
    assert all(d["url"] == f"/merchants/documents/{d['id']}/" for d in body["documents"])
    assert [(m["user_id"], m["role"]) for m in body["members"]] == [(owner.pk, "owner")]

    mine = _client(owner).get(f"{BASE}/mine").json()
    assert [m["id"] for m in mine] == [merchant_id]

    queue = _client(curator).get(f"{BASE}/", {"status": "applied"}).json()
    assert [m["id"] for m in queue["items"]] == [merchant_id]
    assert queue["next_cursor"] is None

    verified = _post_json(_client(curator), f"{BASE}/{merchant_id}/verify", {"reason": "Documents match."})
    assert verified.status_code == 200, verified.content
    assert verified.json()["status"] == "verified"
    assert verified.json()["verified_at"] is not None

    public = _client(stranger).get(f"{BASE}/{merchant_id}").json()
    assert public == {
        "view": "public",
        "id": merchant_id,
        "name": "Hill Farm Honey",
        "slug": "hill-farm-honey",
        "description": "Raw honey from Yunnan.",
        "brand_names": "Hill Farm",
        "verified_at": verified.json()["verified_at"],
    }
    assert _client().get(f"{BASE}/{merchant_id}").json() == public

    history = _client(owner).get(f"{BASE}/{merchant_id}/history").json()
    assert [(h["action"], h["from_status"], h["to_status"], h["actor_id"], h["reason"]) for h in history] == [
        ("apply", "", "applied", owner.pk, ""),
        ("verify", "applied", "verified", curator.pk, "Documents match."),
    ]


@pytest.mark.django_db
def test_apply_needs_a_signed_in_user():
    response = _client().post(f"{BASE}/applications", _application())

    assert response.status_code == 401
    assert Merchant.objects.count() == 0


@pytest.mark.django_db
def test_apply_without_a_file_is_422():
    data = _application()
    del data["brand_authorisation"]

    response = _client(UserFactory()).post(f"{BASE}/applications", data)

    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert "brand_authorisation" in response.json()["fields"]
    assert Merchant.objects.count() == 0


@pytest.mark.django_db
def test_text_renamed_to_png_is_refused_and_nothing_is_written(private_files):
    fake = SimpleUploadedFile("authorisation.png", b"this is plain text, not a picture", content_type="image/png")

    response = _client(UserFactory()).post(f"{BASE}/applications", _application(brand_authorisation=fake))

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_document"
    assert response.json()["fields"] == {"brand_authorisation": "not_pdf_or_image"}
    assert Merchant.objects.count() == 0
    assert MerchantDocument.objects.count() == 0
    assert MerchantMember.objects.count() == 0
    assert MerchantStatusChange.objects.count() == 0
    assert stored_files(private_files) == []


@pytest.mark.django_db
def test_oversize_document_is_refused_and_nothing_is_written(settings, private_files):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "MAX_DOCUMENT_BYTES": 4096}
    big_png = png_bytes()
    big_png += b"\0" * (4097 - len(big_png))  # trailing bytes after IEND: still a PNG, one byte too many
    upload = SimpleUploadedFile("authorisation.png", big_png, content_type="image/png")

    response = _client(UserFactory()).post(f"{BASE}/applications", _application(brand_authorisation=upload))

    assert response.status_code == 422
    assert response.json()["code"] == "file_too_large"
    assert response.json()["fields"] == {"brand_authorisation": "too_large"}
    assert Merchant.objects.count() == 0
    assert MerchantDocument.objects.count() == 0
    assert stored_files(private_files) == []


@pytest.mark.django_db
def test_second_pending_application_is_409():
    owner = UserFactory()
    assert _client(owner).post(f"{BASE}/applications", _application()).status_code == 201

    response = _client(owner).post(f"{BASE}/applications", _application(name="Other"))

    assert response.status_code == 409
    assert response.json()["code"] == "application_pending"
    assert Merchant.objects.count() == 1


@pytest.mark.django_db
def test_reject_requires_a_reason():
    merchant = AppliedMerchantFactory()

    response = _post_json(_client(CuratorFactory()), f"{BASE}/{merchant.pk}/reject", {"reason": ""})

    assert response.status_code == 422
    assert response.json()["code"] == "reason_required"
    assert response.json()["fields"] == {"reason": "required"}
    assert Merchant.objects.get(pk=merchant.pk).status == "applied"
    assert MerchantStatusChange.objects.count() == 0


@pytest.mark.django_db
def test_reject_with_a_reason_shows_it_to_the_merchant():
    merchant = AppliedMerchantFactory()

    response = _post_json(_client(CuratorFactory()), f"{BASE}/{merchant.pk}/reject", {"reason": "Licence is blurred."})

    assert response.status_code == 200
    mine = _client(merchant.owner).get(f"{BASE}/mine").json()
    assert (mine[0]["status"], mine[0]["status_reason"]) == ("rejected", "Licence is blurred.")


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["verify", "reject", "suspend", "reinstate"])
def test_a_buyer_cannot_decide(action):
    merchant = AppliedMerchantFactory()
    buyer = UserFactory()

    response = _post_json(_client(buyer), f"{BASE}/{merchant.pk}/{action}", {"reason": "I say so"})

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert Merchant.objects.get(pk=merchant.pk).status == "applied"
    assert MerchantStatusChange.objects.count() == 0


@pytest.mark.django_db
def test_the_merchant_cannot_verify_itself():
    merchant = AppliedMerchantFactory()

    response = _post_json(_client(merchant.owner), f"{BASE}/{merchant.pk}/verify", {})

    assert response.status_code == 403
    assert Merchant.objects.get(pk=merchant.pk).status == "applied"


@pytest.mark.django_db
def test_illegal_transition_is_409():
    merchant = AppliedMerchantFactory()

    response = _post_json(_client(CuratorFactory()), f"{BASE}/{merchant.pk}/reinstate", {})

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert Merchant.objects.get(pk=merchant.pk).status == "applied"
    assert MerchantStatusChange.objects.count() == 0


@pytest.mark.django_db
def test_transition_on_a_missing_merchant_is_404():
    response = _post_json(_client(CuratorFactory()), f"{BASE}/999999/verify", {})

    assert response.status_code == 404


@pytest.mark.django_db
def test_suspend_and_reinstate():
    merchant = MerchantFactory()
    client = _client(CuratorFactory())

    suspended = _post_json(client, f"{BASE}/{merchant.pk}/suspend", {"reason": "Fake goods reported."})
    reinstated = _post_json(client, f"{BASE}/{merchant.pk}/reinstate", {"reason": "Report was wrong."})

    assert (suspended.status_code, suspended.json()["status"]) == (200, "suspended")
    assert (reinstated.status_code, reinstated.json()["status"]) == (200, "verified")


@pytest.mark.django_db
def test_unverified_merchant_is_hidden_from_strangers():
    merchant = AppliedMerchantFactory()

    assert _client(UserFactory()).get(f"{BASE}/{merchant.pk}").status_code == 404
    assert _client().get(f"{BASE}/{merchant.pk}").status_code == 404
    assert _client(UserFactory()).get(f"{BASE}/{merchant.pk}/history").status_code == 404
    assert _client().get(f"{BASE}/999999").status_code == 404


@pytest.mark.django_db
def test_members_and_curators_see_everything():
    merchant = AppliedMerchantFactory()

    for viewer in (merchant.owner, CuratorFactory()):
        body = _client(viewer).get(f"{BASE}/{merchant.pk}").json()
        assert body["view"] == "full"
        assert body["status"] == "applied"
        assert len(body["documents"]) == 2


@pytest.mark.django_db
def test_list_is_for_curators_only():
    AppliedMerchantFactory()

    response = _client(UserFactory()).get(f"{BASE}/", {"status": "applied"})

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


@pytest.mark.django_db
def test_list_rejects_an_unknown_status_and_a_bad_cursor():
    client = _client(CuratorFactory())

    assert client.get(f"{BASE}/", {"status": "nope"}).status_code == 422
    assert client.get(f"{BASE}/", {"cursor": "%%%"}).json()["code"] == "invalid_cursor"


@pytest.mark.django_db
def test_list_pages_with_a_cursor():
    merchants = AppliedMerchantFactory.create_batch(5)
    client = _client(CuratorFactory())

    seen: list[int] = []
    cursor = None
    while True:
        params = {"status": "applied", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"{BASE}/", params).json()
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == [m.pk for m in merchants]


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 30])
def test_list_query_count_does_not_grow(count, django_assert_max_num_queries):
    AppliedMerchantFactory.create_batch(count)
    client = _client(CuratorFactory())

    with django_assert_max_num_queries(5):
        response = client.get(f"{BASE}/", {"status": "applied", "limit": 50})

    assert len(response.json()["items"]) == count


@pytest.mark.django_db
def test_mine_lists_only_my_merchants():
    mine = MerchantFactory()
    MerchantFactory()

    body = _client(mine.owner).get(f"{BASE}/mine").json()

    assert [m["id"] for m in body] == [mine.pk]


@pytest.mark.django_db
def test_resubmit_through_the_api():
    merchant = AppliedMerchantFactory()
    _post_json(_client(CuratorFactory()), f"{BASE}/{merchant.pk}/reject", {"reason": "Expired."})

    response = _client(merchant.owner).post(
        f"{BASE}/{merchant.pk}/resubmit",
        {"business_licence": pdf_upload(), "brand_authorisation": png_upload(), "note": "New licence."},
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "applied"
    assert sum(d["is_current"] for d in response.json()["documents"]) == 2
    assert len(response.json()["documents"]) == 4


@pytest.mark.django_db
def test_owner_adds_a_member_through_the_api():
    merchant = MerchantFactory()
    helper = UserFactory()

    response = _post_json(_client(merchant.owner), f"{BASE}/{merchant.pk}/members", {"email": helper.email})
    stranger = _post_json(_client(UserFactory()), f"{BASE}/{merchant.pk}/members", {"email": helper.email})

    assert response.status_code == 201
    assert (response.json()["user_id"], response.json()["role"]) == (helper.pk, "staff")
    assert stranger.status_code == 404
