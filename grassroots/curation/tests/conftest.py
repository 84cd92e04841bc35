from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.core.files.storage import FileSystemStorage

from grassroots.curation.models import Evidence


@pytest.fixture(autouse=True)
def private_files(settings, monkeypatch):  # type: ignore[no-untyped-def]
    """Evidence goes to this test's own private directory (the field's storage is built at import)."""
    root = settings.PRIVATE_MEDIA_ROOT
    monkeypatch.setattr(Evidence._meta.get_field("file"), "storage", FileSystemStorage(location=root))
    return root


@pytest.fixture(autouse=True)
def default_stages(request):  # type: ignore[no-untyped-def]
    """The data migration seeds the stages; a transactional test elsewhere may have flushed them."""
    if not (request.node.get_closest_marker("django_db") or "transactional_db" in request.fixturenames):
        return
    request.getfixturevalue("transactional_db" if "transactional_db" in request.fixturenames else "db")
    importlib.import_module("grassroots.curation.migrations.0003_default_stages").seed(apps, None)
