"""Reads of the social graph that every social app uses to respect blocks and mutes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from grassroots.accounts.models import User
from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.core.pagination import decode_cursor, paginate
from grassroots.merchants.models import Merchant
from grassroots.shops.models import Shop
from grassroots.social.models import Block, Follow, FollowCounter, FollowTarget, Mute

LIST_ORDER = ("-id",)
_BIGINT = 2**63


def social_blocked_between(*, user_id: int | None, other_id: int) -> bool:
    """True when either of the two has blocked the other."""
    if user_id is None or user_id == other_id:
        return False
    return Block.objects.filter(
        Q(blocker_id=user_id, blocked_id=other_id) | Q(blocker_id=other_id, blocked_id=user_id)
    ).exists()


def social_hidden_author_ids(*, viewer_id: int | None) -> set[int]:
    """Authors whose content this viewer must not see: blocked either way, or muted by the viewer.
    One query."""
    if viewer_id is None:
        return set()
    blocked = Block.objects.filter(Q(blocker_id=viewer_id) | Q(blocked_id=viewer_id)).values_list(
        "blocker_id", "blocked_id"
    )
    muted = Mute.objects.filter(muter_id=viewer_id).values_list("muted_id", "muted_id")
    hidden = {a if b == viewer_id else b for a, b in blocked.union(muted, all=True)}
    hidden.discard(viewer_id)
    return hidden


def social_is_following(*, follower_id: int | None, kind: str, target_id: int) -> bool:
    if follower_id is None:
        return False
    return Follow.objects.filter(follower_id=follower_id, target_kind=kind, target_id=target_id).exists()


# --- counts and button states ----------------------------------------------------------------


@dataclass(frozen=True)
class FollowCounts:
    followers: int = 0
    following: int = 0


def social_counts(*, kind: str, target_id: int) -> FollowCounts:
    """Exact followers (and, for a person, following) counts. One query."""
    row = FollowCounter.objects.filter(target_kind=kind, target_id=target_id).values_list("followers", "following")
    found = row.first()
    return FollowCounts(*found) if found else FollowCounts()


def social_counts_many(*, kind: str, target_ids: Iterable[int]) -> dict[int, FollowCounts]:
    """Counts for many targets of one kind in one query; missing ones are zero."""
    ids = list(set(target_ids))
    if not ids:
        return {}
    rows = FollowCounter.objects.filter(target_kind=kind, target_id__in=ids).values_list(
        "target_id", "followers", "following"
    )
    found = {target_id: FollowCounts(followers, following) for target_id, followers, following in rows}
    return {target_id: found.get(target_id, FollowCounts()) for target_id in ids}


def social_counts_for(*, targets: Iterable[tuple[str, int]]) -> dict[tuple[str, int], FollowCounts]:
    """Counts for targets of any kinds in one query; missing ones are zero."""
    wanted = {(str(kind), int(target_id)) for kind, target_id in targets}
    if not wanted:
        return {}
    condition = Q()
    for kind, target_id in wanted:
        condition |= Q(target_kind=kind, target_id=target_id)
    rows = FollowCounter.objects.filter(condition).values_list("target_kind", "target_id", "followers", "following")
    found = {(kind, target_id): FollowCounts(followers, following) for kind, target_id, followers, following in rows}
    return {key: found.get(key, FollowCounts()) for key in wanted}


def social_follow_state(*, viewer_id: int | None, targets: Iterable[tuple[str, int]]) -> dict[tuple[str, int], bool]:
    """Whether the viewer follows each (kind, id) target, for rendering many follow buttons in one
    query (none for anonymous viewers or an empty list)."""
    wanted = {(str(kind), int(target_id)) for kind, target_id in targets}
    state = dict.fromkeys(wanted, False)
    if viewer_id is None or not wanted:
        return state
    by_kind: dict[str, list[int]] = {}
    for kind, target_id in wanted:
        by_kind.setdefault(kind, []).append(target_id)
    condition = Q()
    for kind, ids in by_kind.items():
        condition |= Q(target_kind=kind, target_id__in=ids)
    for kind, target_id in Follow.objects.filter(condition, follower_id=viewer_id).values_list(
        "target_kind", "target_id"
    ):
        state[(kind, target_id)] = True
    return state


def social_follow_button_state(*, viewer_id: int, kind: str, target_id: int) -> tuple[bool, bool]:
    """(following, is_self) for one follow button rendered without precomputed state. One query."""
    from grassroots.merchants.models import MerchantMember

    follows = Follow.objects.filter(follower_id=viewer_id, target_kind=kind, target_id=OuterRef("pk"))
    if kind == FollowTarget.USER:
        if target_id == viewer_id:
            return False, True
        return social_is_following(follower_id=viewer_id, kind=kind, target_id=target_id), False
    if kind == FollowTarget.SHOP:
        row = Shop.objects.filter(pk=target_id).annotate(f=Exists(follows)).values_list("f", "owner_id").first()
        return (bool(row[0]), row[1] == viewer_id) if row else (False, False)
    if kind == FollowTarget.MERCHANT:
        member = MerchantMember.objects.filter(merchant_id=OuterRef("pk"), user_id=viewer_id)
        found = (
            Merchant.objects.filter(pk=target_id)
            .annotate(f=Exists(follows), m=Exists(member))
            .values_list("f", "m")
            .first()
        )
        return (bool(found[0]), bool(found[1])) if found else (False, False)
    return False, False


@dataclass(frozen=True)
class Relation:
    """How the viewer stands with another member."""

    blocking: bool = False  # the viewer blocked them
    blocked_by: bool = False  # they blocked the viewer
    muting: bool = False  # the viewer muted them


def social_relation(*, viewer_id: int | None, other_id: int) -> Relation:
    """Blocks either way and the viewer's mute, in one query."""
    if viewer_id is None or viewer_id == other_id:
        return Relation()
    row = (
        User.objects.filter(pk=other_id)
        .annotate(
            r_blocking=Exists(Block.objects.filter(blocker_id=viewer_id, blocked_id=OuterRef("pk"))),
            r_blocked_by=Exists(Block.objects.filter(blocker_id=OuterRef("pk"), blocked_id=viewer_id)),
            r_muting=Exists(Mute.objects.filter(muter_id=viewer_id, muted_id=OuterRef("pk"))),
        )
        .values_list("r_blocking", "r_blocked_by", "r_muting")
        .first()
    )
    return Relation(*row) if row else Relation()


# --- people and brands -----------------------------------------------------------------------


_PROFILE_FIELDS = (
    "id",
    "handle",
    "display_name",
    "avatar",
    "bio",
    "is_active",
    "shop__id",
    "shop__slug",
    "shop__name",
    "shop__status",
    "shop__owner_id",
)


def social_user_by_handle(*, handle: str) -> User:
    """An active member with this handle, their shop loaded; NotFound otherwise."""
    user = (
        User.objects.select_related("shop")
        .filter(handle=(handle or "").lower(), is_active=True)
        .only(*_PROFILE_FIELDS)
        .first()
    )
    if user is None:
        raise NotFound(_("Member not found."), code="not_found")
    return user


def social_member_for_viewer(*, handle: str, viewer_id: int | None) -> tuple[User, Relation]:
    """An active member with this handle (shop loaded) and how the viewer stands with them, in one
    query; NotFound when there is none."""
    queryset = User.objects.select_related("shop").filter(handle=(handle or "").lower(), is_active=True)
    if viewer_id is None:
        user = queryset.only(*_PROFILE_FIELDS).first()
        if user is None:
            raise NotFound(_("Member not found."), code="not_found")
        return user, Relation()
    user = (
        queryset.only(*_PROFILE_FIELDS)
        .annotate(
            r_blocking=Exists(Block.objects.filter(blocker_id=viewer_id, blocked_id=OuterRef("pk"))),
            r_blocked_by=Exists(Block.objects.filter(blocker_id=OuterRef("pk"), blocked_id=viewer_id)),
            r_muting=Exists(Mute.objects.filter(muter_id=viewer_id, muted_id=OuterRef("pk"))),
        )
        .first()
    )
    if user is None:
        raise NotFound(_("Member not found."), code="not_found")
    if user.pk == viewer_id:
        return user, Relation()
    relation = Relation(
        blocking=bool(user.r_blocking),  # type: ignore[attr-defined]
        blocked_by=bool(user.r_blocked_by),  # type: ignore[attr-defined]
        muting=bool(user.r_muting),  # type: ignore[attr-defined]
    )
    return user, relation


def social_user_id_by_handle(*, handle: str, active_only: bool = True) -> int:
    """The id of the member with this handle (any state when active_only is False); NotFound otherwise."""
    queryset = User.objects.filter(handle=(handle or "").lower())
    if active_only:
        queryset = queryset.filter(is_active=True)
    user_id = queryset.values_list("id", flat=True).first()
    if user_id is None:
        raise NotFound(_("Member not found."), code="not_found")
    return int(user_id)


def social_public_shop(user: User) -> Shop | None:
    """The member's shop when it is open to the public."""
    shop = getattr(user, "shop", None)  # the reverse one-to-one raises when there is none
    return shop if shop is not None and shop.status == Shop.Status.ACTIVE else None


def social_brand_by_slug(*, slug: str) -> Merchant:
    """A verified merchant's public brand profile; NotFound otherwise."""
    merchant = Merchant.objects.filter(slug=slug, status=Merchant.Status.VERIFIED).first()
    if merchant is None:
        raise NotFound(_("Brand not found."), code="not_found")
    return merchant


# --- lists -----------------------------------------------------------------------------------


def _check_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    values = decode_cursor(cursor)
    if not (
        len(values) == len(LIST_ORDER)
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < _BIGINT for v in values)
    ):
        raise ValidationFailed(_("Invalid cursor."), code="invalid_cursor", fields={"cursor": "invalid"})
    return cursor


def social_followers(*, kind: str, target_id: int, viewer_id: int | None) -> QuerySet[Follow]:
    """Active followers of a target, newest first, without anyone blocked either way or muted by the
    viewer; the follower is joined."""
    hidden = social_hidden_author_ids(viewer_id=viewer_id)
    return (
        Follow.objects.filter(target_kind=kind, target_id=target_id, follower__is_active=True)
        .exclude(follower_id__in=hidden)
        .select_related("follower")
        .only(
            "id",
            "target_kind",
            "target_id",
            "created_at",
            "follower__id",
            "follower__handle",
            "follower__display_name",
            "follower__avatar",
            "follower__bio",
        )
    )


def social_followers_page(
    *, kind: str, target_id: int, viewer_id: int | None, cursor: str | None, limit: int
) -> tuple[list[Follow], str | None]:
    """One page of followers (two queries: hidden members, then the page)."""
    cursor = _check_cursor(cursor)
    queryset = social_followers(kind=kind, target_id=target_id, viewer_id=viewer_id)
    return paginate(queryset, cursor=cursor, limit=limit, order=LIST_ORDER)


@dataclass
class FollowingEntry:
    """One thing a member follows, ready to render: a person, a shop or a brand."""

    kind: str
    target_id: int
    name: str
    url: str
    handle: str = ""
    avatar_url: str = ""
    subtitle: str = ""
    followed_at: Any = None


def social_following_page(
    *, user_id: int, viewer_id: int | None, cursor: str | None, limit: int, kind: str | None = None
) -> tuple[list[FollowingEntry], str | None]:
    """One page of what a member follows, newest first, in a fixed number of queries (hidden
    members, the page, then one query per kind on the page). People hidden from the viewer and their
    shops are left out, and so are targets that are no longer public."""
    cursor = _check_cursor(cursor)
    if kind is not None and kind not in FollowTarget.values:
        raise ValidationFailed(_("Unknown kind."), code="invalid_kind", fields={"kind": "invalid"})
    hidden = social_hidden_author_ids(viewer_id=viewer_id)
    queryset = Follow.objects.filter(follower_id=user_id).only("id", "target_kind", "target_id", "created_at")
    if kind is not None:
        queryset = queryset.filter(target_kind=kind)
    if hidden:
        queryset = queryset.exclude(target_kind=FollowTarget.USER, target_id__in=hidden).exclude(
            target_kind=FollowTarget.SHOP,
            target_id__in=Shop.objects.filter(owner_id__in=hidden).values("id"),
        )
    follows, next_cursor = paginate(queryset, cursor=cursor, limit=limit, order=LIST_ORDER)
    ids: dict[str, list[int]] = {}
    for follow in follows:
        ids.setdefault(follow.target_kind, []).append(follow.target_id)
    found: dict[tuple[str, int], FollowingEntry] = {}
    if ids.get(FollowTarget.USER):
        for user in User.objects.filter(pk__in=ids[FollowTarget.USER], is_active=True).only(
            "id", "handle", "display_name", "avatar", "bio"
        ):
            found[(FollowTarget.USER, user.pk)] = FollowingEntry(
                kind=FollowTarget.USER,
                target_id=user.pk,
                name=user.display_name,
                url=reverse("social:profile", kwargs={"handle": user.handle}) if user.handle else "",
                handle=user.handle or "",
                avatar_url=user.avatar.url if user.avatar else "",
                subtitle=user.bio,
            )
    if ids.get(FollowTarget.SHOP):
        for shop in Shop.objects.filter(
            pk__in=ids[FollowTarget.SHOP], status=Shop.Status.ACTIVE, owner__is_active=True
        ).only("id", "slug", "name", "avatar", "pitch"):
            found[(FollowTarget.SHOP, shop.pk)] = FollowingEntry(
                kind=FollowTarget.SHOP,
                target_id=shop.pk,
                name=shop.name,
                url=reverse("shops:detail", kwargs={"slug": shop.slug}),
                avatar_url=shop.avatar.url if shop.avatar else "",
                subtitle=shop.pitch,
            )
    if ids.get(FollowTarget.MERCHANT):
        for merchant in Merchant.objects.filter(
            pk__in=ids[FollowTarget.MERCHANT], status=Merchant.Status.VERIFIED
        ).only("id", "slug", "name", "description"):
            found[(FollowTarget.MERCHANT, merchant.pk)] = FollowingEntry(
                kind=FollowTarget.MERCHANT,
                target_id=merchant.pk,
                name=merchant.name,
                url=reverse("social:brand", kwargs={"slug": merchant.slug}),
                subtitle=merchant.description[:140],
            )
    entries: list[FollowingEntry] = []
    for follow in follows:
        entry = found.get((follow.target_kind, follow.target_id))
        if entry is not None:
            entries.append(FollowingEntry(**{**entry.__dict__, "followed_at": follow.created_at}))
    return entries, next_cursor


def social_blocks(*, user_id: int) -> QuerySet[Block]:
    """Members this member blocked, newest first."""
    return (
        Block.objects.filter(blocker_id=user_id)
        .select_related("blocked")
        .only("id", "created_at", "blocked__id", "blocked__handle", "blocked__display_name", "blocked__avatar")
        .order_by("-id")
    )


def social_mutes(*, user_id: int) -> QuerySet[Mute]:
    """Members this member muted, newest first."""
    return (
        Mute.objects.filter(muter_id=user_id)
        .select_related("muted")
        .only("id", "created_at", "muted__id", "muted__handle", "muted__display_name", "muted__avatar")
        .order_by("-id")
    )


__all__ = [
    "FollowCounts",
    "FollowTarget",
    "FollowingEntry",
    "Relation",
    "social_blocked_between",
    "social_blocks",
    "social_brand_by_slug",
    "social_counts",
    "social_counts_for",
    "social_counts_many",
    "social_follow_button_state",
    "social_follow_state",
    "social_followers",
    "social_followers_page",
    "social_following_page",
    "social_hidden_author_ids",
    "social_is_following",
    "social_member_for_viewer",
    "social_mutes",
    "social_public_shop",
    "social_relation",
    "social_user_by_handle",
    "social_user_id_by_handle",
]
