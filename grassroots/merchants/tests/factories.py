from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from grassroots.accounts.tests.factories import UserFactory
from grassroots.merchants.models import Merchant, MerchantDocument, MerchantMember


class MerchantFactory(factory.django.DjangoModelFactory):
    """A verified merchant with one owner (`merchant.owner` after creation)."""

    class Meta:
        model = Merchant
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")
    contact_email = factory.Sequence(lambda n: f"merchant-{n}@example.com")
    status = Merchant.Status.VERIFIED

    @factory.post_generation
    def owner(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if not create:
            return
        user = extracted or UserFactory()
        MerchantMember.objects.create(merchant=obj, user=user, role=MerchantMember.Role.OWNER)
        obj.owner = user


class MerchantMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MerchantMember

    merchant = factory.SubFactory(MerchantFactory)
    user = factory.SubFactory(UserFactory)
    role = MerchantMember.Role.STAFF


# A minimal but well-formed PDF: check_document looks for the magic bytes and the trailer.
PDF_BYTES = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def png_bytes(size: tuple[int, int] = (4, 4)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 40)).save(out, format="PNG")
    return out.getvalue()


def pdf_upload(name: str = "licence.pdf", data: bytes = PDF_BYTES) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def png_upload(name: str = "authorisation.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


def stored_files(root: Path) -> list[str]:
    """Every file under a private-storage root (see the private_files fixture)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


class MerchantDocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MerchantDocument

    merchant = factory.SubFactory(MerchantFactory)
    kind = MerchantDocument.Kind.BUSINESS_LICENCE
    file = factory.django.FileField(data=PDF_BYTES, filename="document.pdf")
    file_kind = "pdf"
    content_type = "application/pdf"
    original_name = "licence.pdf"


class AppliedMerchantFactory(MerchantFactory):
    """A pending application with both documents; `.owner` is also the applicant."""

    status = Merchant.Status.APPLIED

    @factory.post_generation
    def documents(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if not create:
            return
        Merchant.objects.filter(pk=obj.pk).update(applicant=obj.owner)
        obj.applicant = obj.owner
        for kind in MerchantDocument.Kind.values:
            MerchantDocumentFactory(merchant=obj, kind=kind, uploaded_by=obj.owner)


def admin_form_data(response: Any) -> dict[str, Any]:
    """What an admin change page would post back unchanged: its form's and its inlines' values."""
    context = response.context
    forms = [context["adminform"].form]
    for inline in context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data: dict[str, Any] = {}
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is not None and value is not False:  # unchecked boxes and empty fields are not sent
                data[form.add_prefix(name)] = value
    return data
