"""Social API: follow and unfollow people, shops and brands; followers and following lists; blocks
and mutes; public profiles with the viewer's follow state."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Router, Schema

from grassroots.accounts.models import User
from grassroots.catalog.selectors import products_listed
from grassroots.core.api_auth import optional_auth
from grassroots.core.api_schemas import error_responses
from grassroots.core.conf import gr_setting
from grassroots.core.errors import NotFound
from grassroots.social import selectors, services
from grassroots.social.models import FollowTarget

router = Router(tags=["social"])
BRAND_PRODUCTS_SHOWN = 24


ERRORS = error_responses(400, 401, 403, 404, 409, 422, 429)


class FollowIn(Schema):
    kind: str
    target_id: int


class FollowOut(Schema):
    kind: str
    target_id: int
    following: bool
    followers: int


class PersonOut(Schema):
    id: int
    handle: str
    display_name: str
    avatar_url: str
    url: str
    viewer_following: bool


class PersonPage(Schema):
    items: list[PersonOut]
    next_cursor: str | None


class TargetOut(Schema):
    kind: str
    id: int
    name: str
    handle: str
    avatar_url: str
    url: str
    followed_at: datetime | None
    viewer_following: bool


class TargetPage(Schema):
    items: list[TargetOut]
    next_cursor: str | None


class ShopLinkOut(Schema):
    id: int
    slug: str
    name: str
    url: str
    followers: int


class ViewerOut(Schema):
    following: bool
    blocking: bool
    muting: bool


class ProfileOut(Schema):
    id: int
    handle: str
    display_name: str
    bio: str
    avatar_url: str
    url: str
    followers: int
    following: int
    shop: ShopLinkOut | None
    viewer: ViewerOut | None


class BrandProductOut(Schema):
    id: int
    slug: str
    title: str
    url: str
    price: int
    currency: str


class BrandOut(Schema):
    id: int
    slug: str
    name: str
    description: str
    url: str
    followers: int
    viewer_following: bool
    products: list[BrandProductOut]


class MemberIn(Schema):
    handle: str


class MemberOut(Schema):
    handle: str
    display_name: str
    url: str
    since: datetime


class MemberList(Schema):
    items: list[MemberOut]


def _absolute(request: HttpRequest, url: str) -> str:
    return request.build_absolute_uri(url) if url else ""


def _limit(limit: int | None) -> int:
    return int(gr_setting("API_PAGE_SIZE")) if limit is None else limit


def _signed_in_id(request: HttpRequest) -> int:
    """The signed-in member's id (the route or decorator has already required a sign-in)."""
    user_id = request.user.pk
    assert user_id is not None
    return int(user_id)


def _viewer_id(request: HttpRequest) -> int | None:
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None


def _profile_url(request: HttpRequest, handle: str | None) -> str:
    return _absolute(request, reverse("social:profile", kwargs={"handle": handle})) if handle else ""


def _visible_member(request: HttpRequest, handle: str) -> User:
    """A member the viewer may see: active, and who has not blocked the viewer (404 either way, so a
    block does not show)."""
    user, relation = selectors.social_member_for_viewer(handle=handle, viewer_id=_viewer_id(request))
    if relation.blocked_by:
        raise NotFound(_("Member not found."), code="not_found")
    return user


def _follow_out(outcome: services.FollowOutcome) -> FollowOut:
    return FollowOut(
        kind=outcome.kind, target_id=outcome.target_id, following=outcome.following, followers=outcome.followers
    )


# --- follows -------------------------------------------------------------------------------------


@router.post("/follows", response={200: FollowOut, 201: FollowOut, **ERRORS})
def follow(request: HttpRequest, payload: FollowIn) -> tuple[int, FollowOut]:
    """Follow a person (`user`), a shop (`shop`) or a brand (`merchant`). Repeating it is harmless (200)."""
    outcome = services.follow_add(follower=request.user, kind=payload.kind, target_id=payload.target_id)
    return (201 if outcome.changed else 200), _follow_out(outcome)


@router.delete("/follows/{kind}/{target_id}", response={200: FollowOut, **ERRORS})
def unfollow(request: HttpRequest, kind: str, target_id: int) -> FollowOut:
    return _follow_out(services.follow_remove(follower=request.user, kind=kind, target_id=target_id))


# --- profiles and lists ----------------------------------------------------------------------------


@router.get("/users/{handle}", response={200: ProfileOut, **ERRORS}, auth=optional_auth)
def profile(request: HttpRequest, handle: str) -> ProfileOut:
    """A member's public profile with exact counts and, when signed in, how the viewer relates to them."""
    viewer_id = _viewer_id(request)
    user, relation = selectors.social_member_for_viewer(handle=handle, viewer_id=viewer_id)
    if relation.blocked_by:
        raise NotFound(_("Member not found."), code="not_found")
    shop = selectors.social_public_shop(user)
    targets: list[tuple[str, int]] = [(FollowTarget.USER, user.pk)]
    counts = selectors.social_counts(kind=FollowTarget.USER, target_id=user.pk)
    shop_out = None
    if shop is not None:
        shop_out = ShopLinkOut(
            id=shop.pk,
            slug=shop.slug,
            name=shop.name,
            url=_absolute(request, reverse("shops:detail", kwargs={"slug": shop.slug})),
            followers=selectors.social_counts(kind=FollowTarget.SHOP, target_id=shop.pk).followers,
        )
        targets.append((FollowTarget.SHOP, shop.pk))
    viewer = None
    if viewer_id is not None:
        state = selectors.social_follow_state(viewer_id=viewer_id, targets=targets)
        viewer = ViewerOut(
            following=state[(FollowTarget.USER, user.pk)], blocking=relation.blocking, muting=relation.muting
        )
    return ProfileOut(
        id=user.pk,
        handle=user.handle or "",
        display_name=user.display_name,
        bio=user.bio,
        avatar_url=_absolute(request, user.avatar.url) if user.avatar else "",
        url=_profile_url(request, user.handle),
        followers=counts.followers,
        following=counts.following,
        shop=shop_out,
        viewer=viewer,
    )


@router.get("/users/{handle}/followers", response={200: PersonPage, **ERRORS}, auth=optional_auth)
def followers(request: HttpRequest, handle: str, cursor: str | None = None, limit: int | None = None) -> PersonPage:
    """Who follows this member, newest first. Members blocked either way or muted by the viewer are left out."""
    user = _visible_member(request, handle)
    viewer_id = _viewer_id(request)
    follows, next_cursor = selectors.social_followers_page(
        kind=FollowTarget.USER, target_id=user.pk, viewer_id=viewer_id, cursor=cursor, limit=_limit(limit)
    )
    state = selectors.social_follow_state(
        viewer_id=viewer_id, targets=[(FollowTarget.USER, f.follower_id) for f in follows]
    )
    return PersonPage(
        items=[
            PersonOut(
                id=f.follower.pk,
                handle=f.follower.handle or "",
                display_name=f.follower.display_name,
                avatar_url=_absolute(request, f.follower.avatar.url) if f.follower.avatar else "",
                url=_profile_url(request, f.follower.handle),
                viewer_following=state[(FollowTarget.USER, f.follower_id)],
            )
            for f in follows
        ],
        next_cursor=next_cursor,
    )


@router.get("/users/{handle}/following", response={200: TargetPage, **ERRORS}, auth=optional_auth)
def following(
    request: HttpRequest, handle: str, kind: str | None = None, cursor: str | None = None, limit: int | None = None
) -> TargetPage:
    """What this member follows (people, shops and brands; `kind` narrows it), newest first."""
    user = _visible_member(request, handle)
    viewer_id = _viewer_id(request)
    entries, next_cursor = selectors.social_following_page(
        user_id=user.pk, viewer_id=viewer_id, cursor=cursor, limit=_limit(limit), kind=kind or None
    )
    state = selectors.social_follow_state(viewer_id=viewer_id, targets=[(e.kind, e.target_id) for e in entries])
    return TargetPage(
        items=[
            TargetOut(
                kind=e.kind,
                id=e.target_id,
                name=e.name,
                handle=e.handle,
                avatar_url=_absolute(request, e.avatar_url),
                url=_absolute(request, e.url),
                followed_at=e.followed_at,
                viewer_following=state[(e.kind, e.target_id)],
            )
            for e in entries
        ],
        next_cursor=next_cursor,
    )


@router.get("/brands/{slug}", response={200: BrandOut, **ERRORS}, auth=optional_auth)
def brand(request: HttpRequest, slug: str) -> BrandOut:
    """A verified merchant's public brand profile."""
    merchant = selectors.social_brand_by_slug(slug=slug)
    viewer_id = _viewer_id(request)
    products = list(products_listed().filter(merchant_id=merchant.pk)[:BRAND_PRODUCTS_SHOWN])
    key = (FollowTarget.MERCHANT.value, merchant.pk)
    return BrandOut(
        id=merchant.pk,
        slug=merchant.slug,
        name=merchant.name,
        description=merchant.description,
        url=_absolute(request, reverse("social:brand", kwargs={"slug": merchant.slug})),
        followers=selectors.social_counts(kind=FollowTarget.MERCHANT, target_id=merchant.pk).followers,
        viewer_following=selectors.social_follow_state(viewer_id=viewer_id, targets=[key])[key],
        products=[
            BrandProductOut(
                id=p.pk,
                slug=p.slug,
                title=p.title,
                url=_absolute(request, reverse("catalog:product", args=[p.slug])),
                price=p.min_price,
                currency=p.currency,
            )
            for p in products
        ],
    )


# --- blocks and mutes ----------------------------------------------------------------------------


def _member_list(request: HttpRequest, rows: list[tuple[User, datetime]]) -> MemberList:
    return MemberList(
        items=[
            MemberOut(
                handle=user.handle or "",
                display_name=user.display_name,
                url=_profile_url(request, user.handle),
                since=since,
            )
            for user, since in rows
        ]
    )


@router.get("/blocks", response={200: MemberList, **ERRORS})
def blocks(request: HttpRequest) -> MemberList:
    """Members you blocked, newest first."""
    return _member_list(
        request, [(b.blocked, b.created_at) for b in selectors.social_blocks(user_id=_signed_in_id(request))]
    )


@router.post("/blocks", response={200: MemberList, 201: MemberList, **ERRORS})
def block(request: HttpRequest, payload: MemberIn) -> tuple[int, MemberList]:
    """Block a member: follows end both ways and each disappears from the other's feeds, comments,
    mentions and messages. Returns your block list."""
    other_id = selectors.social_user_id_by_handle(handle=payload.handle, active_only=False)
    created = services.block_add(blocker=request.user, blocked_id=other_id)
    return (201 if created else 200), blocks(request)


@router.delete("/blocks/{handle}", response={204: None, **ERRORS})
def unblock(request: HttpRequest, handle: str) -> tuple[int, None]:
    other_id = selectors.social_user_id_by_handle(handle=handle, active_only=False)
    services.block_remove(blocker=request.user, blocked_id=other_id)
    return 204, None


@router.get("/mutes", response={200: MemberList, **ERRORS})
def mutes(request: HttpRequest) -> MemberList:
    """Members you muted, newest first."""
    return _member_list(
        request, [(m.muted, m.created_at) for m in selectors.social_mutes(user_id=_signed_in_id(request))]
    )


@router.post("/mutes", response={200: MemberList, 201: MemberList, **ERRORS})
def mute(request: HttpRequest, payload: MemberIn) -> tuple[int, MemberList]:
    """Mute a member: their notes and comments are hidden from you; they are not told."""
    other_id = selectors.social_user_id_by_handle(handle=payload.handle, active_only=False)
    created = services.mute_add(muter=request.user, muted_id=other_id)
    return (201 if created else 200), mutes(request)


@router.delete("/mutes/{handle}", response={204: None, **ERRORS})
def unmute(request: HttpRequest, handle: str) -> tuple[int, None]:
    other_id = selectors.social_user_id_by_handle(handle=handle, active_only=False)
    services.mute_remove(muter=request.user, muted_id=other_id)
    return 204, None


__all__ = ["router"]
