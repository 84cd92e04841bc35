"""Reads for share links: by code, the shopkeeper's own links, and where a link leads."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from grassroots.attribution.models import CODE_RE, ShareLink
from grassroots.core.errors import NotFound
from grassroots.shops.models import Shop


def share_link_by_code(*, code: str) -> ShareLink:
    """A link whose shop is not suspended, with shop and product loaded; NotFound otherwise."""
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        raise NotFound(_("This link does not exist."))
    link = (
        ShareLink.objects.select_related("shop", "product")
        .filter(code=code)
        .exclude(shop__status=Shop.Status.SUSPENDED)
        .first()
    )
    if link is None:
        raise NotFound(_("This link does not exist."))
    return link


def share_links_for_owner(*, user: Any) -> QuerySet[ShareLink]:
    """The links of the user's own shop (none for anyone without one), shop and product loaded."""
    if not getattr(user, "is_authenticated", False):
        return ShareLink.objects.none()
    return ShareLink.objects.filter(shop__owner_id=user.pk).select_related("shop", "product")


def share_link_for_owner(*, user: Any, code: str) -> ShareLink:
    """One of the user's own links; anyone else's is NotFound."""
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        raise NotFound(_("This link does not exist."))
    link = share_links_for_owner(user=user).filter(code=code).first()
    if link is None:
        raise NotFound(_("This link does not exist."))
    return link


def share_link_path(link: ShareLink) -> str:
    return reverse("attribution:follow", kwargs={"code": link.code})


def share_target_path(link: ShareLink) -> str:
    """Where /s/<code>/ redirects: the product page for a product link or a note's product card,
    the note page for a note link, else the shop page."""
    if link.kind == ShareLink.Kind.NOTE and link.product_id is None and link.note_id is not None:
        return reverse("notes:detail", kwargs={"pk": link.note_id})
    if link.product_id is not None and link.product is not None:
        return reverse("catalog:product", kwargs={"slug": link.product.slug})
    return reverse("shops:detail", kwargs={"slug": link.shop.slug})
