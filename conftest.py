"""Shared test fixtures. Factories live in each app's tests/factories.py."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache(request):  # type: ignore[no-untyped-def]
    """Rate-limit counters must not leak between tests (the cache may be Redis)."""
    if request.node.get_closest_marker("django_db") or "transactional_db" in request.fixturenames:
        from django.core.cache import cache

        request.getfixturevalue("transactional_db" if "transactional_db" in request.fixturenames else "db")
        cache.clear()
    return


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("createcachetable", verbosity=0)
