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
def _clear_cache(request, settings):  # type: ignore[no-untyped-def]
    """Rate-limit counters must not leak between tests. xdist workers share one Redis, so each
    worker gets its own key prefix and clears only that (cache.clear() on Redis is a FLUSHDB)."""
    import os

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{worker}"}}
    if request.node.get_closest_marker("django_db") or "transactional_db" in request.fixturenames:
        from django.core.cache import cache

        request.getfixturevalue("transactional_db" if "transactional_db" in request.fixturenames else "db")
        if hasattr(cache, "delete_pattern"):
            cache.delete_pattern("*")
        else:
            cache.clear()
        _ensure_seed_data()


def _ensure_seed_data() -> None:
    """Transactional tests flush the database, including rows that data migrations seeded."""
    import importlib

    from django.apps import apps

    from grassroots.curation.models import ScreeningStage

    if not ScreeningStage.objects.exists():
        importlib.import_module("grassroots.curation.migrations.0003_default_stages").seed(apps, None)


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def staff_client(db) -> Client:  # type: ignore[no-untyped-def]
    """Signed in as a superuser member of staff, for the admin pages."""
    from grassroots.accounts.tests.factories import UserFactory

    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))
    return staff


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("createcachetable", verbosity=0)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    """Debian's Chromium driven by Playwright (Playwright's own browser download is not used)."""
    import os

    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed at /usr/bin/chromium (make test installs it)")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """Real-concurrency tests open many connections each; run them on one xdist worker, one at a
    time, so two of them never exceed PostgreSQL's max_connections together."""
    for item in items:
        if item.get_closest_marker("concurrency"):
            item.add_marker(pytest.mark.xdist_group("db-concurrency"))
