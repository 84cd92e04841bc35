"""What page views share: the curator-only guard and turning service errors into Django's pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from grassroots.core.errors import NotFound, PermissionDenied, ServiceError

View = Callable[..., HttpResponse]


def curator_required(view: View) -> View:
    """Sign-in first; then curators only (403 for everyone else)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_curator:
            raise DjangoPermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def raise_as_http(exc: ServiceError) -> None:
    """Not-found and forbidden become Django's 404/403 pages; the rest are shown on the form."""
    if isinstance(exc, NotFound):
        raise Http404(exc.message)
    if isinstance(exc, PermissionDenied):
        raise DjangoPermissionDenied(exc.message)
