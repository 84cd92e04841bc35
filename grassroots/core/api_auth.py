"""API authentication: personal access tokens (`Authorization: Bearer`) or the session cookie.

Session requests must pass CSRF on unsafe methods; token requests carry no ambient authority,
so they need none.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware
from ninja.errors import HttpError

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def _csrf_ok(request: HttpRequest) -> bool:
    if request.method in SAFE_METHODS:
        return True
    check = CsrfViewMiddleware(lambda r: None)  # type: ignore[arg-type,return-value]  # never called
    check.process_request(request)
    return check.process_view(request, lambda r: None, (), {}) is None  # type: ignore[arg-type,return-value]


def _authenticate(request: HttpRequest) -> Any:
    from grassroots.accounts.selectors import user_from_api_token

    token = _bearer(request)
    if token is not None:
        user = user_from_api_token(token=token)
        if user is None:
            raise HttpError(401, "invalid_token")
        request.user = user
        return user
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        if not _csrf_ok(request):
            raise HttpError(403, "csrf_failed")
        return user
    return None


class ApiAuth:
    """Requires a signed-in user."""

    def __call__(self, request: HttpRequest) -> Any:
        return _authenticate(request)


class OptionalAuth:
    """Lets anonymous callers through as AnonymousUser; a bad token is still a 401."""

    def __call__(self, request: HttpRequest) -> Any:
        user = _authenticate(request)
        if user is None:
            request.user = AnonymousUser()
            return request.user
        return user


api_auth = ApiAuth()
optional_auth = OptionalAuth()
