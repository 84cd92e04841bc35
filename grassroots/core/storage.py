"""Storage for files only authorised views may serve (licences, evidence)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage


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


@contextmanager
def files_removed_on_error() -> Iterator[list[tuple[Storage, str]]]:
    """Collects (storage, name) of the files a write stores; if anything after them fails (the rows
    roll back with the transaction), the files are deleted again, so no orphan is left behind."""
    saved: list[tuple[Storage, str]] = []
    try:
        yield saved
    except BaseException:
        for storage, name in saved:
            storage.delete(name)
        raise
