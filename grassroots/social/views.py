"""Profile pages (people and brands), followers and following lists, the follow button, and blocks and
mutes. Plain forms, POST then redirect; htmx swaps the follow button in place when it is present."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from grassroots.catalog.selectors import products_listed
from grassroots.core.errors import NotFound, ServiceError, ValidationFailed
from grassroots.core.numbers import digits_int
from grassroots.core.pagination import decode_cursor, paginate
from grassroots.interactions.selectors import interactions_viewer_state
from grassroots.notes.models import Note
from grassroots.notes.selectors import notes_cards, notes_public
from grassroots.social import selectors, services
from grassroots.social.models import FollowTarget

PAGE_SIZE = 30
NOTES_PAGE_SIZE = 12
BRAND_PRODUCTS_SHOWN = 12
NOTE_ORDER = ("-published_at", "-id")


def _signed_in_id(request: HttpRequest) -> int:
    """The signed-in member's id (the route or decorator has already required a sign-in)."""
    user_id = request.user.pk
    assert user_id is not None
    return int(user_id)


def _viewer_id(request: HttpRequest) -> int | None:
    return request.user.pk if request.user.is_authenticated else None


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "") or request.GET.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _login_redirect(request: HttpRequest, next_url: str) -> HttpResponse:
    url = f"{reverse('accounts:login')}?{urlencode({'next': next_url})}"
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _valid_cursor(cursor: str | None, *, datetime_first: bool) -> str | None:
    """Client input: a bad cursor shows the first page instead of an error."""
    if not cursor:
        return None
    try:
        values = decode_cursor(cursor)
    except ValidationFailed:
        return None
    if datetime_first:
        ok = (
            len(values) == 2
            and isinstance(values[0], str)
            and _parses(values[0])
            and isinstance(values[1], int)
            and 0 <= values[1] < 2**63
        )
    else:
        ok = len(values) == 1 and isinstance(values[0], int) and not isinstance(values[0], bool) and values[0] >= 0
    return cursor if ok else None


def _parses(value: str) -> bool:
    try:
        return parse_datetime(value) is not None
    except ValueError:
        return False


def _notes_page(notes: Any, cursor: str | None, viewer: Any) -> tuple[list[Note], str | None]:
    """A page of note cards with what notes/_card.html shows loaded in a fixed number of queries,
    including the viewer's like and collect state."""
    page, next_cursor = paginate(
        notes.select_related("author", "merchant"),
        cursor=_valid_cursor(cursor, datetime_first=True),
        limit=NOTES_PAGE_SIZE,
        order=NOTE_ORDER,
    )
    cards = notes_cards(page, viewer)
    state = interactions_viewer_state(
        viewer_id=viewer.pk if viewer.is_authenticated else None, note_ids=[note.pk for note in cards]
    )
    for note in cards:
        note.viewer_liked = state[note.pk]["liked"]  # type: ignore[attr-defined]
        note.viewer_collected = state[note.pk]["collected"]  # type: ignore[attr-defined]
    return cards, next_cursor


def _member_or_404(request: HttpRequest, handle: str) -> tuple[Any, selectors.Relation]:
    try:
        return selectors.social_member_for_viewer(handle=handle, viewer_id=_viewer_id(request))
    except NotFound:
        raise Http404 from None


def _unavailable(request: HttpRequest) -> HttpResponse:
    return render(request, "social/unavailable.html", status=404)


# --- profiles -----------------------------------------------------------------------------------


@require_GET
def profile(request: HttpRequest, handle: str) -> HttpResponse:
    member, relation = _member_or_404(request, handle)
    viewer_id = _viewer_id(request)
    if relation.blocked_by:
        return _unavailable(request)
    shop = selectors.social_public_shop(member)
    targets = [(FollowTarget.USER.value, member.pk)]
    if shop is not None:
        targets.append((FollowTarget.SHOP.value, shop.pk))
    counts = selectors.social_counts_for(targets=targets)
    notes: list[Note] = []
    next_cursor = None
    if not (relation.blocking or relation.muting):
        queryset = notes_public().filter(author_id=member.pk, merchant__isnull=True)
        notes, next_cursor = _notes_page(queryset, request.GET.get("cursor"), request.user)
    context = {
        "member": member,
        "is_self": viewer_id == member.pk,
        "relation": relation,
        "counts": counts[targets[0]],
        "shop": shop,
        "shop_counts": counts[targets[1]] if shop else None,
        "follow_states": selectors.social_follow_state(viewer_id=viewer_id, targets=targets),
        "notes": notes,
        "next_cursor": next_cursor,
    }
    return render(request, "social/profile.html", context)


def _list_page(request: HttpRequest, handle: str, which: str) -> HttpResponse:
    member, relation = _member_or_404(request, handle)
    viewer_id = _viewer_id(request)
    if relation.blocked_by:
        return _unavailable(request)
    cursor = _valid_cursor(request.GET.get("cursor"), datetime_first=False)
    entries: list[dict[str, Any]] = []
    if which == "followers":
        follows, next_cursor = selectors.social_followers_page(
            kind=FollowTarget.USER, target_id=member.pk, viewer_id=viewer_id, cursor=cursor, limit=PAGE_SIZE
        )
        for follow in follows:
            person = follow.follower
            entries.append(
                {
                    "kind": FollowTarget.USER.value,
                    "target_id": person.pk,
                    "name": person.display_name,
                    "handle": person.handle or "",
                    "url": reverse("social:profile", kwargs={"handle": person.handle}) if person.handle else "",
                    "avatar_url": person.avatar.url if person.avatar else "",
                    "subtitle": person.bio,
                }
            )
    else:
        following, next_cursor = selectors.social_following_page(
            user_id=member.pk, viewer_id=viewer_id, cursor=cursor, limit=PAGE_SIZE
        )
        entries = [dict(entry.__dict__) for entry in following]
    states = selectors.social_follow_state(viewer_id=viewer_id, targets=[(e["kind"], e["target_id"]) for e in entries])
    for entry in entries:
        entry["is_self"] = entry["kind"] == FollowTarget.USER and entry["target_id"] == viewer_id
    context = {
        "member": member,
        "which": which,
        "entries": entries,
        "follow_states": states,
        "next_cursor": next_cursor,
        "counts": selectors.social_counts(kind=FollowTarget.USER, target_id=member.pk),
    }
    return render(request, "social/follow_list.html", context)


@require_GET
def followers(request: HttpRequest, handle: str) -> HttpResponse:
    return _list_page(request, handle, "followers")


@require_GET
def following(request: HttpRequest, handle: str) -> HttpResponse:
    return _list_page(request, handle, "following")


@require_GET
def brand(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        merchant = selectors.social_brand_by_slug(slug=slug)
    except NotFound:
        raise Http404 from None
    viewer_id = _viewer_id(request)
    hidden = selectors.social_hidden_author_ids(viewer_id=viewer_id)
    queryset = notes_public().filter(merchant_id=merchant.pk).exclude(author_id__in=hidden)
    notes, next_cursor = _notes_page(queryset, request.GET.get("cursor"), request.user)
    key = (FollowTarget.MERCHANT.value, merchant.pk)
    context = {
        "merchant": merchant,
        "counts": selectors.social_counts(kind=FollowTarget.MERCHANT, target_id=merchant.pk),
        "follow_states": selectors.social_follow_state(viewer_id=viewer_id, targets=[key]),
        "is_member": viewer_id is not None and merchant.memberships.filter(user_id=viewer_id).exists(),
        "products": list(products_listed().filter(merchant_id=merchant.pk)[:BRAND_PRODUCTS_SHOWN]),
        "notes": notes,
        "next_cursor": next_cursor,
    }
    return render(request, "social/brand.html", context)


# --- follow button ------------------------------------------------------------------------------


def _target_id(request: HttpRequest) -> int | None:
    value = request.POST.get("target_id", "")
    return digits_int(value)


@require_POST
def follow(request: HttpRequest) -> HttpResponse:
    return _follow_toggle(request, follow=True)


@require_POST
def unfollow(request: HttpRequest) -> HttpResponse:
    return _follow_toggle(request, follow=False)


def _follow_toggle(request: HttpRequest, *, follow: bool) -> HttpResponse:
    kind = request.POST.get("kind", "")
    target_id = _target_id(request)
    next_url = _safe_next(request, request.META.get("HTTP_REFERER", "") or reverse("catalog:home"))
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("catalog:home")
    if not request.user.is_authenticated:
        return _login_redirect(request, next_url)
    error = ""
    status = 200
    outcome = None
    try:
        if target_id is None:
            raise ValidationFailed(_("Unknown target."), code="invalid", fields={"target_id": "invalid"})
        if follow:
            outcome = services.follow_add(follower=request.user, kind=kind, target_id=target_id)
        else:
            outcome = services.follow_remove(follower=request.user, kind=kind, target_id=target_id)
    except ServiceError as exc:
        error = exc.message
        status = exc.status
    if not getattr(request, "htmx", False):
        if error:
            messages.error(request, error)
        return redirect(next_url)
    if outcome is None and (target_id is None or kind not in FollowTarget.values):
        return HttpResponse(error, status=status, content_type="text/plain; charset=utf-8")
    assert target_id is not None
    following = outcome.following if outcome is not None else not follow
    context = {
        "kind": kind,
        "target_id": target_id,
        "follow_states": {(kind, target_id): following},
        "follow_next": next_url,
        "follow_error": error,
        "oob_followers": outcome.followers if outcome is not None else None,
    }
    # htmx does not swap error responses; the message is shown inside the button's form instead.
    return render(request, "social/_follow_swap.html", context)


# --- blocks and mutes ---------------------------------------------------------------------------


def _relation_action(request: HttpRequest, action: str) -> HttpResponse:
    handle = request.POST.get("handle", "")
    valid = re.fullmatch(r"[A-Za-z0-9_]{1,30}", handle) is not None
    fallback = reverse("social:profile", kwargs={"handle": handle.lower()}) if valid else "/"
    next_url = _safe_next(request, fallback)
    try:
        other_id = selectors.social_user_id_by_handle(handle=handle, active_only=False)
        if action == "block":
            services.block_add(blocker=request.user, blocked_id=other_id)
            messages.success(request, _("Blocked. You no longer follow each other."))
        elif action == "unblock":
            services.block_remove(blocker=request.user, blocked_id=other_id)
            messages.success(request, _("Unblocked."))
        elif action == "mute":
            services.mute_add(muter=request.user, muted_id=other_id)
            messages.success(request, _("Muted. Their notes and comments are hidden from you."))
        else:
            services.mute_remove(muter=request.user, muted_id=other_id)
            messages.success(request, _("Unmuted."))
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect(next_url)


@login_required
@require_POST
def block(request: HttpRequest) -> HttpResponse:
    return _relation_action(request, "block")


@login_required
@require_POST
def unblock(request: HttpRequest) -> HttpResponse:
    return _relation_action(request, "unblock")


@login_required
@require_POST
def mute(request: HttpRequest) -> HttpResponse:
    return _relation_action(request, "mute")


@login_required
@require_POST
def unmute(request: HttpRequest) -> HttpResponse:
    return _relation_action(request, "unmute")


@login_required
@require_GET
def blocked(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "social/blocked.html",
        {
            "blocks": list(selectors.social_blocks(user_id=_signed_in_id(request))),
            "mutes": list(selectors.social_mutes(user_id=_signed_in_id(request))),
        },
    )
