"""Notifications API: the list (cursor pages), the unread count, mark read, preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Body, Field, Router, Schema

from grassroots.core.api_schemas import Id, error_responses
from grassroots.notifications import selectors, services
from grassroots.notifications.models import Notification
from grassroots.notifications.services import MARK_READ_MAX_IDS

router = Router(tags=["notifications"])


def _me(request: HttpRequest) -> int:
    """The signed-in member's id (every route here requires sign-in)."""
    return int(request.user.pk or 0)


ERRORS = error_responses(400, 404, 422)


class ActorOut(Schema):
    id: int
    handle: str | None
    display_name: str


class NotificationOut(Schema):
    id: int
    kind: str
    text: str
    actor: ActorOut | None
    target_url: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None
    unread: bool


class NotificationPage(Schema):
    items: list[NotificationOut]
    next_cursor: str | None


class UnreadOut(Schema):
    unread: int


class MarkReadIn(Schema):
    ids: list[Id] = Field(default_factory=list, max_length=MARK_READ_MAX_IDS)
    all: bool = False


class MarkReadOut(Schema):
    marked: int
    unread: int


class PreferenceOut(Schema):
    kind: str
    label: str
    enabled: bool


class PreferencesOut(Schema):
    items: list[PreferenceOut]


def _out(notification: Notification) -> dict[str, Any]:
    actor = notification.actor
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "text": selectors.notification_text(notification),
        "actor": {"id": actor.pk, "handle": actor.handle, "display_name": str(actor)} if actor else None,
        "target_url": notification.target_url,
        "data": notification.data if isinstance(notification.data, dict) else {},
        "created_at": notification.created_at,
        "read_at": notification.read_at,
        "unread": notification.read_at is None,
    }


def _preferences(user_id: int) -> dict[str, Any]:
    rows = selectors.notification_preference_rows(user_id=user_id)
    return {"items": [{"kind": r.kind, "label": r.label, "enabled": r.enabled} for r in rows]}


@router.get("/", response={200: NotificationPage, **ERRORS}, summary="My notifications, newest first")
def notifications_list(request: HttpRequest, cursor: str | None = None, limit: int = 20, unread: bool = False) -> Any:
    items, next_cursor = selectors.notifications_page(
        user_id=_me(request), cursor=cursor, limit=limit, unread_only=unread
    )
    return {"items": [_out(n) for n in items], "next_cursor": next_cursor}


@router.get("/unread-count", response={200: UnreadOut}, summary="How many notifications are unread")
def unread_count(request: HttpRequest) -> Any:
    return {"unread": selectors.notifications_unread_count(user_id=_me(request))}


@router.post("/read", response={200: MarkReadOut, **ERRORS}, summary="Mark some (ids) or all notifications read")
def mark_read(request: HttpRequest, payload: MarkReadIn) -> Any:
    marked = services.notifications_mark_read(user=request.user, ids=payload.ids, all=payload.all)
    return {"marked": marked, "unread": selectors.notifications_unread_count(user_id=_me(request))}


@router.get("/preferences", response={200: PreferencesOut}, summary="Which kinds I am notified about")
def preferences_get(request: HttpRequest) -> Any:
    return _preferences(_me(request))


@router.put(
    "/preferences",
    response={200: PreferencesOut, **ERRORS},
    summary="Switch kinds on or off: {kind: true|false}; kinds not named keep their setting",
)
def preferences_put(request: HttpRequest, payload: dict[str, bool] = Body(...)) -> Any:  # noqa: B008
    services.notification_preferences_set(user=request.user, preferences=payload)
    return _preferences(_me(request))
