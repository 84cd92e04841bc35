"""Writes to the social graph: follow and unfollow people, shops and brands; block and mute; suspend
and restore members.

Counters are exact: a Follow row and the two FollowCounter rows it counts (the target's followers,
the follower's following) change in one transaction, and only when the row was really inserted or
deleted. Counter rows are always updated in (kind, id) order so two transactions that touch the same
pair of rows cannot deadlock. Feed hooks and notifications run after the commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils.translation import gettext as _

from grassroots.accounts.models import User
from grassroots.accounts.services import audit_log_record
from grassroots.core.conf import gr_setting
from grassroots.core.errors import NotFound, PermissionDenied, ValidationFailed
from grassroots.core.ratelimit import rate_limit_hit
from grassroots.merchants.models import Merchant, MerchantMember
from grassroots.shops.models import Shop
from grassroots.social.models import Block, Follow, FollowCounter, FollowTarget, Mute
from grassroots.social.selectors import social_blocked_between

RATE_WINDOW_SECONDS = 3600
MODERATION_REASON_MAX_LENGTH = 500
USER_SUSPENDED = "user_suspended"
USER_RESTORED = "user_restored"


@dataclass(frozen=True)
class FollowTargetInfo:
    """A followable target: who stands behind it (for self and block checks, and notifications)."""

    kind: str
    target_id: int
    name: str
    url: str
    # The person behind a user or shop target; None for a brand.
    person_id: int | None
    # Who is told about a new follower: the person, or a brand's owners.
    recipient_ids: tuple[int, ...]
    # Members who count as "yourself" for this target (the person, or everyone in the brand).
    self_ids: frozenset[int]


@dataclass(frozen=True)
class FollowOutcome:
    kind: str
    target_id: int
    following: bool
    changed: bool
    followers: int


# --- helpers -------------------------------------------------------------------------------------


def _check_kind(kind: str) -> str:
    if kind not in FollowTarget.values:
        raise ValidationFailed(
            _("You can follow a person, a shop or a brand."), code="invalid_kind", fields={"kind": "invalid"}
        )
    return kind


def _check_actor(user: Any) -> User:
    if not isinstance(user, User) or not user.is_active:
        raise PermissionDenied(_("Sign in to do this."), code="unauthenticated")
    return user


def follow_target_resolve(*, kind: str, target_id: int) -> FollowTargetInfo:
    """The target if it exists and may be followed now (an active member, an active shop whose owner
    is active, a verified brand); NotFound otherwise."""
    _check_kind(kind)
    if kind == FollowTarget.USER:
        user = User.objects.filter(pk=target_id, is_active=True).only("id", "display_name", "handle").first()
        if user is not None:
            url = reverse("social:profile", kwargs={"handle": user.handle}) if user.handle else ""
            return FollowTargetInfo(kind, user.pk, user.display_name, url, user.pk, (user.pk,), frozenset({user.pk}))
        raise NotFound(_("Member not found."), code="not_found")
    if kind == FollowTarget.SHOP:
        shop = (
            Shop.objects.filter(pk=target_id, status=Shop.Status.ACTIVE, owner__is_active=True)
            .only("id", "name", "slug", "owner_id")
            .first()
        )
        if shop is not None:
            url = reverse("shops:detail", kwargs={"slug": shop.slug})
            owner = shop.owner_id
            return FollowTargetInfo(kind, shop.pk, shop.name, url, owner, (owner,), frozenset({owner}))
        raise NotFound(_("Shop not found."), code="not_found")
    merchant = Merchant.objects.filter(pk=target_id, status=Merchant.Status.VERIFIED).only("id", "name", "slug").first()
    if merchant is None:
        raise NotFound(_("Brand not found."), code="not_found")
    members = list(MerchantMember.objects.filter(merchant_id=merchant.pk).values_list("user_id", "role"))
    owners = tuple(sorted(user_id for user_id, role in members if role == MerchantMember.Role.OWNER))
    url = reverse("social:brand", kwargs={"slug": merchant.slug})
    return FollowTargetInfo(
        kind, merchant.pk, merchant.name, url, None, owners, frozenset(user_id for user_id, _r in members)
    )


def _counters_change(changes: dict[tuple[str, int], dict[str, int]]) -> None:
    """Apply counter deltas {(kind, id): {"followers": +1, ...}}: create missing rows without racing
    (ON CONFLICT DO NOTHING), then F() updates in key order."""
    keys = sorted(changes)
    FollowCounter.objects.bulk_create(
        [FollowCounter(target_kind=kind, target_id=target_id) for kind, target_id in keys], ignore_conflicts=True
    )
    for kind, target_id in keys:
        deltas = {field: F(field) + delta for field, delta in changes[(kind, target_id)].items() if delta}
        if deltas:
            FollowCounter.objects.filter(target_kind=kind, target_id=target_id).update(**deltas)


def _follow_deltas(*, follower_id: int, kind: str, target_id: int, delta: int) -> dict[tuple[str, int], dict[str, int]]:
    return {
        (kind, target_id): {"followers": delta},
        (FollowTarget.USER.value, follower_id): {"following": delta},
    }


def _followers_count(kind: str, target_id: int) -> int:
    value = (
        FollowCounter.objects.filter(target_kind=kind, target_id=target_id).values_list("followers", flat=True).first()
    )
    return int(value or 0)


def _delete_follow(*, follower_id: int, kind: str, target_id: int) -> bool:
    """Delete one follow and its counts in the caller's transaction; False when there was none."""
    deleted, _detail = Follow.objects.filter(follower_id=follower_id, target_kind=kind, target_id=target_id).delete()
    if deleted:
        _counters_change(_follow_deltas(follower_id=follower_id, kind=kind, target_id=target_id, delta=-1))
    return bool(deleted)


def _after_commit_follow_removed(removed: Iterable[tuple[int, str, int]]) -> None:
    from grassroots.feeds.services import feed_follow_removed

    for follower_id, kind, target_id in removed:
        feed_follow_removed(follower_id=follower_id, target_kind=kind, target_id=target_id)


# --- follows -------------------------------------------------------------------------------------


def follow_add(*, follower: Any, kind: str, target_id: int) -> FollowOutcome:
    """Follow a person, a shop or a brand. Following again is not an error and changes nothing."""
    user = _check_actor(follower)
    target = follow_target_resolve(kind=kind, target_id=target_id)
    if user.pk in target.self_ids:
        raise ValidationFailed(_("You cannot follow yourself."), code="cannot_follow_self")
    if target.person_id is not None and social_blocked_between(user_id=user.pk, other_id=target.person_id):
        raise PermissionDenied(_("You cannot follow this member."), code="blocked")
    if Follow.objects.filter(follower_id=user.pk, target_kind=kind, target_id=target.target_id).exists():
        return FollowOutcome(kind, target.target_id, True, False, _followers_count(kind, target.target_id))
    rate_limit_hit(
        scope="follow",
        key=str(user.pk),
        limit=int(gr_setting("FOLLOWS_PER_HOUR")),
        window_seconds=RATE_WINDOW_SECONDS,
    )
    with transaction.atomic():
        _follow, created = Follow.objects.get_or_create(
            follower_id=user.pk, target_kind=kind, target_id=target.target_id
        )
        if created:
            _counters_change(_follow_deltas(follower_id=user.pk, kind=kind, target_id=target.target_id, delta=1))
            transaction.on_commit(lambda: _after_follow_added(user=user, target=target))
        followers = _followers_count(kind, target.target_id)
    return FollowOutcome(kind, target.target_id, True, created, followers)


def _after_follow_added(*, user: User, target: FollowTargetInfo) -> None:
    from grassroots.feeds.services import feed_follow_added
    from grassroots.notifications.models import NotificationKind
    from grassroots.notifications.services import notification_send

    feed_follow_added(follower_id=user.pk, target_kind=target.kind, target_id=target.target_id)
    actor_url = reverse("social:profile", kwargs={"handle": user.handle}) if user.handle else ""
    for recipient_id in target.recipient_ids:
        notification_send(
            recipient_id=recipient_id,
            kind=NotificationKind.FOLLOW,
            actor_id=user.pk,
            target_url=actor_url,
            data={
                "actor_name": user.display_name,
                "actor_handle": user.handle or "",
                "target_kind": target.kind,
                "target_id": target.target_id,
                "target_name": target.name,
            },
            dedupe_key=f"follow:{user.pk}:{target.kind}:{target.target_id}",
        )


def follow_remove(*, follower: Any, kind: str, target_id: int) -> FollowOutcome:
    """Stop following. Works even when the target is gone or suspended; unfollowing twice is fine."""
    user = _check_actor(follower)
    _check_kind(kind)
    with transaction.atomic():
        removed = _delete_follow(follower_id=user.pk, kind=kind, target_id=target_id)
        if removed:
            transaction.on_commit(lambda: _after_commit_follow_removed([(user.pk, kind, target_id)]))
        followers = _followers_count(kind, target_id)
    return FollowOutcome(kind, target_id, False, removed, followers)


# --- blocks and mutes ----------------------------------------------------------------------------


def _other_member(*, actor: User, other_id: int, self_code: str, self_message: str) -> User:
    if other_id == actor.pk:
        raise ValidationFailed(self_message, code=self_code)
    other = User.objects.filter(pk=other_id).only("id", "handle", "display_name").first()
    if other is None:
        raise NotFound(_("Member not found."), code="not_found")
    return other


def block_add(*, blocker: Any, blocked_id: int) -> bool:
    """Block a member: each disappears from the other's feeds, comments, mentions and messages, and
    follows end both ways (the person and their shop). True when the block is new."""
    user = _check_actor(blocker)
    other = _other_member(
        actor=user, other_id=blocked_id, self_code="cannot_block_self", self_message=_("You cannot block yourself.")
    )
    shops = dict(Shop.objects.filter(owner_id__in=[user.pk, other.pk]).values_list("owner_id", "id"))
    pairs: list[tuple[int, str, int]] = []  # (follower, kind, target) to end
    for follower_id, person_id in ((user.pk, other.pk), (other.pk, user.pk)):
        pairs.append((follower_id, FollowTarget.USER.value, person_id))
        if person_id in shops:
            pairs.append((follower_id, FollowTarget.SHOP.value, shops[person_id]))
    with transaction.atomic():
        _block, created = Block.objects.get_or_create(blocker_id=user.pk, blocked_id=other.pk)
        removed = [pair for pair in pairs if _delete_follow(follower_id=pair[0], kind=pair[1], target_id=pair[2])]
        if removed:
            transaction.on_commit(lambda: _after_commit_follow_removed(removed))
        if created:
            transaction.on_commit(lambda: _after_block_added(blocker_id=user.pk, blocked_id=other.pk))
    return created


def _after_block_added(*, blocker_id: int, blocked_id: int) -> None:
    from grassroots.feeds.services import feed_block_added

    feed_block_added(blocker_id=blocker_id, blocked_id=blocked_id)


def block_remove(*, blocker: Any, blocked_id: int) -> bool:
    """Unblock. Follows that the block ended are not restored. True when a block was removed."""
    user = _check_actor(blocker)
    deleted, _detail = Block.objects.filter(blocker_id=user.pk, blocked_id=blocked_id).delete()
    return bool(deleted)


def mute_add(*, muter: Any, muted_id: int) -> bool:
    """Hide a member's content from yourself only; they are not told. True when the mute is new."""
    user = _check_actor(muter)
    other = _other_member(
        actor=user, other_id=muted_id, self_code="cannot_mute_self", self_message=_("You cannot mute yourself.")
    )
    _mute, created = Mute.objects.get_or_create(muter_id=user.pk, muted_id=other.pk)
    return created


def mute_remove(*, muter: Any, muted_id: int) -> bool:
    user = _check_actor(muter)
    deleted, _detail = Mute.objects.filter(muter_id=user.pk, muted_id=muted_id).delete()
    return bool(deleted)


# --- moderation ----------------------------------------------------------------------------------


def user_moderate(*, user_id: int, action: str, reason: str, moderator: Any) -> User:
    """Suspend (the member can no longer sign in or use tokens, their profile is gone) or restore a
    member. The reason is kept in the audit log; a restored member is told why."""
    if not getattr(moderator, "is_curator", False):
        raise PermissionDenied(_("Only curators can moderate members."), code="forbidden")
    if action not in ("suspend", "restore"):
        raise ValidationFailed(_("Unknown moderation action."), code="invalid_action", fields={"action": "invalid"})
    reason = (reason or "").strip()
    if action == "suspend" and not reason:
        raise ValidationFailed(_("Give a reason."), code="reason_required", fields={"reason": "required"})
    if len(reason) > MODERATION_REASON_MAX_LENGTH:
        raise ValidationFailed(
            _("The reason is too long (at most %(n)s characters).") % {"n": MODERATION_REASON_MAX_LENGTH},
            fields={"reason": "too_long"},
        )
    if user_id == moderator.pk:
        raise ValidationFailed(_("You cannot moderate yourself."), code="cannot_moderate_self")
    with transaction.atomic():
        target = User.objects.select_for_update().filter(pk=user_id).first()
        if target is None:
            raise NotFound(_("Member not found."), code="not_found")
        if action == "suspend" and target.is_superuser:
            raise PermissionDenied(_("Administrators cannot be suspended here."), code="forbidden")
        active = action == "restore"
        changed = target.is_active != active
        if changed:
            User.objects.filter(pk=target.pk).update(is_active=active)
            target.is_active = active
            audit_log_record(
                action=USER_RESTORED if active else USER_SUSPENDED,
                user=target,
                detail={"reason": reason, "moderator_id": moderator.pk},
            )
            if active:
                transaction.on_commit(lambda: _after_user_restored(user=target, reason=reason))
    return target


def _after_user_restored(*, user: User, reason: str) -> None:
    from grassroots.notifications.models import NotificationKind
    from grassroots.notifications.services import notification_send

    notification_send(
        recipient_id=user.pk,
        kind=NotificationKind.MODERATION,
        target_url=reverse("social:profile", kwargs={"handle": user.handle}) if user.handle else "",
        data={"action": "restore", "subject": "user", "reason": reason},
    )


__all__ = [
    "FollowOutcome",
    "FollowTargetInfo",
    "block_add",
    "block_remove",
    "follow_add",
    "follow_remove",
    "follow_target_resolve",
    "mute_add",
    "mute_remove",
    "user_moderate",
]
