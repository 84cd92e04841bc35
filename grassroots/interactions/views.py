"""Pages and form endpoints for likes, collections and comments.

Every action is a plain form POST that redirects back (`next`), so it works without JavaScript; with
htmx the same endpoint answers with the re-rendered fragment (the action bar or the comment thread).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from grassroots.core.errors import NotFound, ServiceError
from grassroots.interactions import selectors, services
from grassroots.interactions.models import COLLECTION_NAME_MAX_LENGTH, COMMENT_MAX_LENGTH, Collection
from grassroots.notes.models import Note


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "") or request.GET.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _me(request: HttpRequest) -> int:
    """The signed-in user's id (the endpoint requires authentication)."""
    user_id = request.user.pk
    assert isinstance(user_id, int)
    return user_id


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _note(note_id: int) -> Note:
    note = Note.objects.select_related("author").filter(pk=note_id).first()
    if note is None:
        raise Http404
    return note


def _actions_response(request: HttpRequest, note_id: int, error: ServiceError | None = None) -> HttpResponse:
    """After a like/collect action: the refreshed action bar for htmx, a redirect back otherwise."""
    back = _safe_next(request, services.note_url(note_id))
    if _is_htmx(request):
        note = _note(note_id)
        state = selectors.interactions_viewer_state(viewer_id=request.user.pk, note_ids=[note.pk])[note.pk]
        context = {
            "note": note,
            "viewer_liked": state["liked"],
            "viewer_collected": state["collected"],
            "actions_next": back,
            "actions_error": error,
        }
        return render(request, "interactions/_note_actions.html", context)
    if error is not None:
        messages.error(request, error.message)
    return redirect(back)


# --- likes and collects -------------------------------------------------------------------------


@login_required
@require_POST
def like(request: HttpRequest, note_id: int) -> HttpResponse:
    try:
        services.like_add(user=request.user, note_id=note_id)
    except NotFound as error:
        raise Http404 from error
    except ServiceError as error:
        return _actions_response(request, note_id, error)
    return _actions_response(request, note_id)


@login_required
@require_POST
def unlike(request: HttpRequest, note_id: int) -> HttpResponse:
    try:
        services.like_remove(user=request.user, note_id=note_id)
    except NotFound as error:
        raise Http404 from error
    return _actions_response(request, note_id)


@login_required
@require_http_methods(["GET", "POST"])
def collect(request: HttpRequest, note_id: int) -> HttpResponse:
    """GET: choose a collection (or make one). POST: collect into `collection` (default: Saved), or
    into a new collection named `new_name`."""
    if request.method == "GET":
        note = _note(note_id)
        context: dict[str, Any] = {
            "note": note,
            "collections": list(selectors.collections_of_user(owner_id=_me(request))),
            "holding": selectors.collections_with_note(owner_id=_me(request), note_id=note.pk),
            "next": _safe_next(request, services.note_url(note.pk)),
            "name_max": COLLECTION_NAME_MAX_LENGTH,
        }
        return render(request, "interactions/collect.html", context)
    try:
        collection_id = _int(request.POST.get("collection"))
        new_name = request.POST.get("new_name", "").strip()
        if new_name:
            collection_id = services.collection_create(user=request.user, name=new_name).pk
        collection, _created = services.collect_add(user=request.user, note_id=note_id, collection_id=collection_id)
    except NotFound as error:
        if error.code == "note_not_found":
            raise Http404 from error
        return _actions_response(request, note_id, error)
    except ServiceError as error:
        return _actions_response(request, note_id, error)
    if not _is_htmx(request):
        messages.success(request, _("Saved to “%(name)s”.") % {"name": collection.name})
    return _actions_response(request, note_id)


@login_required
@require_POST
def uncollect(request: HttpRequest, note_id: int) -> HttpResponse:
    try:
        services.collect_remove(user=request.user, note_id=note_id, collection_id=_int(request.POST.get("collection")))
    except NotFound as error:
        if error.code == "note_not_found":
            raise Http404 from error
        return _actions_response(request, note_id, error)
    return _actions_response(request, note_id)


# --- comments -----------------------------------------------------------------------------------


def _comments_response(
    request: HttpRequest, note_id: int, *, error: ServiceError | None = None, body: str = ""
) -> HttpResponse:
    back = _safe_next(request, services.note_url(note_id) + "#comments")
    if _is_htmx(request):
        note = _note(note_id)
        context = {
            "note": note,
            "comments": selectors.comments_for_note(note_id=note.pk, viewer_id=request.user.pk),
            "comment_error": error,
            "comment_body": body if error is not None else "",
            "comments_next": back,
        }
        # htmx swaps only 2xx answers: the error is shown inside the fragment.
        return render(request, "interactions/_comments.html", context)
    if error is not None:
        messages.error(request, error.message)
    return redirect(back)


@login_required
@require_POST
def comment(request: HttpRequest, note_id: int) -> HttpResponse:
    body = request.POST.get("body", "")
    try:
        services.comment_create(user=request.user, note_id=note_id, body=body)
    except ServiceError as error:
        if error.code == "note_not_found":
            raise Http404 from error
        return _comments_response(request, note_id, error=error, body=body)
    return _comments_response(request, note_id)


@login_required
@require_POST
def reply(request: HttpRequest, comment_id: int) -> HttpResponse:
    note_id = _comment_note_id(comment_id)
    body = request.POST.get("body", "")
    try:
        services.comment_create(user=request.user, note_id=note_id, body=body, parent_id=comment_id)
    except ServiceError as error:
        if error.code == "note_not_found":
            raise Http404 from error
        return _comments_response(request, note_id, error=error, body=body)
    return _comments_response(request, note_id)


@login_required
@require_POST
def comment_delete(request: HttpRequest, comment_id: int) -> HttpResponse:
    note_id = _comment_note_id(comment_id)
    try:
        services.comment_delete(user=request.user, comment_id=comment_id)
    except ServiceError as error:
        return _comments_response(request, note_id, error=error)
    if not _is_htmx(request):
        messages.success(request, _("Comment deleted."))
    return _comments_response(request, note_id)


def _comment_note_id(comment_id: int) -> int:
    try:
        return selectors.comment_for_viewer(comment_id=comment_id, viewer_id=None).note_id
    except NotFound as error:
        raise Http404 from error


@require_GET
def comments(request: HttpRequest, note_id: int) -> HttpResponse:
    """All comments of a note, page by page (the note page shows the first page)."""
    viewer_id = request.user.pk if request.user.is_authenticated else None
    try:
        note = selectors.note_for_comments(note_id=note_id, viewer_id=viewer_id)
        page = selectors.comments_for_note(note_id=note.pk, viewer_id=viewer_id, cursor=request.GET.get("cursor"))
    except NotFound as error:
        raise Http404 from error
    except ServiceError as error:
        return render(request, "interactions/error.html", {"error": error}, status=error.status)
    return render(
        request,
        "interactions/comments.html",
        {"note": note, "comments": page, "note_url": services.note_url(note.pk), "comments_next": request.path},
    )


@require_GET
def replies(request: HttpRequest, comment_id: int) -> HttpResponse:
    """One top-level comment with all its replies."""
    viewer_id = request.user.pk if request.user.is_authenticated else None
    try:
        top = selectors.comment_for_viewer(comment_id=comment_id, viewer_id=viewer_id)
        if top.parent_id is not None:
            return redirect(reverse("interactions:replies", args=[top.parent_id]))
        note = selectors.note_for_comments(note_id=top.note_id, viewer_id=viewer_id)
        items, next_cursor = selectors.comment_replies(
            comment_id=top.pk, viewer_id=viewer_id, cursor=request.GET.get("cursor")
        )
    except NotFound as error:
        raise Http404 from error
    except ServiceError as error:
        return render(request, "interactions/error.html", {"error": error}, status=error.status)
    return render(
        request,
        "interactions/replies.html",
        {
            "note": note,
            "comment": top,
            "replies": items,
            "next_cursor": next_cursor,
            "note_url": services.note_url(note.pk),
            "comments_next": request.path,
            "body_max": COMMENT_MAX_LENGTH,
        },
    )


# --- collections --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def collections(request: HttpRequest) -> HttpResponse:
    """My collections; POST creates one."""
    error: ServiceError | None = None
    name = ""
    status = 200
    if request.method == "POST":
        name = request.POST.get("name", "")
        try:
            created = services.collection_create(user=request.user, name=name)
        except ServiceError as exc:
            error, status = exc, exc.status
        else:
            messages.success(request, _("Collection “%(name)s” created.") % {"name": created.name})
            return redirect("interactions:collection", collection_id=created.pk)
    context = {
        "collections": list(selectors.collections_of_user(owner_id=_me(request))),
        "error": error,
        "name": name,
        "name_max": COLLECTION_NAME_MAX_LENGTH,
    }
    return render(request, "interactions/collections.html", context, status=status)


def _my_collection(request: HttpRequest, collection_id: int) -> Collection:
    try:
        return selectors.collection_of_owner(owner_id=_me(request), collection_id=collection_id)
    except NotFound as error:
        raise Http404 from error


@login_required
@require_GET
def collection(request: HttpRequest, collection_id: int) -> HttpResponse:
    current = _my_collection(request, collection_id)
    try:
        items, next_cursor = selectors.collection_items(
            collection=current, viewer_id=request.user.pk, cursor=request.GET.get("cursor")
        )
    except ServiceError as error:
        return render(request, "interactions/error.html", {"error": error}, status=error.status)
    return render(
        request,
        "interactions/collection.html",
        {
            "collection": current,
            "items": items,
            "next_cursor": next_cursor,
            "name_max": COLLECTION_NAME_MAX_LENGTH,
        },
    )


@login_required
@require_POST
def collection_rename(request: HttpRequest, collection_id: int) -> HttpResponse:
    try:
        services.collection_rename(user=request.user, collection_id=collection_id, name=request.POST.get("name", ""))
    except NotFound as error:
        raise Http404 from error
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Collection renamed."))
    return redirect("interactions:collection", collection_id=collection_id)


@login_required
@require_POST
def collection_delete(request: HttpRequest, collection_id: int) -> HttpResponse:
    try:
        services.collection_delete(user=request.user, collection_id=collection_id)
    except NotFound as error:
        raise Http404 from error
    messages.success(request, _("Collection deleted."))
    return redirect("interactions:collections")


@login_required
@require_POST
def collection_item_remove(request: HttpRequest, collection_id: int, note_id: int) -> HttpResponse:
    try:
        services.collect_remove(user=request.user, note_id=note_id, collection_id=collection_id)
    except NotFound as error:
        raise Http404 from error
    return redirect(_safe_next(request, reverse("interactions:collection", args=[collection_id])))
