"""Helpers for feeds tests: settings per backend and threshold, and social/notes actions through
their real services with the after-commit hooks run."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.test import TestCase

from grassroots.notes.models import Note
from grassroots.notes.services import note_create, note_delete

BACKENDS = ["db", "redis"] if os.environ.get("REDIS_URL") else ["db"]


def feed_settings(settings: Any, **values: Any) -> None:
    """Override GRASSROOTS keys on pytest-django's `settings` (a copy of the dict, never in place)."""
    settings.GRASSROOTS = {
        **settings.GRASSROOTS,
        "NOTES_PER_HOUR": 10_000,
        "FOLLOWS_PER_HOUR": 10_000,
        **values,
    }


@contextmanager
def hooks() -> Iterator[None]:
    """Run the on-commit callbacks (feed hooks) registered inside, as a real commit would."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        yield


def run(action: Callable[..., Any], **kwargs: Any) -> Any:
    with hooks():
        return action(**kwargs)


def post(author: Any, title: str = "A note", **kwargs: Any) -> Note:
    return run(note_create, author=author, title=title, body=kwargs.pop("body", "Worth it."), publish=True, **kwargs)


def delete(note: Note) -> None:
    run(note_delete, user=note.author, note_id=note.pk)


def clear_redis() -> None:
    """Drop every timeline of this test run (ids are reused after a rollback on SQLite)."""
    if not os.environ.get("REDIS_URL"):
        return
    from django.core.cache import cache
    from django_redis import get_redis_connection

    client = get_redis_connection("default")
    keys = list(client.scan_iter(match=cache.make_key("feeds:tl:*")))
    if keys:
        client.delete(*keys)


def use_memory_cache_without_redis(settings: Any) -> None:
    """Without Redis the card cache is tested in this process's memory (the database cache would
    add a query per read and a write per missed card to the counts)."""
    if not os.environ.get("REDIS_URL"):
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def clear_cards() -> None:
    """Drop every cached note card (ids are reused after a rollback on SQLite)."""
    from django.core.cache import cache

    if not hasattr(cache, "delete_pattern"):
        cache.clear()
        return
    cache.delete_pattern("feeds:card:*")
