"""Real parallel connections: follower and following counters equal the rows they count however
follows, unfollows and blocks interleave."""

from __future__ import annotations

import random

import pytest

from grassroots.accounts.tests.factories import UserFactory
from grassroots.core.tests.concurrency import WORKERS, race
from grassroots.shops.tests.factories import ShopFactory
from grassroots.social import services
from grassroots.social.models import Follow, FollowCounter

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]
ROUNDS = 12


def assert_counters_match_rows() -> None:
    for counter in FollowCounter.objects.all():
        rows = Follow.objects.filter(target_kind=counter.target_kind, target_id=counter.target_id).count()
        assert counter.followers == rows, (counter.target_kind, counter.target_id, counter.followers, rows)
        if counter.target_kind == "user":
            following = Follow.objects.filter(follower_id=counter.target_id).count()
            assert counter.following == following, (counter.target_id, counter.following, following)


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):  # type: ignore[no-untyped-def]
    settings.GRASSROOTS = {**settings.GRASSROOTS, "FOLLOWS_PER_HOUR": 10_000}


def test_the_same_follow_racing_with_itself_is_one_row_and_one_count():
    fan, star = UserFactory(), UserFactory()

    outcomes, errors = race(lambda n: services.follow_add(follower=fan, kind="user", target_id=star.pk))

    assert errors == [] and outcomes == ["ok"] * WORKERS
    assert Follow.objects.count() == 1
    assert FollowCounter.objects.get(target_kind="user", target_id=star.pk).followers == 1
    assert FollowCounter.objects.get(target_kind="user", target_id=fan.pk).following == 1


def test_many_fans_following_at_once_are_all_counted():
    star = UserFactory()
    fans = [UserFactory() for _ in range(WORKERS)]

    outcomes, errors = race(lambda n: services.follow_add(follower=fans[n], kind="user", target_id=star.pk))

    assert errors == [] and outcomes == ["ok"] * WORKERS
    assert FollowCounter.objects.get(target_kind="user", target_id=star.pk).followers == WORKERS
    assert_counters_match_rows()


def test_interleaved_follows_unfollows_and_mutual_follows_keep_counters_exact():
    star = UserFactory()
    shop = ShopFactory()
    fans = [UserFactory() for _ in range(WORKERS)]

    def churn(n: int) -> None:
        rng = random.Random(n)
        me = fans[n]
        targets = [("user", star.pk), ("shop", shop.pk), ("user", fans[(n + 1) % WORKERS].pk)]
        targets.append(("user", fans[(n - 1) % WORKERS].pk))  # neighbours follow each other both ways
        for _ in range(ROUNDS):
            kind, target_id = rng.choice(targets)
            if rng.random() < 0.6:
                services.follow_add(follower=me, kind=kind, target_id=target_id)
            else:
                services.follow_remove(follower=me, kind=kind, target_id=target_id)

    outcomes, errors = race(churn)

    assert errors == [], errors
    assert outcomes == ["ok"] * WORKERS
    assert_counters_match_rows()


def test_blocks_racing_with_follows_keep_counters_exact():
    star = UserFactory()
    shop = ShopFactory(owner=star)
    fans = [UserFactory() for _ in range(WORKERS)]
    for fan in fans:
        services.follow_add(follower=fan, kind="user", target_id=star.pk)

    def act(n: int) -> None:
        if n % 2 == 0:
            services.block_add(blocker=star, blocked_id=fans[n].pk)
        else:
            services.follow_add(follower=fans[n], kind="shop", target_id=shop.pk)
            services.follow_remove(follower=fans[n], kind="user", target_id=star.pk)

    outcomes, errors = race(act)

    assert errors == [], errors
    assert outcomes == ["ok"] * WORKERS
    assert_counters_match_rows()
    assert FollowCounter.objects.get(target_kind="user", target_id=star.pk).followers == 0
    assert FollowCounter.objects.get(target_kind="shop", target_id=shop.pk).followers == WORKERS // 2
