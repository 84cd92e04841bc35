from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.merchants.models import Merchant, MerchantDocument, MerchantMember, MerchantStatusChange
from grassroots.merchants.tests.factories import (
    PDF_BYTES,
    AppliedMerchantFactory,
    MerchantDocumentFactory,
    MerchantFactory,
    MerchantMemberFactory,
    pdf_upload,
    png_upload,
)


def _client(user=None) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _form(**overrides):  # type: ignore[no-untyped-def]
    data = {
        "name": "Mountain Tea",
        "brand_names": "Mountain",
        "contact_email": "tea@mountain.example",
        "description": "Oolong from Wuyi.",
        "business_licence": pdf_upload(),
        "brand_authorisation": png_upload(),
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_apply_then_verify_through_the_pages():
    owner, curator = UserFactory(), CuratorFactory()
    owner_client, curator_client = _client(owner), _client(curator)

    # The applicant fills in the form.
    form_page = owner_client.get("/merchants/apply/")
    assert form_page.status_code == 200
    assert b'enctype="multipart/form-data"' in form_page.content
    sent = owner_client.post("/merchants/apply/", _form())
    merchant = Merchant.objects.get()
    assert sent.status_code == 302
    assert sent["Location"] == f"/merchants/console/?merchant={merchant.pk}"

    console = owner_client.get(sent["Location"])
    assert console.status_code == 200
    assert b"Mountain Tea" in console.content
    assert b"waiting for a curator" in console.content
    for document in merchant.documents.all():
        assert f'/merchants/documents/{document.pk}/"'.encode() in console.content

    # The curator finds it in the queue and verifies it.
    queue = curator_client.get("/merchants/review/")
    assert queue.status_code == 200
    assert f"/merchants/review/{merchant.pk}/".encode() in queue.content
    detail = curator_client.get(f"/merchants/review/{merchant.pk}/")
    assert detail.status_code == 200
    assert f"/merchants/review/{merchant.pk}/verify/".encode() in detail.content
    assert f"/merchants/review/{merchant.pk}/reject/".encode() in detail.content
    assert b"/suspend/" not in detail.content

    decided = curator_client.post(f"/merchants/review/{merchant.pk}/verify/", {"verify-reason": "All good."})
    assert decided.status_code == 302
    assert decided["Location"] == f"/merchants/review/{merchant.pk}/"
    merchant.refresh_from_db()
    assert merchant.status == Merchant.Status.VERIFIED
    assert list(merchant.status_changes.values_list("action", "actor", "reason")) == [
        ("apply", owner.pk, ""),
        ("verify", curator.pk, "All good."),
    ]
    after = curator_client.get(f"/merchants/review/{merchant.pk}/")
    assert f"/merchants/review/{merchant.pk}/suspend/".encode() in after.content
    assert b"All good." in after.content

    # The merchant now sees it is verified and where to list products.
    console = owner_client.get("/merchants/console/")
    assert b"Your business is verified" in console.content
    assert b'href="/console/products/"' in console.content


@pytest.mark.django_db
def test_apply_page_needs_sign_in(settings):
    settings.LOGIN_URL = "/accounts/login/"

    response = _client().get("/merchants/apply/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/merchants/apply/"


@pytest.mark.django_db
def test_apply_page_shows_a_bad_document_next_to_its_field():
    fake = SimpleUploadedFile("licence.png", b"plain text", content_type="image/png")

    response = _client(UserFactory()).post("/merchants/apply/", _form(business_licence=fake))

    assert response.status_code == 422
    assert response.context["form"].errors["business_licence"] == ["The document must be a PDF or an image."]
    assert Merchant.objects.count() == 0
    assert MerchantDocument.objects.count() == 0


@pytest.mark.django_db
def test_apply_page_requires_both_files():
    data = _form()
    del data["brand_authorisation"]

    response = _client(UserFactory()).post("/merchants/apply/", data)

    assert response.status_code == 422
    assert "brand_authorisation" in response.context["form"].errors
    assert Merchant.objects.count() == 0


@pytest.mark.django_db
def test_console_without_a_merchant_sends_to_apply():
    response = _client(UserFactory()).get("/merchants/console/")

    assert response.status_code == 302
    assert response["Location"] == "/merchants/apply/"


@pytest.mark.django_db
def test_console_of_another_merchant_is_404():
    merchant = MerchantFactory()

    assert _client(UserFactory()).get(f"/merchants/console/?merchant={merchant.pk}").status_code == 404
    assert _client(merchant.owner).get("/merchants/console/?merchant=abc").status_code == 404


@pytest.mark.django_db
def test_reject_page_requires_a_reason():
    merchant = AppliedMerchantFactory()

    response = _client(CuratorFactory()).post(f"/merchants/review/{merchant.pk}/reject/", {"reject-reason": " "})

    assert response.status_code == 422
    assert b"Please give a reason." in response.content
    assert Merchant.objects.get(pk=merchant.pk).status == Merchant.Status.APPLIED
    assert MerchantStatusChange.objects.count() == 0


@pytest.mark.django_db
def test_rejection_reason_reaches_the_console_and_the_owner_resubmits():
    merchant = AppliedMerchantFactory()
    curator_client, owner_client = _client(CuratorFactory()), _client(merchant.owner)
    curator_client.post(f"/merchants/review/{merchant.pk}/reject/", {"reject-reason": "Licence is expired."})

    console = owner_client.get("/merchants/console/")
    assert b"Licence is expired." in console.content
    assert f"/merchants/console/{merchant.pk}/resubmit/".encode() in console.content

    sent = owner_client.post(
        f"/merchants/console/{merchant.pk}/resubmit/",
        {"business_licence": pdf_upload("new.pdf"), "brand_authorisation": png_upload(), "note": "Renewed."},
    )

    assert sent.status_code == 302
    merchant.refresh_from_db()
    assert merchant.status == Merchant.Status.APPLIED
    assert merchant.documents.filter(is_current=True).count() == 2
    assert merchant.documents.filter(is_current=False).count() == 2


@pytest.mark.django_db
def test_an_illegal_decision_on_the_page_changes_nothing():
    merchant = AppliedMerchantFactory()
    client = _client(CuratorFactory())

    response = client.post(f"/merchants/review/{merchant.pk}/reinstate/", {"reinstate-reason": ""}, follow=True)

    assert response.status_code == 200
    assert b"cannot reinstate" in response.content
    assert Merchant.objects.get(pk=merchant.pk).status == Merchant.Status.APPLIED
    assert MerchantStatusChange.objects.count() == 0


@pytest.mark.django_db
def test_review_pages_are_for_curators_only():
    merchant = AppliedMerchantFactory()
    buyer = _client(UserFactory())

    assert buyer.get("/merchants/review/").status_code == 403
    assert buyer.get(f"/merchants/review/{merchant.pk}/").status_code == 403
    assert buyer.post(f"/merchants/review/{merchant.pk}/verify/", {"verify-reason": ""}).status_code == 403
    assert Merchant.objects.get(pk=merchant.pk).status == Merchant.Status.APPLIED
    assert MerchantStatusChange.objects.count() == 0


@pytest.mark.django_db
def test_review_queue_tabs_filter_by_status():
    applied, verified = AppliedMerchantFactory(name="Waiting Co"), MerchantFactory(name="Done Co")
    client = _client(CuratorFactory())

    waiting = client.get("/merchants/review/")
    done = client.get("/merchants/review/?status=verified")

    assert [m.pk for m in waiting.context["merchants"]] == [applied.pk]
    assert [m.pk for m in done.context["merchants"]] == [verified.pk]
    assert b"Verified (1)" in waiting.content


@pytest.mark.django_db
def test_owner_adds_a_member_on_the_console():
    merchant = MerchantFactory()
    helper = UserFactory(email="helper@example.com")

    response = _client(merchant.owner).post(
        f"/merchants/console/{merchant.pk}/members/", {"email": "helper@example.com", "role": "staff"}
    )
    refused = _client(helper).post(
        f"/merchants/console/{merchant.pk}/members/", {"email": merchant.owner.email, "role": "owner"}, follow=True
    )

    assert response.status_code == 302
    assert MerchantMember.objects.get(merchant=merchant, user=helper).role == "staff"
    assert b"Only the merchant&#x27;s owner may add members." in refused.content
    assert MerchantMember.objects.filter(merchant=merchant).count() == 2


@pytest.mark.django_db
def test_document_is_served_inline_to_members_and_curators():
    merchant = MerchantFactory()
    document = MerchantDocumentFactory(merchant=merchant)
    staff = MerchantMemberFactory(merchant=merchant).user

    for viewer in (merchant.owner, staff, CuratorFactory()):
        response = _client(viewer).get(f"/merchants/documents/{document.pk}/")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == f'inline; filename="business_licence-{document.pk}.pdf"'
        assert response["Cache-Control"] == "private, no-store"
        assert b"".join(response.streaming_content) == PDF_BYTES


@pytest.mark.django_db
def test_document_is_404_for_everyone_else():
    document = MerchantDocumentFactory()
    other_merchant = MerchantFactory()

    assert _client().get(f"/merchants/documents/{document.pk}/").status_code == 404
    assert _client(UserFactory()).get(f"/merchants/documents/{document.pk}/").status_code == 404
    assert _client(other_merchant.owner).get(f"/merchants/documents/{document.pk}/").status_code == 404
    assert _client(CuratorFactory()).get("/merchants/documents/999999/").status_code == 404


@pytest.mark.django_db
def test_documents_are_not_under_media():
    document = MerchantDocumentFactory()

    assert not document.file.name.startswith("/")
    assert _client(CuratorFactory()).get(f"/media/{document.file.name}").status_code == 404
