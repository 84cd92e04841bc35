"""The notification centre and notification preferences. Plain forms that POST and redirect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from grassroots.core.errors import ServiceError
from grassroots.notifications import selectors, services

PAGE_SIZE = 20


def _me(request: HttpRequest) -> int:
    """The signed-in member's id (every route here requires sign-in)."""
    return int(request.user.pk or 0)


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    unread_only = request.GET.get("unread") == "1"
    try:
        items, next_cursor = selectors.notifications_page(
            user_id=_me(request), cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE, unread_only=unread_only
        )
    except ServiceError:
        raise Http404 from None
    rows = [(n, selectors.notification_text(n)) for n in items]
    return render(
        request,
        "notifications/list.html",
        {
            "rows": rows,
            "next_cursor": next_cursor,
            "unread_only": unread_only,
            "unread_count": selectors.notifications_unread_count(user_id=_me(request)),
        },
    )


@login_required
@require_POST
def open_notification(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read and go where it points (only ever within this site)."""
    notification = services.notification_open(user=request.user, notification_id=pk)
    if notification is None:
        raise Http404
    target = notification.target_url
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("notifications:list")


@login_required
@require_POST
def read_all(request: HttpRequest) -> HttpResponse:
    services.notifications_mark_read(user=request.user, all=True)
    if request.htmx:  # type: ignore[attr-defined]
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    messages.success(request, _("All notifications are marked as read."))
    return redirect("notifications:list")


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        chosen = set(request.POST.getlist("kinds"))
        prefs = {kind: kind in chosen for kind, _label in selectors.switchable_kinds()}
        services.notification_preferences_set(user=request.user, preferences=prefs)
        messages.success(request, _("Notification preferences saved."))
        return redirect("notifications:preferences")
    return render(
        request,
        "notifications/preferences.html",
        {"rows": selectors.notification_preference_rows(user_id=_me(request))},
    )
