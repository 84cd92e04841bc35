"""Real parallel connections: like_count and collect_count equal the real rows after racing likes,
unlikes, collects and uncollects (including one user collecting into several collections at once)."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest
from django.db import connection

from grassroots.accounts.tests.factories import UserFactory
from grassroots.core.errors import ServiceError
from grassroots.interactions import services
from grassroots.interactions.models import CollectionItem, CollectMark, Comment, Like
from grassroots.interactions.tests.factories import NoteFactory
from grassroots.notes.models import Note

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]
WORKERS = 8


def race(action: Callable[[int], None], workers: int = WORKERS) -> list[BaseException]:
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            action(n)
        except ServiceError:
            pass
        except BaseException as error:  # surfaced by the caller
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def rounds() -> int:
    return 6 if connection.vendor == "postgresql" else 3


def test_parallel_likes_and_unlikes_keep_like_count_exact():
    note = NoteFactory()
    users = [UserFactory() for _ in range(4)]

    def action(n: int) -> None:
        user = users[n % len(users)]
        rng = random.Random(n)
        for _ in range(rounds()):
            if rng.random() < 0.6:
                services.like_add(user=user, note_id=note.pk)
            else:
                services.like_remove(user=user, note_id=note.pk)

    assert race(action) == []
    note.refresh_from_db()
    assert note.like_count == Like.objects.filter(note=note).count()


def test_same_user_racing_to_like_counts_once():
    note = NoteFactory()
    user = UserFactory()
    assert race(lambda n: services.like_add(user=user, note_id=note.pk)) == []
    note.refresh_from_db()
    assert note.like_count == 1 == Like.objects.count()


def test_parallel_collects_keep_collect_count_equal_to_distinct_collectors():
    note = NoteFactory()
    users = [UserFactory() for _ in range(3)]
    collections = {u.pk: [services.collection_create(user=u, name=f"C{i}").pk for i in range(3)] for u in users}

    def action(n: int) -> None:
        user = users[n % len(users)]
        rng = random.Random(100 + n)
        for _ in range(rounds()):
            collection_id = rng.choice(collections[user.pk])
            roll = rng.random()
            if roll < 0.55:
                services.collect_add(user=user, note_id=note.pk, collection_id=collection_id)
            elif roll < 0.85:
                services.collect_remove(user=user, note_id=note.pk, collection_id=collection_id)
            else:
                services.collect_remove(user=user, note_id=note.pk)

    assert race(action) == []
    note.refresh_from_db()
    collectors = CollectionItem.objects.filter(note=note).values("collection__owner").distinct().count()
    assert note.collect_count == collectors
    assert CollectMark.objects.filter(note=note).count() == collectors
    for user in users:
        for cid in collections[user.pk]:
            assert CollectionItem.objects.filter(collection_id=cid).count() == (
                services.Collection.objects.get(pk=cid).item_count
            )


def test_parallel_comments_and_deletes_keep_comment_and_reply_counts_exact():
    note = NoteFactory()
    top = services.comment_create(user=UserFactory(), note_id=note.pk, body="top")
    writers = [UserFactory() for _ in range(WORKERS)]

    def action(n: int) -> None:
        reply = services.comment_create(user=writers[n], note_id=note.pk, body=f"r{n}", parent_id=top.pk)
        if n % 2:
            services.comment_delete(user=writers[n], comment_id=reply.pk)

    assert race(action) == []
    note.refresh_from_db()
    top.refresh_from_db()
    visible = Comment.objects.filter(note=note, status=Comment.Status.VISIBLE)
    assert note.comment_count == visible.count()
    assert top.reply_count == visible.filter(parent=top).count() == WORKERS // 2


def test_counters_never_negative():
    note = NoteFactory()
    Note.objects.filter(pk=note.pk).update(like_count=0)
    user = UserFactory()
    assert race(lambda n: services.like_remove(user=user, note_id=note.pk)) == []
    note.refresh_from_db()
    assert note.like_count == 0
