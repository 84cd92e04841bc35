"""Writing notes: compose, edit, publish, delete, moderate, share.

Rules kept here:
- Title required (at most TITLE_MAX_LENGTH characters, tags stripped); text at most BODY_MAX_LENGTH
  characters, stored raw. `body_html` is rendered once at write time: the text HTML-escaped (so a
  <script> is inert), newlines as <br>, #hashtags linked to their page, @handles linked to the
  profile when that member exists and neither has blocked the other, then sanitised.
- Up to MAX_IMAGES images (each checked by content, thumbnailed) and MAX_PRODUCTS tagged products,
  only listed ones. Every check runs before anything is written: a refused request writes nothing.
- Hashtag.note_count counts the *public* notes (published, visible) carrying the tag. Every write
  takes the note's tags out of the count while it changes and puts them back if it is public
  afterwards, with F() updates in the same transaction, so the count stays exact.
- Disclosure: `is_ad` is set, and never cleared, when a published or edited note tags a product its
  author's active shop carries (the author earns commission on it) or is a brand note.
- Product cards of a shopkeeper's note lead through the shop's note links (attribution), so a sale
  is credited to the author's shop and traceable to the note.
- Feed hooks run after commit; so do mention notifications (on publish, once per member and note).
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.accounts.models import User
from grassroots.core.conf import gr_setting
from grassroots.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from grassroots.core.ratelimit import rate_limit_hit
from grassroots.core.storage import files_removed_on_error
from grassroots.core.text import clean_plain_text, sanitize_html
from grassroots.core.uploads import CheckedFile, check_image, make_thumbnail
from grassroots.notes.models import (
    BODY_MAX_LENGTH,
    HASHTAG_MAX_LENGTH,
    MAX_IMAGES,
    MAX_PRODUCTS,
    TITLE_MAX_LENGTH,
    Hashtag,
    Note,
    NoteHashtag,
    NoteImage,
    NoteMention,
    NoteProduct,
    NoteShare,
)

NoteCounter = Literal["like_count", "collect_count", "comment_count", "share_count"]
ModerationAction = Literal["hide", "remove", "restore"]

# A hashtag: "#" then word characters (any script, Chinese included), not glued to a word before it.
# A mention: "@" then a handle ([a-z0-9_], matched case-insensitively), not part of an e-mail address.
TOKEN_RE = re.compile(r"(?<![\w&#])#(?P<tag>\w+)|(?<![\w@.])@(?P<handle>[A-Za-z0-9_]{1,30})(?![\w@])")
MAX_MENTIONS = 20
MAX_HASHTAGS = 30
THUMBNAIL_SIZE = 480


def note_counter_add(*, note_id: int, counter: NoteCounter, delta: int) -> None:
    """Change one exact counter by delta in the caller's transaction (the same transaction that adds
    or removes the counted row, so the count cannot drift)."""
    Note.objects.filter(pk=note_id).update(**{counter: Greatest(F(counter) + delta, 0)})


# --- rendering ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedBody:
    html: str
    hashtags: list[str]  # lower-cased, in order of first appearance
    mention_ids: list[int]


def _path(url_name: str, fallback: str, **kwargs: Any) -> str:
    try:
        return reverse(url_name, kwargs=kwargs)
    except NoReverseMatch:
        return fallback


def hashtag_path(name: str) -> str:
    from urllib.parse import quote

    return _path("feeds:hashtag", f"/tags/{quote(name)}/", name=name)


def profile_path(handle: str) -> str:
    return _path("social:profile", f"/u/{handle}/", handle=handle)


def note_path(note_id: int) -> str:
    return reverse("notes:detail", kwargs={"pk": note_id})


def _mentionable(*, author_id: int, handles: Iterable[str]) -> dict[str, int]:
    """handle -> user id for the members who exist, are active and have no block with the author."""
    from grassroots.social.selectors import social_blocked_between

    wanted = list(dict.fromkeys(h.lower() for h in handles))[:MAX_MENTIONS]
    if not wanted:
        return {}
    found = {
        str(handle): user_id
        for handle, user_id in User.objects.filter(handle__in=wanted, is_active=True).values_list("handle", "pk")
    }
    return {
        handle: user_id
        for handle, user_id in found.items()
        if user_id == author_id or not social_blocked_between(user_id=author_id, other_id=user_id)
    }


def render_body(*, text: str, author_id: int) -> RenderedBody:
    """Escape the raw text, link hashtags and mentions, keep line breaks, sanitise."""
    matches = list(TOKEN_RE.finditer(text))
    users = _mentionable(author_id=author_id, handles=[m["handle"] for m in matches if m["handle"]])
    parts: list[str] = []
    tags: list[str] = []
    mentions: list[int] = []
    position = 0
    for match in matches:
        parts.append(html.escape(text[position : match.start()]))
        position = match.end()
        raw = match.group(0)
        tag = match["tag"]
        handle = match["handle"]
        if tag is not None and len(tag) <= HASHTAG_MAX_LENGTH and len(tags) < MAX_HASHTAGS:
            name = tag.lower()
            if name not in tags:
                tags.append(name)
            parts.append(f'<a href="{html.escape(hashtag_path(name))}">{html.escape(raw)}</a>')
        elif handle is not None and handle.lower() in users:
            user_id = users[handle.lower()]
            if user_id not in mentions:
                mentions.append(user_id)
            parts.append(f'<a href="{html.escape(profile_path(handle.lower()))}">{html.escape(raw)}</a>')
        else:
            parts.append(html.escape(raw))
    parts.append(html.escape(text[position:]))
    rendered = "".join(parts).replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")
    return RenderedBody(html=sanitize_html(rendered), hashtags=tags, mention_ids=mentions)


# --- input checks -------------------------------------------------------------------------


def _signed_in(user: Any) -> None:
    if not getattr(user, "is_authenticated", False):
        raise PermissionDenied(_("Sign in first."), code="not_signed_in")


def _clean_title(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationFailed(_("Give the note a title."), code="title_required", fields={"title": "required"})
    value = value.replace("\x00", "")
    if len(value.strip()) > TITLE_MAX_LENGTH:
        raise ValidationFailed(
            _("The title is at most %(n)s characters.") % {"n": TITLE_MAX_LENGTH},
            code="title_too_long",
            fields={"title": "too_long"},
        )
    title = clean_plain_text(value, max_length=TITLE_MAX_LENGTH)
    if not title:
        raise ValidationFailed(_("Give the note a title."), code="title_required", fields={"title": "required"})
    return title


def _clean_body(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed(_("The text is not valid."), code="invalid", fields={"body": "invalid"})
    value = value.replace("\x00", "").replace("\r\n", "\n").strip()
    if len(value) > BODY_MAX_LENGTH:
        raise ValidationFailed(
            _("The text is at most %(n)s characters.") % {"n": BODY_MAX_LENGTH},
            code="body_too_long",
            fields={"body": "too_long"},
        )
    return value


def _int_id(value: Any, *, field: str) -> int:
    if isinstance(value, bool):
        raise ValidationFailed(_("Not a valid id."), fields={field: "invalid"})
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(_("Not a valid id."), fields={field: "invalid"}) from None
    if number < 1 or number >= 2**63:
        raise ValidationFailed(_("Not a valid id."), fields={field: "invalid"})
    return number


def _clean_product_ids(values: Sequence[Any]) -> list[int]:
    """Listed products only, at most MAX_PRODUCTS, duplicates dropped, order kept."""
    from grassroots.catalog.selectors import products_listed

    ids = list(dict.fromkeys(_int_id(value, field="product_ids") for value in values))
    if len(ids) > MAX_PRODUCTS:
        raise ValidationFailed(
            _("A note tags at most %(n)s products.") % {"n": MAX_PRODUCTS},
            code="too_many_products",
            fields={"product_ids": "too_many"},
        )
    if ids:
        listed = set(products_listed().filter(pk__in=ids).values_list("pk", flat=True))
        missing = [pid for pid in ids if pid not in listed]
        if missing:
            raise ValidationFailed(
                _("Only products listed in the catalog can be tagged."),
                code="product_not_listed",
                fields={"product_ids": missing},
            )
    return ids


def _check_images(uploads: Sequence[UploadedFile], *, already: int) -> list[CheckedFile]:
    if already + len(uploads) > MAX_IMAGES:
        raise ValidationFailed(
            _("A note has at most %(n)s images.") % {"n": MAX_IMAGES},
            code="too_many_images",
            fields={"images": "too_many"},
        )
    return [check_image(upload, field="images") for upload in uploads]


def _brand_merchant(*, user: Any, merchant_id: Any) -> int | None:
    """The merchant a member posts as; only a member of a verified merchant may."""
    if merchant_id in (None, "", 0):
        return None
    from grassroots.merchants.models import Merchant, MerchantMember

    merchant_id = _int_id(merchant_id, field="merchant_id")
    if not MerchantMember.objects.filter(merchant_id=merchant_id, user_id=user.pk).exists():
        raise PermissionDenied(_("You can only post as a brand you belong to."), code="not_a_member")
    if not Merchant.objects.filter(pk=merchant_id, status=Merchant.Status.VERIFIED).exists():
        raise ValidationFailed(
            _("Only a verified brand can post notes."), code="merchant_not_verified", fields={"merchant_id": "invalid"}
        )
    return merchant_id


def _store_images(
    note: Note, checked: Sequence[CheckedFile], *, start: int, saved: list[tuple[Storage, str]]
) -> list[NoteImage]:
    images: list[NoteImage] = []
    for offset, item in enumerate(checked):
        image = NoteImage(note=note, width=item.width, height=item.height, position=start + offset)
        stem = uuid.uuid4().hex
        image.image.save(f"{stem}.{item.extension}", ContentFile(item.content), save=False)
        saved.append((image.image.storage, str(image.image.name)))
        image.thumbnail.save(f"{stem}.jpg", make_thumbnail(item.content, size=THUMBNAIL_SIZE), save=False)
        saved.append((image.thumbnail.storage, str(image.thumbnail.name)))
        image.save()
        images.append(image)
    return images


# --- counters, disclosure and links -------------------------------------------------------


def _is_public(note: Note) -> bool:
    return note.status == Note.Status.PUBLISHED and note.moderation == Note.Moderation.VISIBLE


def _hashtags_count(*, note_id: int, delta: int) -> None:
    Hashtag.objects.filter(note_links__note_id=note_id).update(note_count=Greatest(F("note_count") + delta, 0))


def _set_hashtags(note: Note, names: Sequence[str]) -> None:
    if names:
        Hashtag.objects.bulk_create([Hashtag(name=name) for name in names], ignore_conflicts=True)
    wanted = dict(Hashtag.objects.filter(name__in=names).values_list("pk", "name")) if names else {}
    current = set(NoteHashtag.objects.filter(note=note).values_list("hashtag_id", flat=True))
    NoteHashtag.objects.filter(note=note).exclude(hashtag_id__in=list(wanted)).delete()
    NoteHashtag.objects.bulk_create(
        [NoteHashtag(note=note, hashtag_id=pk) for pk in wanted if pk not in current], ignore_conflicts=True
    )


def _set_mentions(note: Note, user_ids: Sequence[int]) -> None:
    mentioned = [uid for uid in user_ids if uid != note.author_id]
    NoteMention.objects.filter(note=note).exclude(user_id__in=mentioned).delete()
    NoteMention.objects.bulk_create([NoteMention(note=note, user_id=uid) for uid in mentioned], ignore_conflicts=True)


def _set_products(note: Note, product_ids: Sequence[int]) -> None:
    NoteProduct.objects.filter(note=note).delete()
    NoteProduct.objects.bulk_create(
        [NoteProduct(note=note, product_id=pid, position=index) for index, pid in enumerate(product_ids)]
    )


def _active_shop(author_id: int) -> Any:
    from grassroots.shops.models import Shop

    return Shop.objects.filter(owner_id=author_id, status=Shop.Status.ACTIVE).first()


def _carried(shop: Any, product_ids: Iterable[int]) -> list[int]:
    from grassroots.shops.models import ShopItem

    ids = list(product_ids)
    if shop is None or not ids:
        return []
    return list(ShopItem.objects.filter(shop=shop, product_id__in=ids).values_list("product_id", flat=True))


def _sync_disclosure_and_links(note: Note) -> None:
    """Set is_ad when due (never clear it) and mint the shop's card links for carried products."""
    from grassroots.attribution.services import share_link_for_note

    product_ids = list(NoteProduct.objects.filter(note=note).values_list("product_id", flat=True))
    shop = _active_shop(note.author_id)
    carried = _carried(shop, product_ids)
    if (carried or note.merchant_id is not None) and not note.is_ad:
        Note.objects.filter(pk=note.pk).update(is_ad=True)
        note.is_ad = True
    if note.status == Note.Status.PUBLISHED and shop is not None:
        for product_id in carried:
            share_link_for_note(shop=shop, note_id=note.pk, product_id=product_id)
    _after_commit_card_changed(note.pk)


def notes_disclosure_refresh(*, author_id: int) -> int:
    """After a shopkeeper adds an item: label their published notes that tag a product their shop
    now carries, and mint those cards' links. Returns how many notes became labelled."""
    from grassroots.shops.models import ShopItem

    shop = _active_shop(author_id)
    if shop is None:
        return 0
    carried = ShopItem.objects.filter(shop=shop).values("product_id")
    notes = list(
        Note.objects.filter(
            author_id=author_id, status=Note.Status.PUBLISHED, product_tags__product_id__in=carried
        ).distinct()
    )
    labelled = 0
    with transaction.atomic():
        for note in notes:
            was_ad = note.is_ad
            _sync_disclosure_and_links(note)
            labelled += int(note.is_ad and not was_ad)
    return labelled


def _notify_mentions(note: Note) -> None:
    from grassroots.notifications.models import NotificationKind
    from grassroots.notifications.services import notification_send

    for user_id in NoteMention.objects.filter(note=note).values_list("user_id", flat=True):
        notification_send(
            recipient_id=user_id,
            kind=NotificationKind.MENTION,
            actor_id=note.author_id,
            target_url=note_path(note.pk),
            data={"note_id": note.pk, "title": note.title},
            dedupe_key=f"mention:note:{note.pk}",
        )


def _after_commit_published(note: Note) -> None:
    from grassroots.feeds.services import feed_note_published

    note_id = note.pk
    transaction.on_commit(lambda: feed_note_published(note_id=note_id))
    transaction.on_commit(lambda: _notify_mentions(Note.objects.get(pk=note_id)))


def _after_commit_card_changed(note_id: int) -> None:
    """The note's cached feed card is out of date once this commits."""
    from grassroots.feeds.services import feed_card_invalidate

    transaction.on_commit(lambda: feed_card_invalidate(note_ids=[note_id]))


def _after_commit_withdrawn(note_id: int) -> None:
    from grassroots.feeds.services import feed_note_withdrawn

    transaction.on_commit(lambda: feed_note_withdrawn(note_id=note_id))


def _own_note_for_update(*, user: Any, note_id: Any) -> Note:
    _signed_in(user)
    note_id = _int_id(note_id, field="note_id")
    note = Note.objects.select_for_update().filter(pk=note_id).exclude(status=Note.Status.DELETED).first()
    if note is None or note.author_id != user.pk:
        raise NotFound(_("Note not found."))
    return note


# --- writes -------------------------------------------------------------------------------


def note_create(
    *,
    author: Any,
    title: Any,
    body: Any = "",
    images: Sequence[UploadedFile] = (),
    product_ids: Sequence[Any] = (),
    merchant_id: Any = None,
    publish: bool = False,
) -> Note:
    """A draft, or with publish=True a published note. Rate-limited (NOTES_PER_HOUR per member)."""
    _signed_in(author)
    clean_title = _clean_title(title)
    clean_body = _clean_body(body)
    products = _clean_product_ids(product_ids)
    brand = _brand_merchant(user=author, merchant_id=merchant_id)
    checked = _check_images(images, already=0)
    rendered = render_body(text=clean_body, author_id=author.pk)
    rate_limit_hit(scope="notes", key=str(author.pk), limit=gr_setting("NOTES_PER_HOUR"), window_seconds=3600)
    now = timezone.now()
    with files_removed_on_error() as saved, transaction.atomic():
        note = Note.objects.create(
            author=author,
            merchant_id=brand,
            title=clean_title,
            body=clean_body,
            body_html=rendered.html,
            created_at=now,
            updated_at=now,
        )
        _store_images(note, checked, start=0, saved=saved)
        _set_products(note, products)
        _set_hashtags(note, rendered.hashtags)
        _set_mentions(note, rendered.mention_ids)
        _sync_disclosure_and_links(note)
        if publish:
            _publish(note, now=now)
    return note


def _publish(note: Note, *, now: Any) -> None:
    Note.objects.filter(pk=note.pk).update(status=Note.Status.PUBLISHED, published_at=now, updated_at=now)
    note.status, note.published_at, note.updated_at = Note.Status.PUBLISHED, now, now
    _sync_disclosure_and_links(note)
    if _is_public(note):
        _hashtags_count(note_id=note.pk, delta=1)
        _after_commit_published(note)


def note_publish(*, user: Any, note_id: Any) -> Note:
    """Publish a draft (publishing a published note changes nothing)."""
    with transaction.atomic():
        note = _own_note_for_update(user=user, note_id=note_id)
        if note.status == Note.Status.DRAFT:
            _publish(note, now=timezone.now())
    return note


def note_update(
    *,
    user: Any,
    note_id: Any,
    title: Any = None,
    body: Any = None,
    product_ids: Sequence[Any] | None = None,
    image_order: Sequence[Any] | None = None,
    new_images: Sequence[UploadedFile] = (),
) -> Note:
    """Edit the author's own note. `image_order` lists the ids of the images to keep, in order (the
    others are removed); `new_images` are appended. None leaves a field as it is."""
    _signed_in(user)
    clean_title = _clean_title(title) if title is not None else None
    clean_body = _clean_body(body) if body is not None else None
    products = _clean_product_ids(product_ids) if product_ids is not None else None
    removed_files: list[tuple[Storage, str]] = []
    with files_removed_on_error() as saved, transaction.atomic():
        note = _own_note_for_update(user=user, note_id=note_id)
        current = list(NoteImage.objects.filter(note=note).order_by("position", "id"))
        if image_order is not None:
            by_id = {image.pk: image for image in current}
            order = list(dict.fromkeys(_int_id(value, field="image_order") for value in image_order))
            unknown = [pk for pk in order if pk not in by_id]
            if unknown:
                raise ValidationFailed(
                    _("These images are not in the note."), code="unknown_image", fields={"image_order": unknown}
                )
            kept = [by_id[pk] for pk in order]
        else:
            kept = current
        checked = _check_images(new_images, already=len(kept))
        was_public = _is_public(note)
        if was_public:
            _hashtags_count(note_id=note.pk, delta=-1)
        kept_ids = {image.pk for image in kept}
        for image in current:
            if image.pk not in kept_ids:
                removed_files += [
                    (image.image.storage, str(image.image.name)),
                    (image.thumbnail.storage, str(image.thumbnail.name)),
                ]
        NoteImage.objects.filter(note=note).exclude(pk__in=kept_ids).delete()
        for position, image in enumerate(kept):
            if image.position != position:
                NoteImage.objects.filter(pk=image.pk).update(position=position)
        _store_images(note, checked, start=len(kept), saved=saved)
        changes: dict[str, Any] = {"updated_at": timezone.now()}
        if clean_title is not None:
            changes["title"] = clean_title
        if clean_body is not None:
            rendered = render_body(text=clean_body, author_id=note.author_id)
            changes["body"] = clean_body
            changes["body_html"] = rendered.html
            _set_hashtags(note, rendered.hashtags)
            _set_mentions(note, rendered.mention_ids)
        Note.objects.filter(pk=note.pk).update(**changes)
        for field, value in changes.items():
            setattr(note, field, value)
        if products is not None:
            _set_products(note, products)
        _sync_disclosure_and_links(note)
        if was_public:
            _hashtags_count(note_id=note.pk, delta=1)
        if note.status == Note.Status.PUBLISHED and clean_body is not None:
            note_id_ = note.pk
            transaction.on_commit(lambda: _notify_mentions(Note.objects.get(pk=note_id_)))
        for storage, name in removed_files:
            transaction.on_commit(lambda storage=storage, name=name: storage.delete(name))  # type: ignore[misc]
    return note


def note_images_add(*, user: Any, note_id: Any, images: Sequence[UploadedFile]) -> Note:
    """Append images to the author's note (the JSON-then-images way of composing)."""
    return note_update(user=user, note_id=note_id, new_images=images)


def note_delete(*, user: Any, note_id: Any) -> None:
    """Soft delete by the author: gone for readers, feeds and hashtag counts."""
    with transaction.atomic():
        note = _own_note_for_update(user=user, note_id=note_id)
        was_public = _is_public(note)
        if was_public:
            _hashtags_count(note_id=note.pk, delta=-1)
        now = timezone.now()
        Note.objects.filter(pk=note.pk).update(status=Note.Status.DELETED, deleted_at=now, updated_at=now)
        _after_commit_card_changed(note.pk)
        if was_public:
            _after_commit_withdrawn(note.pk)


def note_moderate(*, note_id: Any, action: ModerationAction | str, reason: str, moderator: Any) -> Note:
    """Hide (pending review), remove (taken down) or restore a note, with the reason the author is
    told. Curators only. Hashtag counts and feeds follow the note's visibility."""
    if not getattr(moderator, "is_authenticated", False) or not getattr(moderator, "is_curator", False):
        raise PermissionDenied(_("Only curators can moderate."), code="not_a_curator")
    states = {
        "hide": Note.Moderation.HIDDEN,
        "remove": Note.Moderation.REMOVED,
        "restore": Note.Moderation.VISIBLE,
    }
    if action not in states:
        raise ValidationFailed(_("Unknown action."), code="invalid_action", fields={"action": "invalid"})
    reason = (reason or "").replace("\x00", "").strip()[:1000]
    if action != "restore" and not reason:
        raise ValidationFailed(_("Give a reason."), code="reason_required", fields={"reason": "required"})
    with transaction.atomic():
        note = Note.objects.select_for_update().filter(pk=_int_id(note_id, field="note_id")).first()
        if note is None:
            raise NotFound(_("Note not found."))
        was_public = _is_public(note)
        note.moderation = states[action]
        note.moderation_reason = reason
        Note.objects.filter(pk=note.pk).update(moderation=note.moderation, moderation_reason=reason)
        _after_commit_card_changed(note.pk)
        now_public = _is_public(note)
        if was_public and not now_public:
            _hashtags_count(note_id=note.pk, delta=-1)
            _after_commit_withdrawn(note.pk)
        elif now_public and not was_public:
            _hashtags_count(note_id=note.pk, delta=1)
            from grassroots.feeds.services import feed_note_published

            note_pk = note.pk
            transaction.on_commit(lambda: feed_note_published(note_id=note_pk))
        from grassroots.notifications.models import NotificationKind
        from grassroots.notifications.services import notification_send

        author_id, title, pk = note.author_id, note.title, note.pk
        transaction.on_commit(
            lambda: notification_send(
                recipient_id=author_id,
                kind=NotificationKind.MODERATION,
                target_url=note_path(pk),
                data={"note_id": pk, "title": title, "action": action, "reason": reason},
            )
        )
    return note


# --- sharing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedNote:
    url: str  # absolute when base_url was given
    path: str
    code: str  # the share link's code; "" for a plain note URL (the author has no shop)
    qr_svg: str
    share_count: int


def note_share(*, note_id: Any, user: Any, base_url: str = "") -> SharedNote:
    """The note's share URL: through the author's shop note link when the author keeps an active
    shop (clicks attribute to it), else the plain note URL; with its QR code. share_count counts
    each member once per note."""
    from grassroots.attribution.qr import qr_image
    from grassroots.attribution.selectors import share_link_path
    from grassroots.attribution.services import share_link_for_note
    from grassroots.notes.selectors import note_for_viewer

    _signed_in(user)
    note = note_for_viewer(note_id=_int_id(note_id, field="note_id"), viewer=user)
    if not _is_public(note):
        raise Conflict(_("Only published notes can be shared."), code="note_not_public")
    with transaction.atomic():
        shop = _active_shop(note.author_id)
        if shop is not None:
            link = share_link_for_note(shop=shop, note_id=note.pk)
            path, code = share_link_path(link), link.code
        else:
            path, code = note_path(note.pk), ""
        _obj, created = NoteShare.objects.get_or_create(note_id=note.pk, user_id=user.pk)
        if created:
            note_counter_add(note_id=note.pk, counter="share_count", delta=1)
    url = f"{base_url.rstrip('/')}{path}"
    count = Note.objects.filter(pk=note.pk).values_list("share_count", flat=True).get()
    return SharedNote(url=url, path=path, code=code, qr_svg=qr_image(url=url, fmt="svg").decode(), share_count=count)
