from __future__ import annotations

import pytest
from django.core.files.storage import FileSystemStorage

from grassroots.merchants.models import MerchantDocument


@pytest.fixture(autouse=True)
def private_files(settings, monkeypatch):  # type: ignore[no-untyped-def]
    """Documents go to this test's own private directory.

    The field's storage is built once at import, so the root conftest's PRIVATE_MEDIA_ROOT override
    alone would not reach it.
    """
    root = settings.PRIVATE_MEDIA_ROOT
    monkeypatch.setattr(MerchantDocument._meta.get_field("file"), "storage", FileSystemStorage(location=root))
    return root
