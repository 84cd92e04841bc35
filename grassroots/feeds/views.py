"""Feed pages: home (the landing page of signed-in members), discover and hashtag pages.

Plain GET pages with "load more" links; with htmx the link appends the next page to the list."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.feeds import selectors

LIST_TARGET = "note-list"


def _page(request: HttpRequest, *, template: str, context: dict[str, Any], page: selectors.FeedPage) -> HttpResponse:
    next_url = f"{request.path}?{urlencode({'cursor': page.next_cursor})}" if page.next_cursor else ""
    context.update(notes=page.notes, next_url=next_url, is_more=bool(request.GET.get("cursor")))
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target == LIST_TARGET:
        template = "feeds/_page.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


@login_required
def home(request: HttpRequest) -> HttpResponse:
    cursor = request.GET.get("cursor") or None
    try:
        page = selectors.home_feed(viewer=request.user, cursor=cursor)
    except ValidationFailed as exc:
        return HttpResponseBadRequest(exc.message)
    suggestions = []
    if not page.notes and not cursor and request.user.pk is not None:
        suggestions = selectors.follow_suggestions(viewer_id=request.user.pk)
    return _page(request, template="feeds/home.html", context={"suggestions": suggestions}, page=page)


def discover(request: HttpRequest) -> HttpResponse:
    try:
        page = selectors.discover_feed(viewer=request.user, cursor=request.GET.get("cursor") or None)
    except ValidationFailed as exc:
        return HttpResponseBadRequest(exc.message)
    return _page(request, template="feeds/discover.html", context={}, page=page)


def hashtag(request: HttpRequest, name: str) -> HttpResponse:
    try:
        tag, page = selectors.hashtag_feed(name=name, viewer=request.user, cursor=request.GET.get("cursor") or None)
    except NotFound:
        raise Http404 from None
    except ValidationFailed as exc:
        return HttpResponseBadRequest(exc.message)
    return _page(request, template="feeds/hashtag.html", context={"tag": tag}, page=page)
