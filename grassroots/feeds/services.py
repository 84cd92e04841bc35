"""Home-feed maintenance hooks, called by the social and notes services.

Fan-out on write into each follower's timeline, except for authors above
FEED_FANOUT_ON_READ_THRESHOLD followers, whose notes are merged in when the feed is read.
"""

from __future__ import annotations


def feed_note_published(*, note_id: int) -> None:
    """A note became visible: push it to its followers' timelines (or leave it to read-time merge)."""


def feed_note_withdrawn(*, note_id: int) -> None:
    """A note was deleted, hidden or removed: drop it from timelines."""


def feed_follow_added(*, follower_id: int, target_kind: str, target_id: int) -> None:
    """Backfill the follower's timeline with the target's recent notes."""


def feed_follow_removed(*, follower_id: int, target_kind: str, target_id: int) -> None:
    """Drop the target's notes from the follower's timeline (unless still followed another way)."""


def feed_block_added(*, blocker_id: int, blocked_id: int) -> None:
    """Drop each one's notes from the other's timeline."""
