"""Creating notifications. Every app calls `notification_send`; it respects preferences, blocks and
mutes, never notifies people about themselves, and collapses repeats by `dedupe_key`."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from grassroots.notifications.models import Notification, NotificationKind, NotificationPreference
from grassroots.social.selectors import social_hidden_author_ids


def notification_send(
    *,
    recipient_id: int,
    kind: NotificationKind | str,
    actor_id: int | None = None,
    target_url: str = "",
    data: dict[str, Any] | None = None,
    dedupe_key: str = "",
) -> Notification | None:
    """Record one notification; None when it is not wanted (own action, switched off, blocked or
    muted actor, or a repeat of the same dedupe_key)."""
    if actor_id is not None and actor_id == recipient_id:
        return None
    if NotificationPreference.objects.filter(user_id=recipient_id, kind=kind, enabled=False).exists():
        return None
    if actor_id is not None and actor_id in social_hidden_author_ids(viewer_id=recipient_id):
        return None
    try:
        with transaction.atomic():
            return Notification.objects.create(
                recipient_id=recipient_id,
                kind=kind,
                actor_id=actor_id,
                target_url=target_url,
                data=data or {},
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        return None  # the same dedupe_key was already recorded
