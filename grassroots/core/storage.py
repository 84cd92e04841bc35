"""Storage for files only authorised views may serve (licences, evidence)."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class PrivateStorage(FileSystemStorage):
    """Reads PRIVATE_MEDIA_ROOT on every use, so a changed setting (tests) takes effect at once."""

    @property  # type: ignore[override]
    def base_location(self) -> str:
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property  # type: ignore[override]
    def location(self) -> str:
        return os.path.abspath(self.base_location)


private_storage = PrivateStorage()


def get_private_storage() -> FileSystemStorage:
    """Callable for FileField(storage=...): keeps the location out of migrations."""
    return private_storage
