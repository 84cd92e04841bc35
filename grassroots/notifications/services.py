"""Creating and reading-off notifications. Every app calls `notification_send`; it respects
preferences, blocks and mutes, never notifies people about themselves, and collapses repeats by
`dedupe_key`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.core.errors import ValidationFailed
from grassroots.notifications.models import Notification, NotificationKind, NotificationPreference
from grassroots.notifications.selectors import ALWAYS_ON, notification_preferences, notifications_unread_forget
from grassroots.social.selectors import social_hidden_author_ids

MARK_READ_MAX_IDS = 100
DEDUPE_KEY_MAX = 120


def _forget_unread(user_id: int) -> None:
    """Drop the cached badge now (reads later in this transaction) and again after the commit
    (reads by others that raced with it)."""
    notifications_unread_forget(user_id=user_id)
    transaction.on_commit(partial(notifications_unread_forget, user_id=user_id))


def _dedupe_key(key: str) -> str:
    """Long keys are shortened to a stable digest so they still fit the column and still collide."""
    if len(key) <= DEDUPE_KEY_MAX:
        return key
    return key[:60] + ":" + hashlib.sha256(key.encode()).hexdigest()[:40]


def _unwanted(*, recipient_id: int, kind: str, actor_id: int | None) -> bool:
    """Switched off by the recipient, or the actor is blocked either way or muted by them."""
    if (
        kind not in ALWAYS_ON
        and NotificationPreference.objects.filter(user_id=recipient_id, kind=kind, enabled=False).exists()
    ):
        return True
    return actor_id is not None and actor_id in social_hidden_author_ids(viewer_id=recipient_id)


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
    kind = str(kind)
    if actor_id is not None and actor_id == recipient_id:
        return None
    if _unwanted(recipient_id=recipient_id, kind=kind, actor_id=actor_id):
        return None
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                recipient_id=recipient_id,
                kind=kind,
                actor_id=actor_id,
                target_url=target_url[:300],
                data=data or {},
                dedupe_key=_dedupe_key(dedupe_key),
            )
    except IntegrityError:
        return None  # the same dedupe_key was already recorded
    _forget_unread(recipient_id)
    return notification


def notifications_mark_read(*, user: Any, ids: Iterable[int] | None = None, all: bool = False) -> int:
    """Mark some (by id) or all of the member's own unread notifications read; ids of other
    members' notifications are ignored. Returns how many changed."""
    queryset = Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True)
    if not all:
        id_list = sorted({int(i) for i in ids or []})
        if not id_list:
            raise ValidationFailed(
                _("Choose notifications to mark as read."), code="nothing_selected", fields={"ids": "required"}
            )
        if len(id_list) > MARK_READ_MAX_IDS:
            raise ValidationFailed(
                _("At most %(max)s notifications at a time.") % {"max": MARK_READ_MAX_IDS},
                code="too_many",
                fields={"ids": "too_many"},
            )
        queryset = queryset.filter(pk__in=id_list)
    changed = queryset.update(read_at=timezone.now())
    if changed:
        _forget_unread(user.pk)
    return changed


def notification_open(*, user: Any, notification_id: int) -> Notification | None:
    """Mark one of the member's notifications read and return it (None when it is not theirs)."""
    notification = Notification.objects.filter(pk=notification_id, recipient_id=user.pk).first()
    if notification is None:
        return None
    if notification.read_at is None:
        notifications_mark_read(user=user, ids=[notification.pk])
    return notification


def notification_preferences_set(*, user: Any, preferences: Mapping[str, bool]) -> dict[str, bool]:
    """Switch kinds on or off (kinds not named keep their setting). Returns every switchable kind."""
    valid = {kind.value for kind in NotificationKind} - ALWAYS_ON
    unknown = sorted(set(preferences) - valid)
    if unknown:
        raise ValidationFailed(
            _("Unknown or fixed notification kind."),
            code="invalid_kind",
            fields=dict.fromkeys(unknown, "invalid"),
        )
    off = sorted(kind for kind, enabled in preferences.items() if not enabled)
    on = sorted(kind for kind, enabled in preferences.items() if enabled)
    with transaction.atomic():
        if on:  # absence of a row means on
            NotificationPreference.objects.filter(user_id=user.pk, kind__in=on).delete()
        if off:
            NotificationPreference.objects.bulk_create(
                [NotificationPreference(user_id=user.pk, kind=kind, enabled=False) for kind in off],
                update_conflicts=True,
                unique_fields=["user", "kind"],
                update_fields=["enabled"],
            )
    return notification_preferences(user_id=user.pk)


# --- events from other apps -----------------------------------------------------------------


def notify_order_shipped(*, order_id: int, buyer_id: int, carrier: str, tracking_number: str) -> Notification | None:
    """Tell the buyer their order is on its way (once per order). Call after the commit of the move."""
    return notification_send(
        recipient_id=buyer_id,
        kind=NotificationKind.ORDER_SHIPPED,
        target_url=reverse("orders:detail", args=[order_id]),
        data={"order": order_id, "carrier": carrier, "tracking": tracking_number},
        dedupe_key=f"order_shipped:{order_id}",
    )


@dataclass(frozen=True, slots=True)
class CommissionAvailable:
    shopkeeper_id: int
    amount: int  # minor units
    currency: str
    settlement_key: str  # unique per settlement and beneficiary, e.g. f"{batch_id}:{user_id}:{currency}"


def notify_commission_available(
    *, shopkeeper_id: int, amount: int, currency: str, settlement_key: str
) -> Notification | None:
    """Tell a shopkeeper that commission became available to withdraw (once per settlement_key)."""
    if amount <= 0:
        return None
    return notification_send(
        recipient_id=shopkeeper_id,
        kind=NotificationKind.COMMISSION_AVAILABLE,
        target_url=reverse("commissions:dashboard"),
        data={"amount": int(amount), "currency": currency},
        dedupe_key=f"commission_available:{settlement_key}",
    )


def notify_commission_available_many(*, items: Iterable[CommissionAvailable]) -> int:
    """The same for a whole settlement chunk in a fixed number of queries (prefs read once, rows
    inserted in one statement, repeats of a settlement_key ignored). Returns how many were sent."""
    wanted = [item for item in items if item.amount > 0]
    if not wanted:
        return 0
    kind = NotificationKind.COMMISSION_AVAILABLE.value
    off = set(
        NotificationPreference.objects.filter(
            user_id__in={item.shopkeeper_id for item in wanted}, kind=kind, enabled=False
        ).values_list("user_id", flat=True)
    )
    url = reverse("commissions:dashboard")
    rows = [
        Notification(
            recipient_id=item.shopkeeper_id,
            kind=kind,
            target_url=url,
            data={"amount": int(item.amount), "currency": item.currency},
            dedupe_key=_dedupe_key(f"commission_available:{item.settlement_key}"),
        )
        for item in wanted
        if item.shopkeeper_id not in off
    ]
    with transaction.atomic():
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
    for user_id in {row.recipient_id for row in rows}:
        _forget_unread(user_id)
    return len(rows)
