"""Reads of notes. `notes_public` is the one definition of "visible to readers" every feed uses;
`notes_cards` loads what a list of note cards shows in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from grassroots.catalog.models import Product, ProductImage
from grassroots.core.errors import NotFound
from grassroots.notes.models import Note, NoteImage, NoteProduct

NOTE_ORDER = ("-published_at", "-id")


def notes_public() -> QuerySet[Note]:
    """Published, not hidden or removed by moderation, not deleted."""
    return Note.objects.filter(status=Note.Status.PUBLISHED, moderation=Note.Moderation.VISIBLE)


def _viewer_id(viewer: Any) -> int | None:
    return viewer.pk if getattr(viewer, "is_authenticated", False) else None


def note_for_viewer(*, note_id: int, viewer: Any) -> Note:
    """One note with author, merchant and images loaded. NotFound when it is deleted, when someone
    other than its author asks for a draft or a hidden/removed note (curators may see those), or
    when the viewer and the author have blocked each other."""
    from grassroots.social.selectors import social_blocked_between

    note = (
        Note.objects.select_related("author", "merchant")
        .prefetch_related(Prefetch("images", queryset=NoteImage.objects.order_by("position", "id")))
        .filter(pk=note_id)
        .exclude(status=Note.Status.DELETED)
        .first()
    )
    if note is None:
        raise NotFound(_("Note not found."))
    viewer_id = _viewer_id(viewer)
    is_author = viewer_id == note.author_id
    if not is_author:
        public = note.status == Note.Status.PUBLISHED and note.moderation == Note.Moderation.VISIBLE
        curator_may = note.status == Note.Status.PUBLISHED and bool(getattr(viewer, "is_curator", False))
        if not (public or curator_may):
            raise NotFound(_("Note not found."))
        if social_blocked_between(user_id=viewer_id, other_id=note.author_id):
            raise NotFound(_("Note not found."))
    return note


def notes_by_author(*, author_id: int, viewer: Any) -> QuerySet[Note]:
    """The author's public notes, newest first (none when the two have blocked each other)."""
    from grassroots.social.selectors import social_blocked_between

    if social_blocked_between(user_id=_viewer_id(viewer), other_id=author_id):
        return Note.objects.none()
    return notes_public().filter(author_id=author_id).order_by(*NOTE_ORDER)


def notes_drafts(*, user: Any) -> QuerySet[Note]:
    """The member's own drafts, last edited first."""
    if not getattr(user, "is_authenticated", False):
        return Note.objects.none()
    return Note.objects.filter(author_id=user.pk, status=Note.Status.DRAFT).order_by("-updated_at", "-id")


def note_for_author(*, note_id: int, user: Any) -> Note:
    """The member's own note (any status but deleted) for editing; anyone else's is NotFound."""
    note = (
        Note.objects.select_related("author", "merchant")
        .prefetch_related(Prefetch("images", queryset=NoteImage.objects.order_by("position", "id")))
        .filter(pk=note_id, author_id=_viewer_id(user) or 0)
        .exclude(status=Note.Status.DELETED)
        .first()
    )
    if note is None:
        raise NotFound(_("Note not found."))
    return note


# --- cards --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardProduct:
    product: Product
    url: str  # through the author's shop note link when there is one, else the product page
    thumb: str
    via_shop: bool


def _visible_product() -> Q:
    from grassroots.catalog.selectors import HIDDEN_STATUSES
    from grassroots.merchants.models import Merchant

    return Q(product__is_listed=True, product__merchant__status=Merchant.Status.VERIFIED) & ~Q(
        product__status__in=HIDDEN_STATUSES
    )


def notes_cards(notes: QuerySet[Note] | Iterable[Note], viewer: Any = None) -> list[Note]:
    """Notes ready for notes/_card.html and the note page: author, merchant, images, and
    `card_products` (listed products only, each with its link: through the author's shop note link
    when the shop still carries it). Five queries however many notes (four when given a list)."""
    from grassroots.attribution.models import ShareLink
    from grassroots.shops.models import Shop

    first_image = Prefetch(
        "product__images",
        queryset=ProductImage.objects.filter(is_active=True, revision__isnull=True).order_by("position", "id"),
        to_attr="card_images",
    )
    tags = Prefetch(
        "product_tags",
        queryset=NoteProduct.objects.filter(_visible_product())
        .select_related("product")
        .prefetch_related(first_image)
        .order_by("position", "id"),
        to_attr="card_tags",
    )
    images = Prefetch("images", queryset=NoteImage.objects.order_by("position", "id"))
    if isinstance(notes, QuerySet):
        rows = list(notes.select_related("author", "merchant").prefetch_related(images, tags))
    else:
        from django.db.models import prefetch_related_objects

        rows = list(notes)
        prefetch_related_objects(rows, "author", "merchant", images, tags)
    note_ids = [note.pk for note in rows if getattr(note, "card_tags", None)]
    links: dict[tuple[int, int], str] = {}
    if note_ids:
        for note_id, product_id, code in (
            ShareLink.objects.filter(
                kind=ShareLink.Kind.NOTE,
                note_id__in=note_ids,
                product__isnull=False,
                shop__status=Shop.Status.ACTIVE,
                shop__owner_id=F("note__author_id"),
                shop__items__product_id=F("product_id"),
            )
            .order_by()
            .values_list("note_id", "product_id", "code")
        ):
            links[(note_id, product_id)] = reverse("attribution:follow", kwargs={"code": code})
    for note in rows:
        cards: list[CardProduct] = []
        for tag in getattr(note, "card_tags", []):
            product = tag.product
            thumbs = getattr(product, "card_images", [])
            thumb = ""
            if thumbs:
                thumb = thumbs[0].thumbnail.url if thumbs[0].thumbnail else thumbs[0].image.url
            link = links.get((note.pk, product.pk))
            cards.append(
                CardProduct(
                    product=product,
                    url=link or reverse("catalog:product", kwargs={"slug": product.slug}),
                    thumb=thumb,
                    via_shop=link is not None,
                )
            )
        note.card_products = cards  # type: ignore[attr-defined]
    return rows


# --- per-note commission ------------------------------------------------------------------


@dataclass(frozen=True)
class NoteCommissionRow:
    note_id: int
    title: str
    lines: int
    paid_amount: int
    commission: int


def notes_commission_by_note(*, shopkeeper: Any, since: Any = None) -> list[NoteCommissionRow]:
    """The shopkeeper's commission per note: commission lines whose credited click came through a
    link of one of their notes (note link or note product card), most earning first. Commission is
    net of refunds; lines rejected as self-referral earn nothing. One query."""
    from django.db.models import Count, Sum

    from grassroots.commissions.models import CommissionLine

    user_id = getattr(shopkeeper, "pk", shopkeeper)
    lines = CommissionLine.objects.filter(shopkeeper_id=user_id, click__link__note__isnull=False).exclude(
        status=CommissionLine.Status.REJECTED
    )
    if since is not None:
        lines = lines.filter(created_at__gte=since)
    rows = (
        lines.values("click__link__note_id", "click__link__note__title")
        .annotate(
            n=Count("id"), paid=Sum("paid_amount"), commission=Sum(F("commission_amount") - F("commission_reversed"))
        )
        .order_by("-commission", "click__link__note_id")
    )
    return [
        NoteCommissionRow(
            note_id=row["click__link__note_id"],
            title=row["click__link__note__title"],
            lines=row["n"],
            paid_amount=int(row["paid"] or 0),
            commission=int(row["commission"] or 0),
        )
        for row in rows
    ]
