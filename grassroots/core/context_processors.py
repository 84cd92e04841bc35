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

    return {"nav_is_merchant": SimpleLazyObject(is_merchant), "nav_has_shop": SimpleLazyObject(has_shop)}
