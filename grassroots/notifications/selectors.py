"""Reads of notifications: the unread badge, the notification centre, preferences, and the short
sentence each notification is shown as (rendered when read, in the reader's language)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from grassroots.core.money import format_minor
from grassroots.core.pagination import check_time_cursor, paginate
from grassroots.notifications.models import Notification, NotificationKind, NotificationPreference

# Members cannot switch these off: authors must always learn why their content was moderated.
ALWAYS_ON = frozenset({NotificationKind.MODERATION.value})
UNREAD_CACHE_SECONDS = 60
EXCERPT_LENGTH = 80


def _cache_enabled() -> bool:
    # The count is one index-only query; a cache only pays off when it is not the database itself.
    return "redis" in str(settings.CACHES.get("default", {}).get("BACKEND", "")).lower()


def _unread_key(user_id: int) -> str:
    return f"notif:unread:{user_id}"


def notifications_unread_count(*, user_id: int | None) -> int:
    """Unread notifications of a member, for the header badge. Reads the partial index
    `notification_unread`; cached briefly in Redis and forgotten whenever it changes."""
    if user_id is None:
        return 0
    if _cache_enabled():
        cached = cache.get(_unread_key(user_id))
        if cached is not None:
            return int(cached)
    count = Notification.objects.filter(recipient_id=user_id, read_at__isnull=True).count()
    if _cache_enabled():
        cache.set(_unread_key(user_id), count, timeout=UNREAD_CACHE_SECONDS)
    return count


def notifications_unread_forget(*, user_id: int) -> None:
    if _cache_enabled():
        cache.delete(_unread_key(user_id))


def notifications_for(*, user_id: int, unread_only: bool = False) -> QuerySet[Notification]:
    queryset = Notification.objects.filter(recipient_id=user_id).select_related("actor")
    if unread_only:
        queryset = queryset.filter(read_at__isnull=True)
    return queryset


def notifications_page(
    *, user_id: int, cursor: str | None = None, limit: int = 20, unread_only: bool = False
) -> tuple[list[Notification], str | None]:
    """Newest first, keyset-paginated; one query per page (actors joined)."""
    check_time_cursor(cursor)
    return paginate(
        notifications_for(user_id=user_id, unread_only=unread_only),
        cursor=cursor,
        limit=limit,
        order=("-created_at", "-id"),
    )


@dataclass(frozen=True)
class PreferenceRow:
    kind: str
    label: str
    enabled: bool


def switchable_kinds() -> list[tuple[str, str]]:
    return [(kind.value, str(kind.label)) for kind in NotificationKind if kind.value not in ALWAYS_ON]


def notification_preferences(*, user_id: int) -> dict[str, bool]:
    """Every kind a member can switch, on unless they switched it off."""
    off = set(NotificationPreference.objects.filter(user_id=user_id, enabled=False).values_list("kind", flat=True))
    return {kind: kind not in off for kind, _label in switchable_kinds()}


def notification_preference_rows(*, user_id: int) -> list[PreferenceRow]:
    prefs = notification_preferences(user_id=user_id)
    return [PreferenceRow(kind=kind, label=label, enabled=prefs[kind]) for kind, label in switchable_kinds()]


# --- the sentence -------------------------------------------------------------------------------


def _name(notification: Notification) -> str:
    actor = notification.actor
    if actor is None:
        return _("Someone")
    return actor.display_name or (f"@{actor.handle}" if actor.handle else _("Someone"))


def _excerpt(value: Any) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= EXCERPT_LENGTH else text[: EXCERPT_LENGTH - 1] + "…"


def _first(data: dict[str, Any], *keys: str) -> str:
    for key in keys:
        if data.get(key):
            return _excerpt(data[key])
    return ""


def _moderation_text(data: dict[str, Any]) -> str:
    what = str(data.get("object") or data.get("target") or data.get("content_type") or "")
    action = str(data.get("action") or data.get("status") or "")
    reason = _excerpt(data.get("reason")) or _("no reason given")
    sentences = {
        ("note", "hide"): _("Your note was hidden: %(reason)s"),
        ("note", "remove"): _("Your note was removed: %(reason)s"),
        ("note", "restore"): _("Your note was restored."),
        ("comment", "hide"): _("Your comment was hidden: %(reason)s"),
        ("comment", "remove"): _("Your comment was removed: %(reason)s"),
        ("comment", "restore"): _("Your comment was restored."),
        ("message", "hide"): _("Your message was hidden: %(reason)s"),
        ("message", "remove"): _("Your message was removed: %(reason)s"),
        ("message", "restore"): _("Your message was restored."),
        ("user", "suspend"): _("Your account was suspended: %(reason)s"),
        ("user", "restore"): _("Your account was restored."),
    }
    action = {"hidden": "hide", "removed": "remove", "visible": "restore", "suspended": "suspend"}.get(action, action)
    template = sentences.get((what, action)) or _("A moderator reviewed your content: %(reason)s")
    return template % {"reason": reason} if "%(reason)s" in template else template


def _report_outcome_text(data: dict[str, Any]) -> str:
    """What a reporter is told: the outcome only; the reason is for the author."""
    what = str(data.get("target_kind") or "")
    action = str(data.get("action") or "")
    if action in {"hide", "remove"}:
        sentences = {
            "note": _("Thanks for your report: the note you reported was taken down."),
            "comment": _("Thanks for your report: the comment you reported was taken down."),
            "message": _("Thanks for your report: the message you reported was taken down."),
        }
        return sentences.get(what, _("Thanks for your report: the content you reported was taken down."))
    if action == "suspend":
        return _("Thanks for your report: the account you reported was suspended.")
    return _("Thanks for your report: we reviewed it and found no breach of the rules.")


def notification_text(notification: Notification) -> str:
    """A short sentence for one notification, from its kind and data."""
    data = notification.data if isinstance(notification.data, dict) else {}
    actor = _name(notification)
    title = _first(data, "title", "note_title")
    excerpt = _first(data, "excerpt", "comment", "body", "preview")
    kind = notification.kind
    if kind == NotificationKind.FOLLOW:
        target = data.get("target_kind") or data.get("kind")
        if target == "shop":
            return _("%(actor)s followed your shop") % {"actor": actor}
        if target == "merchant":
            return _("%(actor)s followed your brand") % {"actor": actor}
        return _("%(actor)s followed you") % {"actor": actor}
    if kind == NotificationKind.LIKE:
        if data.get("comment_id") and not title:
            return _("%(actor)s liked your comment") % {"actor": actor}
        if title:
            return _("%(actor)s liked your note “%(title)s”") % {"actor": actor, "title": title}
        return _("%(actor)s liked your note") % {"actor": actor}
    if kind == NotificationKind.COMMENT:
        if excerpt:
            return _("%(actor)s commented on your note: %(excerpt)s") % {"actor": actor, "excerpt": excerpt}
        return _("%(actor)s commented on your note") % {"actor": actor}
    if kind == NotificationKind.REPLY:
        if excerpt:
            return _("%(actor)s replied to your comment: %(excerpt)s") % {"actor": actor, "excerpt": excerpt}
        return _("%(actor)s replied to your comment") % {"actor": actor}
    if kind == NotificationKind.MENTION:
        if title:
            return _("%(actor)s mentioned you in “%(title)s”") % {"actor": actor, "title": title}
        return _("%(actor)s mentioned you") % {"actor": actor}
    if kind == NotificationKind.ORDER_SHIPPED:
        params = {
            "order": data.get("order") or data.get("order_number") or "",
            "carrier": _excerpt(data.get("carrier")),
            "tracking": _excerpt(data.get("tracking") or data.get("tracking_number")),
        }
        if params["carrier"] or params["tracking"]:
            return _("Your order #%(order)s has shipped: %(carrier)s %(tracking)s") % params
        return _("Your order #%(order)s has shipped") % params
    if kind == NotificationKind.COMMISSION_AVAILABLE:
        try:
            amount = format_minor(int(data.get("amount") or 0), str(data.get("currency") or "CNY"))
        except (TypeError, ValueError):
            amount = ""
        return _("Commission of %(amount)s is available to withdraw") % {"amount": amount}
    if kind == NotificationKind.MESSAGE:
        if data.get("brand"):
            return _("%(brand)s replied to your message") % {"brand": _excerpt(data["brand"])}
        return _("%(actor)s sent you a message") % {"actor": actor}
    if kind == NotificationKind.MODERATION:
        return _moderation_text(data)
    if kind == NotificationKind.REPORT_OUTCOME:
        return _report_outcome_text(data)
    return _("You have a new notification")
