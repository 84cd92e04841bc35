"""Storage for files only authorised views may serve (licences, evidence)."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.functional import LazyObject


class _PrivateStorage(LazyObject):
    def _setup(self) -> None:
        self._wrapped = FileSystemStorage(location=settings.PRIVATE_MEDIA_ROOT, base_url=None)


private_storage = _PrivateStorage()


def get_private_storage() -> FileSystemStorage:
    """Callable for FileField(storage=...): keeps the location out of migrations."""
    return FileSystemStorage(location=settings.PRIVATE_MEDIA_ROOT)
