"""Factories and helpers for notes tests."""

from __future__ import annotations

import io
from typing import Any

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from grassroots.accounts.tests.factories import UserFactory
from grassroots.notes.models import Note


class NoteFactory(factory.django.DjangoModelFactory):
    """A published, visible note written directly (the service tests go through note_create)."""

    class Meta:
        model = Note

    author = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Note {n}")
    body = "Really good."
    body_html = "Really good."
    status = Note.Status.PUBLISHED
    published_at = factory.LazyFunction(timezone.now)


def png_upload(name: str = "photo.png", size: tuple[int, int] = (24, 18)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, (40, 160, 90)).save(out, format="PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def uploads(n: int) -> list[Any]:
    return [png_upload(f"p{i}.png", (10 + i, 8)) for i in range(n)]
