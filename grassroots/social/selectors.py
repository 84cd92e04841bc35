"""Reads of the social graph that every social app uses to respect blocks and mutes."""

from __future__ import annotations

from django.db.models import Q

from grassroots.social.models import Block, Follow, FollowTarget, Mute


def social_blocked_between(*, user_id: int | None, other_id: int) -> bool:
    """True when either of the two has blocked the other."""
    if user_id is None or user_id == other_id:
        return False
    return Block.objects.filter(
        Q(blocker_id=user_id, blocked_id=other_id) | Q(blocker_id=other_id, blocked_id=user_id)
    ).exists()


def social_hidden_author_ids(*, viewer_id: int | None) -> set[int]:
    """Authors whose content this viewer must not see: blocked either way, or muted by the viewer.
    One query."""
    if viewer_id is None:
        return set()
    blocked = Block.objects.filter(Q(blocker_id=viewer_id) | Q(blocked_id=viewer_id)).values_list(
        "blocker_id", "blocked_id"
    )
    muted = Mute.objects.filter(muter_id=viewer_id).values_list("muted_id", "muted_id")
    hidden = {a if b == viewer_id else b for a, b in blocked.union(muted, all=True)}
    hidden.discard(viewer_id)
    return hidden


def social_is_following(*, follower_id: int | None, kind: str, target_id: int) -> bool:
    if follower_id is None:
        return False
    return Follow.objects.filter(follower_id=follower_id, target_kind=kind, target_id=target_id).exists()


__all__ = ["FollowTarget", "social_blocked_between", "social_hidden_author_ids", "social_is_following"]
