"""Builders shared by the curation tests."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.models import Product
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.curation.models import Submission
from grassroots.curation.services import submission_open
from grassroots.merchants.tests.factories import MerchantFactory

STAGES = ["qualification", "authenticity", "sample_quality", "pricing", "final"]
PDF_BYTES = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def pdf_upload(name: str = "invoice.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF_BYTES, content_type="application/pdf")


def png_upload(name: str = "photo.png") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def text_upload(name: str = "notes.pdf") -> SimpleUploadedFile:
    # Named like a PDF; the content decides.
    return SimpleUploadedFile(name, b"just some text, not a document", content_type="application/pdf")


def submitted_product(**product_fields: object) -> tuple[Product, Submission]:
    """A draft product with one SKU, submitted by its merchant's owner: in review at the first stage."""
    owner = UserFactory()
    merchant = MerchantFactory(owner=owner)
    fields: dict[str, object] = {
        "merchant": merchant,
        "status": Product.Status.DRAFT,
        "is_listed": False,
        "passed_stages": [],
        "listed_at": None,
    }
    fields.update(product_fields)
    product = ProductFactory(**fields)
    SkuFactory(product=product, price_amount=9900)
    submission = submission_open(product=product, actor_id=owner.pk)
    product.refresh_from_db()
    return product, submission
