"""Writes for reviews: a buyer reviews a received order line, its merchant replies once, curators hide."""

from __future__ import annotations

import io
import secrets
from collections.abc import Sequence
from typing import Any

from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image

from grassroots.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from grassroots.core.numbers import digits_int
from grassroots.core.storage import files_removed_on_error
from grassroots.core.text import clean_plain_text
from grassroots.core.uploads import CheckedFile, check_image, make_thumbnail
from grassroots.merchants.selectors import merchant_for_member, user_is_curator
from grassroots.orders.models import Order, OrderLine
from grassroots.reviews.models import (
    MAX_PHOTOS,
    RATING_MAX,
    RATING_MIN,
    REASON_MAX_LENGTH,
    REPLY_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    MerchantReply,
    Review,
    ReviewPhoto,
)

REVIEWABLE_STATUSES = (Order.Status.DELIVERED, Order.Status.COMPLETED)
# Photos are re-encoded (orientation applied, EXIF and its GPS position dropped): buyers' phone
# pictures must not publish where they live.
PHOTO_PX = 1600
THUMBNAIL_PX = 320
MAX_ID = 2**63 - 1


def _check_id(value: Any, *, field: str) -> int:
    if isinstance(value, bool):
        value = None
    if isinstance(value, str):
        value = digits_int(value)
    if not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ValidationFailed(_("Give a valid id."), fields={field: "invalid"})
    return value


def _check_rating(value: Any) -> int:
    """An int 1..5; a form sends it as a string of digits. Anything else (bools, floats, "x") is a 422."""
    rating: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        rating = value
    elif isinstance(value, str):
        rating = digits_int(value, max_digits=2)
    if rating is None or not RATING_MIN <= rating <= RATING_MAX:
        raise ValidationFailed(
            _("Choose a rating from %(low)s to %(high)s stars.") % {"low": RATING_MIN, "high": RATING_MAX},
            code="invalid_rating",
            fields={"rating": "out_of_range"},
        )
    return rating


def _clean_text(value: Any, *, field: str, max_length: int, required: bool) -> str:
    """Plain text with no markup left in it.

    clean_plain_text strips tags and then unescapes entities, so `&lt;script&gt;` would come out as a
    literal tag; cleaning until nothing changes leaves text that holds no tags however it is encoded.
    Over-long text is refused rather than cut, so a buyer never loses words silently.
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(_("Text is required."), fields={field: "invalid"})
    if len(value) > max_length * 4:
        raise ValidationFailed(
            _("At most %(n)s characters.") % {"n": max_length}, code="text_too_long", fields={field: "too_long"}
        )
    text = value
    for _pass in range(8):
        cleaned = clean_plain_text(text, max_length=len(text) + 1)
        if cleaned == text:
            break
        text = cleaned
    else:
        raise ValidationFailed(_("The text could not be read."), code="invalid_text", fields={field: "invalid"})
    if len(text) > max_length:
        raise ValidationFailed(
            _("At most %(n)s characters.") % {"n": max_length}, code="text_too_long", fields={field: "too_long"}
        )
    if required and not text:
        raise ValidationFailed(_("Write something first."), code="text_required", fields={field: "required"})
    return text


def _check_photos(photos: Sequence[UploadedFile] | None) -> list[CheckedFile]:
    """Judge every upload by its content before anything is written."""
    photos = list(photos or [])
    if len(photos) > MAX_PHOTOS:
        raise ValidationFailed(
            _("At most %(n)s photos per review.") % {"n": MAX_PHOTOS},
            code="too_many_photos",
            fields={"photos": "too_many"},
        )
    return [check_image(photo, field="photos") for photo in photos]


def _photo_store(
    *, review: Review, checked: CheckedFile, position: int, saved: list[tuple[Storage, str]]
) -> ReviewPhoto:
    display = make_thumbnail(checked.content, size=PHOTO_PX)
    with Image.open(io.BytesIO(display.read())) as probe:
        width, height = probe.size
    display.seek(0)
    photo = ReviewPhoto(review=review, width=width, height=height, position=position)
    stem = secrets.token_hex(10)
    photo.image.save(f"{stem}.jpg", display, save=False)
    saved.append((photo.image.storage, str(photo.image.name)))
    photo.thumbnail.save(f"{stem}.jpg", make_thumbnail(checked.content, size=THUMBNAIL_PX), save=False)
    saved.append((photo.thumbnail.storage, str(photo.thumbnail.name)))
    photo.save()
    return photo


def _already_reviewed() -> Conflict:
    return Conflict(_("You have already reviewed this item."), code="already_reviewed")


def review_create(
    *, buyer: Any, order_line_id: Any, rating: Any, text: Any, photos: Sequence[UploadedFile] | None
) -> Review:
    """The buyer of a delivered or completed order line rates it once, with optional text and photos.

    Someone else's line is a 404; an order not yet received is a 422 (not_delivered); a second review
    of the same line is a 409 (already_reviewed), settled by the UNIQUE index under concurrency.
    Nothing is written, and no file is left behind, when anything fails.
    """
    line_id = _check_id(order_line_id, field="order_line_id")
    buyer_id = getattr(buyer, "pk", None)
    line = (
        OrderLine.objects.select_related("order").filter(pk=line_id, order__buyer_id=buyer_id).first()
        if buyer_id is not None
        else None
    )
    if line is None:
        raise NotFound(_("Order line not found."))
    if line.order.status not in REVIEWABLE_STATUSES:
        raise ValidationFailed(
            _("You can review this item once the order is delivered."),
            code="not_delivered",
            fields={"order_line_id": "not_delivered"},
        )
    if line.refunded_quantity >= line.quantity:
        raise ValidationFailed(
            _("This item was returned, so it can no longer be reviewed."),
            code="returned",
            fields={"order_line_id": "returned"},
        )
    if Review.objects.filter(order_line_id=line.pk).exists():
        raise _already_reviewed()
    checked_rating = _check_rating(rating)
    checked_text = _clean_text(text, field="text", max_length=TEXT_MAX_LENGTH, required=False)
    checked_photos = _check_photos(photos)
    with files_removed_on_error() as saved:
        try:
            with transaction.atomic():
                review = Review.objects.create(
                    order_line=line,
                    product_id=line.product_id,
                    buyer_id=line.order.buyer_id,
                    rating=checked_rating,
                    text=checked_text,
                )
                for position, checked in enumerate(checked_photos):
                    _photo_store(review=review, checked=checked, position=position, saved=saved)
        except IntegrityError:
            raise _already_reviewed() from None
    return review


def _review_not_found() -> NotFound:
    return NotFound(_("Review not found."))


def review_reply(*, actor: Any, review_id: Any, text: Any) -> MerchantReply:
    """A member of the reviewed product's merchant answers publicly, once. Anyone else gets a 404."""
    review_id = _check_id(review_id, field="review_id")
    review = Review.objects.select_related("product").filter(pk=review_id).first()
    if review is None:
        raise _review_not_found()
    try:
        merchant = merchant_for_member(user=actor, merchant_id=review.product.merchant_id)
    except NotFound:
        raise _review_not_found() from None
    if MerchantReply.objects.filter(review_id=review.pk).exists():
        raise Conflict(_("This review already has a reply."), code="already_replied")
    checked_text = _clean_text(text, field="text", max_length=REPLY_MAX_LENGTH, required=True)
    try:
        with transaction.atomic():
            reply = MerchantReply.objects.create(review=review, merchant=merchant, author=actor, text=checked_text)
    except IntegrityError:
        raise Conflict(_("This review already has a reply."), code="already_replied") from None
    return reply


def review_hide(*, actor: Any, review_id: Any, reason: Any) -> Review:
    """A curator takes a review off the product page (abuse, spam, a fake purchase). Hiding twice is
    harmless: the first reason and curator are kept."""
    if not user_is_curator(user=actor):
        raise PermissionDenied(_("Only curators may do this."), code="not_curator")
    review_id = _check_id(review_id, field="review_id")
    checked_reason = _clean_text(reason, field="reason", max_length=REASON_MAX_LENGTH, required=True)
    if not Review.objects.filter(pk=review_id).exists():
        raise _review_not_found()
    Review.objects.filter(pk=review_id, status=Review.Status.VISIBLE).update(
        status=Review.Status.HIDDEN, hidden_reason=checked_reason, hidden_by=actor, hidden_at=timezone.now()
    )
    return Review.objects.get(pk=review_id)
