"""Template context every page needs: which menus the viewer gets. Evaluated lazily."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)

    def is_merchant() -> bool:
        if user is None or not user.is_authenticated:
            return False
        from grassroots.merchants.selectors import merchants_for_user

        return merchants_for_user(user=user).exists()

    def has_shop() -> bool:
        if user is None or not user.is_authenticated:
            return False
        from grassroots.shops.selectors import shop_for_user

        return shop_for_user(user=user) is not None

    def unread_notifications() -> int:
        if user is None or not user.is_authenticated:
            return 0
        from grassroots.notifications.selectors import notifications_unread_count

        return notifications_unread_count(user_id=user.pk)

    def unread_messages() -> int:
        if user is None or not user.is_authenticated:
            return 0
        from grassroots.messaging.selectors import messaging_unread_count

        return messaging_unread_count(user_id=user.pk)

    return {
        "nav_is_merchant": SimpleLazyObject(is_merchant),
        "nav_has_shop": SimpleLazyObject(has_shop),
        # Lazy: a page that never renders the header costs no query for these.
        "nav_unread_notifications": SimpleLazyObject(unread_notifications),
        "nav_unread_messages": SimpleLazyObject(unread_messages),
    }
