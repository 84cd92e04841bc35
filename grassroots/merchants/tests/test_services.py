from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from grassroots.core.state_machine import InvalidTransition
from grassroots.merchants import selectors, services
from grassroots.merchants.models import Merchant, MerchantDocument, MerchantMember, MerchantStatusChange
from grassroots.merchants.tests.factories import (
    PDF_BYTES,
    AppliedMerchantFactory,
    MerchantFactory,
    MerchantMemberFactory,
    pdf_upload,
    png_upload,
    stored_files,
)


def _apply(user, **overrides):  # type: ignore[no-untyped-def]
    data = {
        "name": "Acme Tea Co.",
        "description": "Single-estate tea.",
        "brand_names": "Acme, Acme Gold",
        "contact_email": "Sales@Acme.example",
        "business_licence": pdf_upload(),
        "brand_authorisation": png_upload(),
    }
    data.update(overrides)
    return services.merchant_apply(user=user, **data)


@pytest.mark.django_db
def test_apply_creates_application_owner_documents_and_audit_row():
    user = UserFactory()

    merchant = _apply(user)

    assert merchant.status == Merchant.Status.APPLIED
    assert merchant.slug == "acme-tea-co"
    assert merchant.contact_email == "sales@acme.example"
    assert merchant.applicant == user
    assert list(MerchantMember.objects.filter(merchant=merchant).values_list("user", "role")) == [
        (user.pk, MerchantMember.Role.OWNER)
    ]
    documents = {d.kind: d for d in merchant.documents.all()}
    assert documents[MerchantDocument.Kind.BUSINESS_LICENCE].content_type == "application/pdf"
    assert documents[MerchantDocument.Kind.BUSINESS_LICENCE].file.read() == PDF_BYTES
    assert documents[MerchantDocument.Kind.BRAND_AUTHORISATION].content_type == "image/png"
    assert documents[MerchantDocument.Kind.BRAND_AUTHORISATION].file_kind == "image"
    assert not documents[MerchantDocument.Kind.BRAND_AUTHORISATION].file.name.endswith("authorisation.png")
    assert list(merchant.status_changes.values_list("action", "from_status", "to_status", "actor")) == [
        ("apply", "", "applied", user.pk)
    ]


@pytest.mark.django_db
def test_apply_with_a_taken_name_gets_a_distinct_slug():
    MerchantFactory(slug="acme-tea-co")

    merchant = _apply(UserFactory())

    assert merchant.slug.startswith("acme-tea-co-")


@pytest.mark.django_db
def test_apply_requires_both_documents_and_writes_nothing():
    with pytest.raises(ValidationFailed) as error:
        _apply(UserFactory(), brand_authorisation=None)

    assert error.value.code == "documents_required"
    assert error.value.fields == {"brand_authorisation": "required"}
    assert Merchant.objects.count() == 0
    assert MerchantDocument.objects.count() == 0


@pytest.mark.django_db
def test_apply_rejects_a_bad_email_and_an_empty_name():
    with pytest.raises(ValidationFailed) as error:
        _apply(UserFactory(), name="  <b></b> ", contact_email="not-an-email")

    assert error.value.fields == {"name": "required", "contact_email": "invalid"}
    assert Merchant.objects.count() == 0


@pytest.mark.django_db
def test_apply_rejects_a_text_file_named_like_a_pdf(private_files):
    fake = SimpleUploadedFile("licence.pdf", b"just some text, honest", content_type="application/pdf")

    with pytest.raises(ValidationFailed) as error:
        _apply(UserFactory(), business_licence=fake)

    assert error.value.code == "invalid_document"
    assert error.value.fields == {"business_licence": "not_pdf_or_image"}
    assert Merchant.objects.count() == 0
    assert MerchantDocument.objects.count() == 0
    assert stored_files(private_files) == []


@pytest.mark.django_db
def test_a_user_may_have_only_one_pending_application():
    user = UserFactory()
    _apply(user)

    with pytest.raises(Conflict) as error:
        _apply(user, name="Second Try")

    assert error.value.code == "application_pending"
    assert Merchant.objects.count() == 1
    assert MerchantDocument.objects.count() == 2


@pytest.mark.django_db
def test_after_a_decision_the_user_may_apply_again():
    user = UserFactory()
    first = _apply(user)
    services.merchant_verify(merchant=first, actor=CuratorFactory())

    second = _apply(user, name="Second Brand")

    assert second.status == Merchant.Status.APPLIED
    assert Merchant.objects.filter(applicant=user).count() == 2


@pytest.mark.django_db
def test_verify_suspend_reinstate_write_one_audit_row_each():
    merchant = AppliedMerchantFactory()
    curator = CuratorFactory()

    services.merchant_verify(merchant=merchant, actor=curator, reason="Licence checked.")
    assert merchant.status == Merchant.Status.VERIFIED
    assert merchant.verified_at is not None
    assert selectors.merchant_is_selling(merchant=merchant) is True

    services.merchant_suspend(merchant=merchant, actor=curator, reason="Counterfeit report confirmed.")
    assert merchant.status == Merchant.Status.SUSPENDED
    assert merchant.status_reason == "Counterfeit report confirmed."
    assert selectors.merchant_is_selling(merchant=merchant) is False

    services.merchant_reinstate(merchant=merchant, actor=curator)
    assert merchant.status == Merchant.Status.VERIFIED
    assert merchant.status_reason == ""

    assert list(
        selectors.merchant_history(merchant=merchant).values_list(
            "action", "from_status", "to_status", "actor", "reason"
        )
    ) == [
        ("verify", "applied", "verified", curator.pk, "Licence checked."),
        ("suspend", "verified", "suspended", curator.pk, "Counterfeit report confirmed."),
        ("reinstate", "suspended", "verified", curator.pk, ""),
    ]


@pytest.mark.django_db
def test_every_transition_refreshes_the_brands_cards_after_commit_and_its_products_when_selling_changes(
    monkeypatch, django_capture_on_commit_callbacks
):
    import grassroots.feeds.services as feeds

    calls: list[tuple[list[int], bool]] = []
    monkeypatch.setattr(
        feeds,
        "feed_card_invalidate_merchants",
        lambda *, merchant_ids, with_products=False: calls.append((list(merchant_ids), with_products)),
    )
    merchant, curator = AppliedMerchantFactory(), CuratorFactory()
    steps = [
        (services.merchant_reject, {"reason": "Licence expired."}),
        (services.merchant_resubmit, {"business_licence": pdf_upload(), "brand_authorisation": png_upload()}),
        (services.merchant_verify, {}),
        (services.merchant_suspend, {"reason": "Counterfeit report confirmed."}),
        (services.merchant_reinstate, {}),
    ]

    for step, kwargs in steps:
        actor = merchant.owner if step is services.merchant_resubmit else curator
        before = len(calls)
        with django_capture_on_commit_callbacks(execute=True):
            step(merchant=merchant, actor=actor, **kwargs)
            assert len(calls) == before  # nothing until the commit

    # Rejected and back to review: not selling either side, so only the brand's own notes.
    assert calls == [([merchant.pk], False)] * 2 + [([merchant.pk], True)] * 3


@pytest.mark.django_db
def test_a_refused_transition_refreshes_nothing(django_capture_on_commit_callbacks):
    merchant = MerchantFactory()  # verified

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(InvalidTransition):
        services.merchant_verify(merchant=merchant, actor=CuratorFactory())

    assert callbacks == []


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["reject", "suspend"])
def test_reject_and_suspend_require_a_reason(action):
    merchant = AppliedMerchantFactory(status=Merchant.Status.APPLIED if action == "reject" else "verified")
    before = merchant.status

    with pytest.raises(ValidationFailed) as error:
        services.CURATOR_TRANSITIONS[action](merchant=merchant, actor=CuratorFactory(), reason="   ")

    assert error.value.code == "reason_required"
    assert Merchant.objects.get(pk=merchant.pk).status == before
    assert MerchantStatusChange.objects.count() == 0


@pytest.mark.django_db
def test_an_illegal_transition_is_refused_without_an_audit_row():
    merchant = MerchantFactory()  # verified

    with pytest.raises(InvalidTransition) as error:
        services.merchant_verify(merchant=merchant, actor=CuratorFactory())

    assert error.value.status == 409
    assert MerchantStatusChange.objects.count() == 0


@pytest.mark.django_db
def test_only_curators_decide():
    merchant = AppliedMerchantFactory()

    with pytest.raises(PermissionDenied):
        services.merchant_verify(merchant=merchant, actor=merchant.owner)

    assert Merchant.objects.get(pk=merchant.pk).status == Merchant.Status.APPLIED
    assert MerchantStatusChange.objects.count() == 0


@pytest.mark.django_db
def test_resubmit_supersedes_documents_and_reopens_review():
    merchant = AppliedMerchantFactory()
    services.merchant_reject(merchant=merchant, actor=CuratorFactory(), reason="Licence expired.")
    old_ids = set(merchant.documents.values_list("id", flat=True))

    services.merchant_resubmit(
        merchant=merchant,
        actor=merchant.owner,
        business_licence=pdf_upload("renewed.pdf"),
        brand_authorisation=png_upload(),
        reason="Renewed licence attached.",
    )

    assert merchant.status == Merchant.Status.APPLIED
    assert set(merchant.documents.filter(is_current=False).values_list("id", flat=True)) == old_ids
    current = merchant.documents.filter(is_current=True)
    assert sorted(current.values_list("kind", flat=True)) == ["brand_authorisation", "business_licence"]
    assert current.get(kind="business_licence").original_name == "renewed.pdf"
    assert merchant.status_changes.last().action == "resubmit"  # type: ignore[union-attr]


@pytest.mark.django_db
def test_resubmit_is_for_the_owner_of_a_rejected_merchant_only():
    merchant = AppliedMerchantFactory()
    staff = MerchantMemberFactory(merchant=merchant).user

    with pytest.raises(PermissionDenied):
        services.merchant_resubmit(
            merchant=merchant, actor=staff, business_licence=pdf_upload(), brand_authorisation=png_upload()
        )
    with pytest.raises(InvalidTransition):
        services.merchant_resubmit(
            merchant=merchant, actor=merchant.owner, business_licence=pdf_upload(), brand_authorisation=png_upload()
        )

    assert merchant.documents.count() == 2
    assert MerchantStatusChange.objects.count() == 0


@pytest.mark.django_db
def test_resubmit_while_another_application_is_pending_is_a_conflict(private_files):
    merchant = AppliedMerchantFactory()
    services.merchant_reject(merchant=merchant, actor=CuratorFactory(), reason="Wrong brand.")
    _apply(merchant.owner, name="Another Brand")
    files_before = stored_files(private_files)

    with pytest.raises(Conflict):
        services.merchant_resubmit(
            merchant=merchant, actor=merchant.owner, business_licence=pdf_upload(), brand_authorisation=png_upload()
        )

    merchant.refresh_from_db()
    assert merchant.status == Merchant.Status.REJECTED
    assert merchant.documents.count() == 2
    assert merchant.documents.filter(is_current=True).count() == 2
    assert list(merchant.status_changes.values_list("action", flat=True)) == ["reject"]
    assert stored_files(private_files) == files_before


@pytest.mark.django_db
def test_owner_adds_members_by_email():
    merchant = MerchantFactory()
    newcomer = UserFactory(email="helper@example.com")

    member = services.merchant_member_add(
        merchant=merchant, actor=merchant.owner, email="Helper@Example.com", role=MerchantMember.Role.STAFF
    )

    assert (member.user, member.role) == (newcomer, "staff")
    assert selectors.merchant_for_member(user=newcomer, merchant_id=merchant.pk) == merchant
    assert selectors.user_active_merchant(user=newcomer) == merchant


@pytest.mark.django_db
def test_member_add_refusals():
    merchant = MerchantFactory()
    staff = MerchantMemberFactory(merchant=merchant).user
    other = UserFactory()

    with pytest.raises(PermissionDenied):
        services.merchant_member_add(merchant=merchant, actor=staff, email=other.email, role="staff")
    with pytest.raises(ValidationFailed) as unknown:
        services.merchant_member_add(merchant=merchant, actor=merchant.owner, email="nobody@example.com", role="staff")
    with pytest.raises(ValidationFailed) as bad_role:
        services.merchant_member_add(merchant=merchant, actor=merchant.owner, email=other.email, role="admin")
    with pytest.raises(Conflict):
        services.merchant_member_add(merchant=merchant, actor=merchant.owner, email=staff.email, role="staff")

    assert unknown.value.code == "unknown_user"
    assert bad_role.value.fields == {"role": "invalid"}
    assert MerchantMember.objects.filter(merchant=merchant).count() == 2


@pytest.mark.django_db
def test_member_selectors_hide_other_merchants():
    merchant = MerchantFactory()
    stranger = UserFactory()

    with pytest.raises(NotFound):
        selectors.merchant_for_member(user=stranger, merchant_id=merchant.pk)
    assert selectors.user_active_merchant(user=stranger) is None
    assert list(selectors.merchants_for_user(user=merchant.owner)) == [merchant]


@pytest.mark.django_db
def test_merchant_queue_filters_by_status():
    applied = AppliedMerchantFactory()
    MerchantFactory()

    assert list(selectors.merchant_queue(status="applied")) == [applied]
    with pytest.raises(ValidationFailed):
        selectors.merchant_queue(status="bogus")
