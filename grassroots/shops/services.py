"""Writes for shops: open one (free, one step), edit it, pick products, and merchants' commission rates.

Opening a shop never costs anything and moves no money: no ledger entry, no payment. Shopkeepers earn
only commission on real, unreturned sales (commissions app), at most two reward levels.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from grassroots.catalog.models import Product
from grassroots.catalog.selectors import products_listed
from grassroots.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from grassroots.core.numbers import digits_int
from grassroots.core.storage import files_removed_on_error
from grassroots.core.text import clean_plain_text
from grassroots.core.uploads import check_image, make_thumbnail
from grassroots.ledger.splits import BPS
from grassroots.shops.conf import shops_setting
from grassroots.shops.models import (
    MAX_SHOP_ITEMS,
    NAME_MAX_LENGTH,
    PITCH_MAX_LENGTH,
    RATE_MAX_BPS,
    RATE_MIN_BPS,
    RECOMMENDATION_MAX_LENGTH,
    CommissionRate,
    Shop,
    ShopItem,
)
from grassroots.shops.selectors import commission_rate_at, shop_for_user

AVATAR_PX = 400
MAX_POSITION = 10_000
MAX_ID = 2**63 - 1
SLUG_BASE_LENGTH = 40
# Paths under /shops/ that a shop slug must never shadow.
RESERVED_SLUGS = frozenset({"open", "mine", "select", "merchant", "pool", "new", "edit", "api", "admin", "static"})


# --- input checks -------------------------------------------------------------------------


def _check_id(value: Any, *, field: str) -> int:
    if isinstance(value, str):
        value = digits_int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ValidationFailed(_("Give a valid id."), fields={field: "invalid"})
    return value


def _clean_text(value: Any, *, field: str, max_length: int, required: bool) -> str:
    """Plain text, no markup however it is encoded; over-long text is refused rather than cut."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(_("Enter text."), fields={field: "invalid"})
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
        raise ValidationFailed(_("This field is required."), code="required", fields={field: "required"})
    return text


def shop_details_clean(*, name: Any, pitch: Any) -> dict[str, str]:
    """A shop's name and pitch as they are stored (the rules of shop_update), for staff edits in the
    admin; 422 naming the field otherwise."""
    return {
        "name": _clean_text(name, field="name", max_length=NAME_MAX_LENGTH, required=True),
        "pitch": _clean_text(pitch, field="pitch", max_length=PITCH_MAX_LENGTH, required=False),
    }


def _signed_in(user: Any) -> None:
    if not getattr(user, "is_authenticated", False):
        raise PermissionDenied(_("Sign in first."), code="unauthenticated")


def _own_shop(user: Any) -> Shop:
    shop = shop_for_user(user=user)
    if shop is None:
        raise NotFound(_("You have no shop yet."), code="no_shop")
    return shop


# --- shops --------------------------------------------------------------------------------


def _slug_candidates(name: str) -> Iterator[str]:
    readable = slugify(name)[:SLUG_BASE_LENGTH].strip("-")
    # Names with no Latin letters (e.g. Chinese) slugify to nothing: they get "shop-" plus a random tail.
    base = readable or "shop"
    if readable and readable not in RESERVED_SLUGS and len(readable) >= 3:
        yield readable
    for _attempt in range(8):
        yield f"{base}-{secrets.token_hex(3)}"


def shop_open(*, user: Any, name: str, pitch: str = "", accept_terms: bool) -> Shop:
    """One step and free: a name, an optional pitch and the accepted terms make a shop.

    422 `terms_required` without the terms, 409 `already_shopkeeper` for a second shop.
    """
    _signed_in(user)
    clean_name = _clean_text(name, field="name", max_length=NAME_MAX_LENGTH, required=True)
    clean_pitch = _clean_text(pitch, field="pitch", max_length=PITCH_MAX_LENGTH, required=False)
    if accept_terms is not True:
        raise ValidationFailed(
            _("Accept the shopkeeper terms to open a shop."), code="terms_required", fields={"accept_terms": "required"}
        )
    already = Conflict(_("You already have a shop."), code="already_shopkeeper")
    if Shop.objects.filter(owner_id=user.pk).exists():
        raise already
    for slug in _slug_candidates(clean_name):
        if Shop.objects.filter(slug=slug).exists():
            continue
        try:
            with transaction.atomic():
                return Shop.objects.create(
                    owner=user, slug=slug, name=clean_name, pitch=clean_pitch, terms_accepted_at=timezone.now()
                )
        except IntegrityError:
            # Either a concurrent open by the same user (owner is unique) or the slug was just taken.
            if Shop.objects.filter(owner_id=user.pk).exists():
                raise already from None
    raise Conflict(_("Could not find a free address for the shop; try another name."), code="slug_unavailable")


def shop_update(
    *,
    user: Any,
    shop: Shop,
    name: str | None = None,
    pitch: str | None = None,
    avatar: UploadedFile | None = None,
) -> Shop:
    """Change the name, pitch or avatar (None leaves a field as it is). Only the owner."""
    _signed_in(user)
    if shop.owner_id != user.pk:
        raise NotFound(_("Shop not found."))
    updates: dict[str, Any] = {}
    if name is not None:
        updates["name"] = _clean_text(name, field="name", max_length=NAME_MAX_LENGTH, required=True)
    if pitch is not None:
        updates["pitch"] = _clean_text(pitch, field="pitch", max_length=PITCH_MAX_LENGTH, required=False)
    # Judged by content before anything is written; re-encoded so no EXIF (and no location) survives.
    checked = check_image(avatar, field="avatar") if avatar is not None else None
    old_avatar = shop.avatar.name if shop.avatar else ""
    with files_removed_on_error() as saved, transaction.atomic():
        fresh = Shop.objects.select_for_update().get(pk=shop.pk)
        for field, value in updates.items():
            setattr(fresh, field, value)
        if checked is not None:
            fresh.avatar.save(
                f"{secrets.token_hex(10)}.jpg", make_thumbnail(checked.content, size=AVATAR_PX), save=False
            )
            saved.append((fresh.avatar.storage, str(fresh.avatar.name)))
            updates["avatar"] = fresh.avatar.name
        if updates:
            fresh.save(update_fields=list(updates))
        if checked is not None and old_avatar:
            storage = fresh.avatar.storage
            transaction.on_commit(lambda: storage.delete(old_avatar))
    return fresh


def shop_status_set(*, shop: Shop, actor: Any, status: Any) -> Shop:
    """Staff pause, suspend or reopen (`active`) a shop. Needs the shops.change_shop permission
    (the admin's); 422 `invalid_status` for a status that does not exist, 409 `concurrent_change`
    when another change won the race. Setting the current status writes nothing."""
    if not getattr(actor, "is_authenticated", False) or not actor.has_perm("shops.change_shop"):
        raise PermissionDenied(_("Only staff may change a shop's status."))
    if not isinstance(status, str) or status not in Shop.Status.values:
        raise ValidationFailed(_("Unknown shop status."), code="invalid_status", fields={"status": "invalid"})
    with transaction.atomic():
        current = Shop.objects.filter(pk=shop.pk).values_list("status", flat=True).first()
        if current is None:
            raise NotFound(_("Shop not found."))
        if current != status:
            if Shop.objects.filter(pk=shop.pk, status=current).update(status=status) != 1:
                raise Conflict(
                    _("The shop changed meanwhile; reload and try again."), code="concurrent_change", transient=True
                )
            owner_id = shop.owner_id
            if status == Shop.Status.ACTIVE:
                # Notes published or items added while the shop was not active got no label or card
                # links (the shop earns again from now): as after adding an item.
                from grassroots.notes.services import notes_disclosure_refresh

                transaction.on_commit(lambda: notes_disclosure_refresh(author_id=owner_id))
            # The owner's cards link through the shop only while it is active.
            from grassroots.feeds.services import feed_card_invalidate_authors

            transaction.on_commit(lambda: feed_card_invalidate_authors(author_ids=[owner_id]))
    shop.status = status
    return shop


def shop_item_add(*, user: Any, product_id: Any, recommendation: str = "") -> ShopItem:
    """Put a product from the pool into the user's shop with their recommendation.

    422 `not_available` unless buyers can see the product (listed, verified merchant); 409
    `already_in_shop` for a duplicate; 422 `shop_full` past MAX_SHOP_ITEMS.
    """
    _signed_in(user)
    shop = _own_shop(user)
    product_id = _check_id(product_id, field="product_id")
    text = _clean_text(recommendation, field="recommendation", max_length=RECOMMENDATION_MAX_LENGTH, required=False)
    if not products_listed().filter(pk=product_id).exists():
        raise ValidationFailed(
            _("This product is not available for shops."), code="not_available", fields={"product_id": "not_available"}
        )
    duplicate = Conflict(_("This product is already in your shop."), code="already_in_shop")
    if ShopItem.objects.filter(shop=shop, product_id=product_id).exists():
        raise duplicate
    with transaction.atomic():
        grown = Shop.objects.filter(pk=shop.pk, item_count__lt=MAX_SHOP_ITEMS).update(item_count=F("item_count") + 1)
        if grown != 1:
            raise ValidationFailed(
                _("A shop holds at most %(n)s products; remove one first.") % {"n": MAX_SHOP_ITEMS},
                code="shop_full",
                fields={"product_id": "shop_full"},
            )
        try:
            with transaction.atomic():
                item = ShopItem.objects.create(shop=shop, product_id=product_id, recommendation=text)
        except IntegrityError:
            raise duplicate from None  # the counter rolls back with the outer block
        # The shopkeeper now earns on this product: label their notes that tag it (disclosure).
        from grassroots.notes.services import notes_disclosure_refresh

        owner_id = shop.owner_id
        transaction.on_commit(lambda: notes_disclosure_refresh(author_id=owner_id))
        return item


def shop_item_update(*, user: Any, item_id: Any, recommendation: str | None = None, position: Any = None) -> ShopItem:
    """Edit the recommendation or position (0 first) of one of the user's items; others' are 404."""
    _signed_in(user)
    item_id = _check_id(item_id, field="item_id")
    item = ShopItem.objects.filter(pk=item_id, shop__owner_id=user.pk).first()
    if item is None:
        raise NotFound(_("Item not found."))
    fields: list[str] = []
    if recommendation is not None:
        item.recommendation = _clean_text(
            recommendation, field="recommendation", max_length=RECOMMENDATION_MAX_LENGTH, required=False
        )
        fields.append("recommendation")
    if position is not None:
        if isinstance(position, str):
            position = digits_int(position, max_digits=7)
        if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= MAX_POSITION:
            raise ValidationFailed(
                _("Position must be from 0 to %(n)s.") % {"n": MAX_POSITION}, fields={"position": "out_of_range"}
            )
        item.position = position
        fields.append("position")
    if fields:
        item.save(update_fields=fields)
    return item


def shop_item_remove(*, user: Any, item_id: Any) -> None:
    """Take one of the user's items out of their shop; anyone else's is 404."""
    _signed_in(user)
    item_id = _check_id(item_id, field="item_id")
    with transaction.atomic():
        item = ShopItem.objects.filter(pk=item_id, shop__owner_id=user.pk).first()
        if item is None:
            raise NotFound(_("Item not found."))
        deleted, _rows = ShopItem.objects.filter(pk=item.pk).delete()
        if deleted:
            Shop.objects.filter(pk=item.shop_id, item_count__gt=0).update(item_count=F("item_count") - 1)
            # The owner's note cards tagging it no longer link through the shop.
            from grassroots.feeds.services import feed_card_invalidate_shop_products

            owner_id, product_id = user.pk, item.product_id
            transaction.on_commit(
                lambda: feed_card_invalidate_shop_products(owner_id=owner_id, product_ids=[product_id])
            )


# --- commission rates ---------------------------------------------------------------------


def _check_rate(value: Any) -> int:
    fee = shops_setting("PLATFORM_FEE_BPS")
    ceiling = min(RATE_MAX_BPS, BPS - fee)
    if isinstance(value, str):
        value = digits_int(value, max_digits=7)
    if isinstance(value, bool) or not isinstance(value, int) or not RATE_MIN_BPS <= value <= ceiling:
        raise ValidationFailed(
            _("The commission rate must be from %(low)s%% to %(high)s%%.")
            % {"low": RATE_MIN_BPS // 100, "high": f"{ceiling / 100:g}"},
            code="rate_out_of_range",
            fields={"rate_bps": "out_of_range"},
        )
    return value


def commission_rate_set(*, actor: Any, product_id: Any, rate_bps: Any) -> CommissionRate:
    """A member of the product's merchant sets its commission rate (basis points, 1-80%).

    An increase (or the first rate) takes effect now; a decrease only after
    COMMISSION_DECREASE_NOTICE_DAYS, so links shared before the notice keep the old rate meanwhile.
    A new decision cancels any change still waiting to take effect. Setting the rate in effect with
    nothing pending writes nothing. Returns the row that decides the rate from now on.
    """
    product_id = _check_id(product_id, field="product_id")
    if not getattr(actor, "is_authenticated", False) or not (
        Product.objects.filter(pk=product_id, merchant__memberships__user=actor).exists()
    ):
        raise NotFound(_("Product not found."))
    rate = _check_rate(rate_bps)
    with transaction.atomic():
        # Serialises concurrent decisions on one product (PostgreSQL; SQLite writes are serial anyway).
        list(Product.objects.select_for_update().filter(pk=product_id).values_list("pk", flat=True))
        now = timezone.now()
        cancelled = CommissionRate.objects.filter(
            product_id=product_id, effective_from__gt=now, cancelled_at__isnull=True
        ).update(cancelled_at=now)
        current = commission_rate_at(product_id=product_id, at=now)
        if rate == current and not cancelled:
            row = (
                CommissionRate.objects.filter(product_id=product_id, effective_from__lte=now, cancelled_at__isnull=True)
                .order_by("-effective_from", "-id")
                .first()
            )
            if row is not None:
                return row
        effective_from = now
        if rate < current:
            effective_from = now + timedelta(days=shops_setting("COMMISSION_DECREASE_NOTICE_DAYS"))
        return CommissionRate.objects.create(
            product_id=product_id, rate_bps=rate, effective_from=effective_from, created_by=actor
        )
