from __future__ import annotations

from typing import Any

import pytest

from grassroots.accounts.models import AuditLog
from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.core.errors import NotFound, PermissionDenied, RateLimited, ValidationFailed
from grassroots.merchants.models import Merchant
from grassroots.merchants.tests.factories import MerchantFactory, MerchantMemberFactory
from grassroots.notifications.models import Notification, NotificationKind
from grassroots.shops.models import Shop
from grassroots.shops.tests.factories import ShopFactory
from grassroots.social import selectors, services
from grassroots.social.models import Block, Follow, FollowCounter, Mute
from grassroots.social.tests.factories import BlockFactory, MuteFactory, follow

pytestmark = pytest.mark.django_db


def counts(kind: str, target_id: int) -> tuple[int, int]:
    c = selectors.social_counts(kind=kind, target_id=target_id)
    return c.followers, c.following


def assert_counters_match_rows() -> None:
    """Every counter equals the rows it counts."""
    for counter in FollowCounter.objects.all():
        followers = Follow.objects.filter(target_kind=counter.target_kind, target_id=counter.target_id).count()
        assert counter.followers == followers, counter
        if counter.target_kind == "user":
            assert counter.following == Follow.objects.filter(follower_id=counter.target_id).count(), counter


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    from grassroots.feeds import services as feeds

    for name in ("feed_follow_added", "feed_follow_removed", "feed_block_added"):
        monkeypatch.setattr(feeds, name, lambda _n=name, **kw: calls.append((_n, kw)))
    return calls


# --- follow ------------------------------------------------------------------------------------


def test_following_a_member_counts_both_sides_notifies_and_feeds_after_commit(
    hooks, django_capture_on_commit_callbacks
):
    fan, star = UserFactory(), UserFactory()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = follow(fan, star)

    assert (outcome.following, outcome.changed, outcome.followers) == (True, True, 1)
    assert counts("user", star.pk) == (1, 0)
    assert counts("user", fan.pk) == (0, 1)
    assert hooks == [("feed_follow_added", {"follower_id": fan.pk, "target_kind": "user", "target_id": star.pk})]
    note = Notification.objects.get(recipient=star)
    assert (note.kind, note.actor_id, note.dedupe_key) == (
        NotificationKind.FOLLOW,
        fan.pk,
        f"follow:{fan.pk}:user:{star.pk}",
    )
    assert note.target_url == f"/u/{fan.handle}/"


def test_following_twice_is_not_an_error_and_counts_once(hooks, django_capture_on_commit_callbacks):
    fan, star = UserFactory(), UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        follow(fan, star)
        again = follow(fan, star)

    assert (again.following, again.changed, again.followers) == (True, False, 1)
    assert Follow.objects.count() == 1
    assert counts("user", star.pk) == (1, 0)
    assert len(hooks) == 1
    assert Notification.objects.filter(recipient=star).count() == 1


def test_unfollow_uncounts_and_repeating_it_is_harmless(hooks, django_capture_on_commit_callbacks):
    fan, star = UserFactory(), UserFactory()
    follow(fan, star)

    with django_capture_on_commit_callbacks(execute=True):
        first = services.follow_remove(follower=fan, kind="user", target_id=star.pk)
        second = services.follow_remove(follower=fan, kind="user", target_id=star.pk)

    assert (first.following, first.changed, first.followers) == (False, True, 0)
    assert (second.changed, second.followers) == (False, 0)
    assert counts("user", star.pk) == (0, 0) and counts("user", fan.pk) == (0, 0)
    assert hooks == [("feed_follow_removed", {"follower_id": fan.pk, "target_kind": "user", "target_id": star.pk})]
    assert Follow.objects.count() == 0


def test_refollowing_after_unfollow_does_not_notify_twice(django_capture_on_commit_callbacks):
    fan, star = UserFactory(), UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        follow(fan, star)
        services.follow_remove(follower=fan, kind="user", target_id=star.pk)
        follow(fan, star)
    assert Notification.objects.filter(recipient=star, kind=NotificationKind.FOLLOW).count() == 1
    assert counts("user", star.pk) == (1, 0)


def test_following_a_shop_notifies_its_owner(django_capture_on_commit_callbacks):
    fan, shop = UserFactory(), ShopFactory()
    with django_capture_on_commit_callbacks(execute=True):
        outcome = follow(fan, shop, "shop")
    assert outcome.followers == 1
    assert counts("shop", shop.pk) == (1, 0)
    assert counts("user", fan.pk) == (0, 1)
    note = Notification.objects.get(recipient=shop.owner)
    assert note.data["target_kind"] == "shop" and note.data["target_name"] == shop.name


def test_following_a_brand_notifies_its_owners_not_staff(django_capture_on_commit_callbacks):
    fan, merchant = UserFactory(), MerchantFactory()
    staff = MerchantMemberFactory(merchant=merchant).user
    with django_capture_on_commit_callbacks(execute=True):
        follow(fan, merchant, "merchant")
    assert counts("merchant", merchant.pk) == (1, 0)
    assert list(Notification.objects.values_list("recipient_id", flat=True)) == [merchant.owner.pk]
    assert not Notification.objects.filter(recipient=staff).exists()


@pytest.mark.parametrize("kind", ["user", "shop", "merchant"])
def test_following_yourself_your_shop_or_your_brand_is_refused(kind):
    user = UserFactory()
    target: Any = user
    if kind == "shop":
        target = ShopFactory(owner=user)
    elif kind == "merchant":
        target = MerchantFactory()
        MerchantMemberFactory(merchant=target, user=user)
    with pytest.raises(ValidationFailed) as error:
        follow(user, target, kind)
    assert error.value.code == "cannot_follow_self" and error.value.status == 422
    assert Follow.objects.count() == 0 and FollowCounter.objects.count() == 0


def test_unfollowable_targets_are_not_found():
    fan = UserFactory()
    gone = UserFactory(is_active=False)
    paused = ShopFactory(status=Shop.Status.PAUSED)
    pending = MerchantFactory(status=Merchant.Status.APPLIED)
    cases = [("user", 999_999), ("user", gone.pk), ("shop", paused.pk), ("shop", 999_999), ("merchant", pending.pk)]
    for kind, target_id in cases:
        with pytest.raises(NotFound) as error:
            services.follow_add(follower=fan, kind=kind, target_id=target_id)
        assert error.value.code == "not_found"
    with pytest.raises(ValidationFailed) as bad_kind:
        services.follow_add(follower=fan, kind="planet", target_id=1)
    assert bad_kind.value.code == "invalid_kind"
    assert Follow.objects.count() == 0 and FollowCounter.objects.count() == 0


def test_a_shop_whose_owner_is_suspended_cannot_be_followed():
    shop = ShopFactory()
    shop.owner.is_active = False
    shop.owner.save()
    with pytest.raises(NotFound):
        follow(UserFactory(), shop, "shop")


@pytest.mark.parametrize("direction", ["viewer_blocked", "blocked_viewer"])
def test_no_follow_across_a_block_either_way(direction):
    fan, star = UserFactory(), UserFactory()
    shop = ShopFactory(owner=star)
    if direction == "viewer_blocked":
        BlockFactory(blocker=fan, blocked=star)
    else:
        BlockFactory(blocker=star, blocked=fan)
    for target, kind in ((star, "user"), (shop, "shop")):
        with pytest.raises(PermissionDenied) as error:
            follow(fan, target, kind)
        assert error.value.code == "blocked" and error.value.status == 403
    assert Follow.objects.count() == 0


def test_inactive_or_anonymous_followers_are_refused():
    from django.contrib.auth.models import AnonymousUser

    star = UserFactory()
    for actor in (AnonymousUser(), UserFactory(is_active=False)):
        with pytest.raises(PermissionDenied):
            follow(actor, star)


def test_follows_are_rate_limited_but_repeats_are_free(settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "FOLLOWS_PER_HOUR": 2}
    fan = UserFactory()
    stars = [UserFactory() for _ in range(3)]
    follow(fan, stars[0])
    follow(fan, stars[0])  # already following: not counted
    follow(fan, stars[1])
    with pytest.raises(RateLimited) as error:
        follow(fan, stars[2])
    assert error.value.status == 429 and error.value.retry_after > 0
    assert Follow.objects.count() == 2
    assert counts("user", fan.pk) == (0, 2)


# --- block and mute ----------------------------------------------------------------------------


def test_blocking_ends_follows_both_ways_including_shops_with_exact_counters(hooks, django_capture_on_commit_callbacks):
    me, other, bystander = UserFactory(), UserFactory(), UserFactory()
    my_shop, their_shop = ShopFactory(owner=me), ShopFactory(owner=other)
    follow(me, other)
    follow(me, their_shop, "shop")
    follow(other, me)
    follow(other, my_shop, "shop")
    follow(bystander, other)
    follow(bystander, their_shop, "shop")

    with django_capture_on_commit_callbacks(execute=True):
        assert services.block_add(blocker=me, blocked_id=other.pk) is True

    assert Block.objects.filter(blocker=me, blocked=other).exists()
    assert set(Follow.objects.values_list("follower_id", "target_kind", "target_id")) == {
        (bystander.pk, "user", other.pk),
        (bystander.pk, "shop", their_shop.pk),
    }
    assert counts("user", other.pk) == (1, 0)
    assert counts("shop", their_shop.pk) == (1, 0)
    assert counts("user", me.pk) == (0, 0)
    assert counts("shop", my_shop.pk) == (0, 0)
    assert_counters_match_rows()
    assert ("feed_block_added", {"blocker_id": me.pk, "blocked_id": other.pk}) in hooks
    assert sum(1 for name, _kw in hooks if name == "feed_follow_removed") == 4
    assert selectors.social_blocked_between(user_id=other.pk, other_id=me.pk)


def test_blocking_twice_is_harmless_and_unblocking_does_not_restore_follows():
    me, other = UserFactory(), UserFactory()
    follow(other, me)
    assert services.block_add(blocker=me, blocked_id=other.pk) is True
    assert services.block_add(blocker=me, blocked_id=other.pk) is False
    assert Block.objects.count() == 1
    assert services.block_remove(blocker=me, blocked_id=other.pk) is True
    assert services.block_remove(blocker=me, blocked_id=other.pk) is False
    assert Follow.objects.count() == 0
    follow(other, me)  # allowed again
    assert counts("user", me.pk) == (1, 0)


def test_block_and_mute_bad_input():
    me = UserFactory()
    with pytest.raises(ValidationFailed) as self_block:
        services.block_add(blocker=me, blocked_id=me.pk)
    assert self_block.value.code == "cannot_block_self"
    with pytest.raises(NotFound):
        services.block_add(blocker=me, blocked_id=999_999)
    with pytest.raises(ValidationFailed) as self_mute:
        services.mute_add(muter=me, muted_id=me.pk)
    assert self_mute.value.code == "cannot_mute_self"
    with pytest.raises(NotFound):
        services.mute_add(muter=me, muted_id=999_999)
    assert Block.objects.count() == 0 and Mute.objects.count() == 0


def test_muting_hides_without_unfollowing():
    me, other = UserFactory(), UserFactory()
    follow(me, other)
    assert services.mute_add(muter=me, muted_id=other.pk) is True
    assert services.mute_add(muter=me, muted_id=other.pk) is False
    assert selectors.social_hidden_author_ids(viewer_id=me.pk) == {other.pk}
    assert selectors.social_hidden_author_ids(viewer_id=other.pk) == set()
    assert selectors.social_is_following(follower_id=me.pk, kind="user", target_id=other.pk)
    assert services.mute_remove(muter=me, muted_id=other.pk) is True
    assert selectors.social_hidden_author_ids(viewer_id=me.pk) == set()


# --- moderation ---------------------------------------------------------------------------------


def test_suspending_a_member_deactivates_and_audits_and_restore_reverses(django_capture_on_commit_callbacks):
    curator, member = CuratorFactory(), UserFactory()

    suspended = services.user_moderate(user_id=member.pk, action="suspend", reason="Spam links", moderator=curator)

    assert suspended.is_active is False
    member.refresh_from_db()
    assert member.is_active is False
    log = AuditLog.objects.get(action=services.USER_SUSPENDED)
    assert (log.user_id, log.detail) == (member.pk, {"reason": "Spam links", "moderator_id": curator.pk})
    assert not Notification.objects.filter(recipient=member).exists()
    with pytest.raises(NotFound):
        selectors.social_user_by_handle(handle=member.handle)

    with django_capture_on_commit_callbacks(execute=True):
        services.user_moderate(user_id=member.pk, action="restore", reason="Appeal accepted", moderator=curator)
    member.refresh_from_db()
    assert member.is_active is True
    assert AuditLog.objects.filter(action=services.USER_RESTORED, user=member).count() == 1
    note = Notification.objects.get(recipient=member)
    assert (note.kind, note.data["reason"]) == (NotificationKind.MODERATION, "Appeal accepted")


def test_user_moderation_bad_input():
    curator, member = CuratorFactory(), UserFactory()
    with pytest.raises(PermissionDenied):
        services.user_moderate(user_id=member.pk, action="suspend", reason="x", moderator=UserFactory())
    with pytest.raises(ValidationFailed) as no_reason:
        services.user_moderate(user_id=member.pk, action="suspend", reason="  ", moderator=curator)
    assert no_reason.value.code == "reason_required"
    with pytest.raises(ValidationFailed):
        services.user_moderate(user_id=member.pk, action="ban", reason="x", moderator=curator)
    with pytest.raises(ValidationFailed):
        services.user_moderate(user_id=curator.pk, action="suspend", reason="x", moderator=curator)
    with pytest.raises(NotFound):
        services.user_moderate(user_id=999_999, action="suspend", reason="x", moderator=curator)
    member.refresh_from_db()
    assert member.is_active is True
    assert not AuditLog.objects.filter(action=services.USER_SUSPENDED).exists()


# --- selectors ----------------------------------------------------------------------------------


def test_follow_state_for_many_targets_is_one_query(django_assert_num_queries):
    me = UserFactory()
    people = [UserFactory() for _ in range(3)]
    shop, merchant = ShopFactory(), MerchantFactory()
    follow(me, people[0])
    follow(me, shop, "shop")
    targets = [("user", p.pk) for p in people] + [("shop", shop.pk), ("merchant", merchant.pk)]

    with django_assert_num_queries(1):
        state = selectors.social_follow_state(viewer_id=me.pk, targets=targets)

    assert state == {
        ("user", people[0].pk): True,
        ("user", people[1].pk): False,
        ("user", people[2].pk): False,
        ("shop", shop.pk): True,
        ("merchant", merchant.pk): False,
    }
    with django_assert_num_queries(0):
        assert selectors.social_follow_state(viewer_id=None, targets=targets[:1]) == {targets[0]: False}


def test_relation_and_counts_are_one_query_each(django_assert_num_queries):
    me, other = UserFactory(), UserFactory()
    BlockFactory(blocker=other, blocked=me)
    MuteFactory(muter=me, muted=other)
    with django_assert_num_queries(1):
        relation = selectors.social_relation(viewer_id=me.pk, other_id=other.pk)
    assert (relation.blocking, relation.blocked_by, relation.muting) == (False, True, True)
    with django_assert_num_queries(1):
        assert selectors.social_counts(kind="user", target_id=other.pk).followers == 0


def test_following_list_resolves_kinds_and_hides_blocked_people_and_their_shops():
    me, friend, blocked, viewer = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    blocked_shop, shop, merchant = ShopFactory(owner=blocked), ShopFactory(), MerchantFactory()
    for target, kind in (
        (friend, "user"),
        (blocked, "user"),
        (blocked_shop, "shop"),
        (shop, "shop"),
        (merchant, "merchant"),
    ):
        follow(me, target, kind)
    BlockFactory(blocker=viewer, blocked=blocked)

    entries, cursor = selectors.social_following_page(user_id=me.pk, viewer_id=viewer.pk, cursor=None, limit=10)

    assert cursor is None
    assert [(e.kind, e.target_id) for e in entries] == [
        ("merchant", merchant.pk),
        ("shop", shop.pk),
        ("user", friend.pk),
    ]
    assert entries[0].url == f"/brands/{merchant.slug}/"
    everyone, _c = selectors.social_following_page(user_id=me.pk, viewer_id=None, cursor=None, limit=10)
    assert len(everyone) == 5
    shops_only, _c = selectors.social_following_page(user_id=me.pk, viewer_id=None, cursor=None, limit=10, kind="shop")
    assert {e.target_id for e in shops_only} == {shop.pk, blocked_shop.pk}
