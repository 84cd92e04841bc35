"""Property test of the home feed: after every step of a random sequence of follows, unfollows,
blocks, mutes, posts and deletes, every member's feed (all pages walked) equals the visible notes of
the sources they follow, minus blocked and muted authors, newest first, without duplicates, with
fan-out on write (high threshold) and fan-out on read (threshold 1), on each timeline backend.
The pages are read with their cards through the card cache, so edits and hides must show too."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.db.models import Q
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.core.errors import ServiceError
from grassroots.feeds.selectors import home_feed
from grassroots.feeds.tests.factories import (
    BACKENDS,
    clear_cards,
    clear_redis,
    delete,
    feed_settings,
    hooks,
    post,
    run,
    use_memory_cache_without_redis,
)
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.notes.models import Note
from grassroots.notes.services import note_moderate, note_update
from grassroots.shops.tests.factories import ShopFactory
from grassroots.social.models import Block, Follow, Mute
from grassroots.social.services import block_add, follow_add, follow_remove, mute_add

USERS = 3
# Sources: the three people, the shop of person 1, the brand of person 2.

# (action, a, b): drawn as integers so generated sequences mix actions evenly; follows and posts are
# the most frequent, so feeds fill up and the other actions have something to act on.
ACTIONS = ["follow", "follow", "follow", "post", "post", "post", "unfollow", "delete", "block", "mute", "edit", "hide"]
op = st.tuples(st.integers(0, len(ACTIONS) - 1), st.integers(0, 11), st.integers(0, 11))


def _expected(viewer_id: int) -> list[tuple[int, str]]:
    follows = list(Follow.objects.filter(follower_id=viewer_id).values_list("target_kind", "target_id"))
    from grassroots.shops.models import Shop

    users = {t for k, t in follows if k == "user"}
    users |= set(Shop.objects.filter(pk__in=[t for k, t in follows if k == "shop"]).values_list("owner_id", flat=True))
    merchants = {t for k, t in follows if k == "merchant"}
    hidden = set(Block.objects.filter(blocker_id=viewer_id).values_list("blocked_id", flat=True))
    hidden |= set(Block.objects.filter(blocked_id=viewer_id).values_list("blocker_id", flat=True))
    hidden |= set(Mute.objects.filter(muter_id=viewer_id).values_list("muted_id", flat=True))
    notes = (
        Note.objects.filter(status=Note.Status.PUBLISHED, moderation=Note.Moderation.VISIBLE)
        .filter(Q(author_id__in=users) | Q(merchant_id__in=merchants))
        .exclude(author_id__in=hidden)
        .order_by("-published_at", "-id")
    )
    return list(notes.values_list("id", "title"))


def _feed(viewer: Any) -> list[tuple[int, str]]:
    cards: list[tuple[int, str]] = []
    cursor = None
    for _ in range(200):
        page = home_feed(viewer=viewer, cursor=cursor, limit=3)
        cards += [(note.pk, note.title) for note in page.notes]
        cursor = page.next_cursor
        if cursor is None:
            return cards
    raise AssertionError("the feed did not end")


def _play(ops: list[tuple[Any, ...]]) -> None:
    clear_redis()
    clear_cards()
    users = [UserFactory() for _ in range(USERS)]
    shop = ShopFactory(owner=users[1])
    brand = MerchantFactory(owner=users[2])
    targets = [("user", u.pk) for u in users] + [("shop", shop.pk), ("merchant", brand.pk)]
    curator = CuratorFactory()
    notes: list[Note] = []
    for step in ops:
        name, a, b = ACTIONS[step[0]], step[1] % USERS, step[2]
        try:
            if name == "follow":
                kind, target_id = targets[b % len(targets)]
                run(follow_add, follower=users[a], kind=kind, target_id=target_id)
            elif name == "unfollow":
                # One of the member's current follows, so unfollows do not mostly miss.
                current = list(
                    Follow.objects.filter(follower_id=users[a].pk)
                    .order_by("pk")
                    .values_list("target_kind", "target_id")
                )
                if current:
                    kind, target_id = current[b % len(current)]
                    run(follow_remove, follower=users[a], kind=kind, target_id=target_id)
            elif name == "block" and a != b % USERS:
                run(block_add, blocker=users[a], blocked_id=users[b % USERS].pk)
            elif name == "mute" and a != b % USERS:
                run(mute_add, muter=users[a], muted_id=users[b % USERS].pk)
            elif name == "post":
                brand_note = b % 2 == 1 and a == 2
                notes.append(post(users[a], f"n{len(notes)}", merchant_id=brand.pk if brand_note else None))
            elif name == "delete" and notes:
                note = notes.pop(b % len(notes))
                delete(note)
            elif name == "edit" and notes:
                note = notes[b % len(notes)]
                run(note_update, user=note.author, note_id=note.pk, title=f"{note.title}+")
                note.title += "+"
            elif name == "hide" and notes:
                note = notes.pop(b % len(notes))
                with hooks():
                    note_moderate(note_id=note.pk, action="hide", reason="Spam", moderator=curator)
        except ServiceError:
            pass  # following yourself or someone who blocked you: refused, nothing changes
        for user in users:
            feed = _feed(user)
            assert len(feed) == len(set(feed)), (step, feed)
            assert feed == _expected(user.pk), (step, user.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("threshold", [10_000, 1], ids=["fan-out-on-write", "fan-out-on-read"])
def test_home_feed_equals_followed_visible_notes(settings, backend, threshold):  # type: ignore[no-untyped-def]
    feed_settings(
        settings,
        FEED_BACKEND=backend,
        FEED_FANOUT_ON_READ_THRESHOLD=threshold,
        FEED_TIMELINE_CAP=800,
        FEED_CARD_CACHE="on",
    )
    use_memory_cache_without_redis(settings)

    @hsettings(
        max_examples=50,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(ops=st.lists(op, min_size=4, max_size=16))
    def check(ops: list[tuple[Any, ...]]) -> None:
        with transaction.atomic():
            try:
                _play(ops)
            finally:
                transaction.set_rollback(True)

    try:
        check()
    finally:
        clear_redis()
