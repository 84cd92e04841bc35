"""Uploaded files are judged by their content, never their name, and bounded in size."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from grassroots.core.conf import gr_setting
from grassroots.core.errors import ValidationFailed

IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class CheckedFile:
    content: bytes
    kind: str  # "image" or "pdf"
    extension: str
    width: int = 0
    height: int = 0


def _read_bounded(upload: UploadedFile, max_bytes: int, field: str) -> bytes:
    if upload.size is not None and upload.size > max_bytes:
        raise ValidationFailed(
            _("The file is too large (maximum %(mb)s MB).") % {"mb": max_bytes // (1024 * 1024)},
            code="file_too_large",
            fields={field: "too_large"},
        )
    upload.seek(0)
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValidationFailed(
            _("The file is too large (maximum %(mb)s MB).") % {"mb": max_bytes // (1024 * 1024)},
            code="file_too_large",
            fields={field: "too_large"},
        )
    if not data:
        raise ValidationFailed(_("The file is empty."), code="empty_file", fields={field: "empty"})
    return data


def _check_image_bytes(data: bytes, field: str) -> CheckedFile | None:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format or ""
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ValidationFailed(
                    _("The image has too many pixels."), code="image_too_large", fields={field: "too_many_pixels"}
                )
            image.load()
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    if fmt not in IMAGE_FORMATS:
        return None
    return CheckedFile(content=data, kind="image", extension=IMAGE_FORMATS[fmt], width=width, height=height)


def check_image(upload: UploadedFile, *, field: str = "image") -> CheckedFile:
    data = _read_bounded(upload, gr_setting("MAX_IMAGE_BYTES"), field)
    checked = _check_image_bytes(data, field)
    if checked is None:
        raise ValidationFailed(
            _("The file is not a JPEG, PNG, WebP or GIF image."), code="invalid_image", fields={field: "not_an_image"}
        )
    return checked


def check_document(upload: UploadedFile, *, field: str = "document") -> CheckedFile:
    """A document is a PDF (by its magic bytes and trailer) or an image."""
    data = _read_bounded(upload, gr_setting("MAX_DOCUMENT_BYTES"), field)
    if data.startswith(b"%PDF-") and b"%%EOF" in data[-2048:]:
        return CheckedFile(content=data, kind="pdf", extension="pdf")
    checked = _check_image_bytes(data, field)
    if checked is None:
        raise ValidationFailed(
            _("The document must be a PDF or an image."), code="invalid_document", fields={field: "not_pdf_or_image"}
        )
    return checked


def make_thumbnail(data: bytes, *, size: int = 480) -> ContentFile[bytes]:
    """A JPEG no larger than size x size, orientation applied, metadata dropped."""
    from PIL import ImageOps

    with Image.open(io.BytesIO(data)) as source:
        image: Image.Image = ImageOps.exif_transpose(source) or source
        image.thumbnail((size, size))
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=85, optimize=True)
    return ContentFile(out.getvalue())
