"""Merchant-side writes for the catalog: categories, products, variants (SKUs), images, revisions.

A listed product is what buyers see. A material edit of it (content, images, a price rise, variants
added or removed) waits as a ProductRevision until screening passes, while the old version stays
listed; price cuts, stock and purchase limits apply at once. Draft, rejected and changes-requested
products are edited in place.

Every write re-reads the product scoped to the actor's memberships: another merchant's product is
NotFound, never PermissionDenied, so ids do not leak.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, Prefetch, Q, QuerySet
from django.utils.text import slugify
from django.utils.translation import gettext as _

from grassroots.catalog.models import Category, Product, ProductImage, ProductRevision, ProductStatusChange, Sku
from grassroots.catalog.stock import stock_set
from grassroots.catalog.workflow import product_refresh_denormalised
from grassroots.core.conf import gr_setting
from grassroots.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from grassroots.core.storage import files_removed_on_error
from grassroots.core.text import clean_plain_text, render_markdown
from grassroots.core.uploads import CheckedFile, check_image, make_thumbnail
from grassroots.curation.models import Submission
from grassroots.curation.selectors import product_latest_submission
from grassroots.curation.services import submission_open
from grassroots.merchants.models import Merchant
from grassroots.merchants.selectors import (
    merchant_for_member,
    merchant_is_selling,
    merchants_for_user,
    user_active_merchant,
)

S = Product.Status
PENDING = ProductRevision.State.PENDING

MAX_IMAGES = 9
MAX_SKUS = 50
MAX_OPTIONS = 5
# Far below BIGINT, so sums over many order lines cannot overflow.
MAX_PRICE = 10**12
# Sku.stock is a 32-bit IntegerField.
MAX_STOCK = 1_000_000_000
MAX_PER_USER = 100_000
MAX_DESCRIPTION = 20_000
THUMBNAIL_PX = 480
TEXT_LIMITS = {"title_en": 160, "title_zh": 160, "brand": 80, "origin": 80}
CONTENT_FIELDS = ("title_en", "title_zh", "brand", "origin", "description_md", "category_id")
UPDATABLE = frozenset({*CONTENT_FIELDS, "skus", "new_images", "remove_image_ids"})
# Edited in place: nobody is buying these and screening will see the whole product anyway.
EDITABLE_STATUSES = frozenset({S.DRAFT, S.CHANGES_REQUESTED, S.REJECTED})
SKU_CODE_RE = re.compile(r"^[\w.\-/]{1,64}$")
CATEGORY_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class SkuSpec:
    code: str
    options: dict[str, str]
    price_amount: int
    stock: int
    max_per_user: int


@dataclass
class ProductChange:
    """What an update did: `applied` changed at once, `pending` waits in `revision` for screening."""

    product: Product
    revision: ProductRevision | None = None
    applied: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    new_images: list[ProductImage] = field(default_factory=list)


class _Errors:
    """Collects every field problem so one 422 names them all; the first code wins."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self._first: tuple[str, str] | None = None

    def add(self, name: str, reason: str, *, code: str = "invalid", message: str) -> None:
        self.fields.setdefault(name, reason)
        if self._first is None:
            self._first = (code, message)

    def raise_if_any(self) -> None:
        if self._first is not None:
            code, message = self._first
            raise ValidationFailed(message, code=code, fields=self.fields)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


# Who may act ------------------------------------------------------------------------------------


def acting_merchant(*, actor: Any, merchant_id: int | None) -> Merchant:
    """The merchant `actor` works for: 403 if they belong to none, 404 for someone else's id."""
    if not getattr(actor, "is_authenticated", False) or not merchants_for_user(user=actor).exists():
        raise PermissionDenied(_("Only members of a merchant can manage products."), code="not_a_merchant")
    if merchant_id is None:
        merchant = user_active_merchant(user=actor)
        if merchant is None:
            raise PermissionDenied(_("Only members of a merchant can manage products."), code="not_a_merchant")
        return merchant
    if not _is_int(merchant_id):
        raise NotFound(_("Merchant not found."))
    return merchant_for_member(user=actor, merchant_id=merchant_id)


def _require_selling(merchant: Merchant) -> None:
    if not merchant_is_selling(merchant=merchant):
        raise PermissionDenied(
            _("Your merchant account must be verified before it can list products."), code="merchant_not_verified"
        )


def _owned_product(*, actor: Any, product: Product) -> Product:
    """A fresh copy of `product`, only if `actor` belongs to its merchant."""
    if not getattr(actor, "is_authenticated", False):
        raise NotFound(_("Product not found."))
    fresh = Product.objects.select_related("merchant").filter(pk=product.pk, merchant__memberships__user=actor).first()
    if fresh is None:
        raise NotFound(_("Product not found."))
    return fresh


# Input checks -----------------------------------------------------------------------------------


def _clean_content(changes: Mapping[str, Any], errors: _Errors) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for name, limit in TEXT_LIMITS.items():
        if name not in changes:
            continue
        raw = changes[name] if changes[name] is not None else ""
        if not isinstance(raw, str):
            errors.add(name, "invalid", message=_("Enter text."))
            continue
        value = " ".join(clean_plain_text(raw, max_length=limit * 4).split())
        if len(value) > limit:
            errors.add(name, "too_long", message=_("At most %(n)s characters.") % {"n": limit})
            continue
        content[name] = value
    if "description_md" in changes:
        raw = changes["description_md"] if changes["description_md"] is not None else ""
        if not isinstance(raw, str):
            errors.add("description_md", "invalid", message=_("Enter text."))
        elif len(raw) > MAX_DESCRIPTION:
            errors.add("description_md", "too_long", message=_("At most %(n)s characters.") % {"n": MAX_DESCRIPTION})
        else:
            content["description_md"] = raw.strip()
    return content


def _require_title(*, title_en: str, title_zh: str, errors: _Errors) -> None:
    if not title_en and not title_zh:
        errors.add("title_en", "required", code="title_required", message=_("Give the product a title."))


def _clean_category(value: Any, errors: _Errors) -> Category | None:
    category = Category.objects.filter(pk=value).first() if _is_int(value) else None
    if category is None:
        errors.add("category_id", "unknown", code="unknown_category", message=_("Choose an existing category."))
    return category


def _clean_options(raw: Any, prefix: str, errors: _Errors) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or len(raw) > MAX_OPTIONS:
        errors.add(
            f"{prefix}.options",
            "invalid",
            message=_("Options are up to %(n)s names with text values, e.g. size and colour.") % {"n": MAX_OPTIONS},
        )
        return {}
    options: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not isinstance(value, str):
            errors.add(f"{prefix}.options", "invalid", message=_("Option names and values must be text."))
            return {}
        name = clean_plain_text(key, max_length=120).strip()
        text = clean_plain_text(value, max_length=240).strip()
        if not name or len(name) > 30 or len(text) > 60:
            errors.add(f"{prefix}.options", "invalid", message=_("Option names are 1-30 characters, values 0-60."))
            return {}
        if text:
            options[name] = text
    return options


def _clean_skus(raw: Any, errors: _Errors) -> list[SkuSpec]:
    if not isinstance(raw, list | tuple):
        errors.add("skus", "invalid", message=_("Variants must be a list."))
        return []
    if len(raw) > MAX_SKUS:
        errors.add("skus", "too_many", message=_("At most %(n)s variants.") % {"n": MAX_SKUS})
        return []
    specs: list[SkuSpec] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        prefix = f"skus.{index}"
        if not isinstance(item, Mapping):
            errors.add(prefix, "invalid", message=_("Each variant is an object."))
            continue
        code = item.get("code")
        code = code.strip() if isinstance(code, str) else ""
        if not SKU_CODE_RE.match(code):
            errors.add(
                f"{prefix}.code",
                "invalid",
                message=_("A variant code is 1-64 letters, digits, dots, dashes or slashes."),
            )
            continue
        if code in seen:
            errors.add(
                f"{prefix}.code",
                "duplicate",
                code="duplicate_sku_code",
                message=_("Variant code %(code)s is used twice.") % {"code": code},
            )
            continue
        seen.add(code)
        options = _clean_options(item.get("options"), prefix, errors)
        price = item.get("price_amount")
        if not _is_int(price) or not 0 < price <= MAX_PRICE:
            errors.add(
                f"{prefix}.price_amount",
                "must_be_positive_integer",
                code="invalid_price",
                message=_("A price is a whole number of minor units (e.g. fen) above zero."),
            )
            continue
        stock = item.get("stock", 0)
        if not _is_int(stock) or not 0 <= stock <= MAX_STOCK:
            errors.add(
                f"{prefix}.stock",
                "must_be_non_negative_integer",
                code="invalid_stock",
                message=_("Stock is a whole number, zero or more."),
            )
            continue
        limit = item.get("max_per_user", 0)
        limit = 0 if limit is None else limit
        if not _is_int(limit) or not 0 <= limit <= MAX_PER_USER:
            errors.add(
                f"{prefix}.max_per_user",
                "invalid",
                message=_("The limit per buyer is a whole number, zero (no limit) or more."),
            )
            continue
        specs.append(SkuSpec(code=code, options=options, price_amount=price, stock=stock, max_per_user=limit))
    return specs


def _clean_ids(raw: Any, name: str, errors: _Errors) -> list[int]:
    if raw is None:
        return []
    if not isinstance(raw, list | tuple) or not all(_is_int(v) for v in raw):
        errors.add(name, "invalid", message=_("Give a list of ids."))
        return []
    return sorted(set(raw))


def _check_images(uploads: Sequence[UploadedFile]) -> list[CheckedFile]:
    """Judge every upload by its content before anything is written."""
    if len(uploads) > MAX_IMAGES:
        raise ValidationFailed(
            _("At most %(n)s images per product.") % {"n": MAX_IMAGES},
            code="too_many_images",
            fields={"images": "too_many"},
        )
    return [check_image(upload, field="images") for upload in uploads]


# Files ------------------------------------------------------------------------------------------


def _image_store(
    *,
    product: Product,
    checked: CheckedFile,
    position: int,
    revision: ProductRevision | None,
    saved: list[tuple[Storage, str]],
) -> ProductImage:
    image = ProductImage(
        product=product,
        revision=revision,
        width=checked.width,
        height=checked.height,
        position=position,
        # An image of a pending revision is invisible until screening passes.
        is_active=revision is None,
    )
    stem = secrets.token_hex(10)
    image.image.save(f"{stem}.{checked.extension}", ContentFile(checked.content), save=False)
    saved.append((image.image.storage, str(image.image.name)))
    image.thumbnail.save(f"{stem}.jpg", make_thumbnail(checked.content, size=THUMBNAIL_PX), save=False)
    saved.append((image.thumbnail.storage, str(image.thumbnail.name)))
    image.save()
    return image


def _images_delete(images: QuerySet[ProductImage]) -> None:
    """Delete rows now and their files once the transaction commits."""
    files = [(img.image.storage, img.image.name) for img in images] + [
        (img.thumbnail.storage, img.thumbnail.name) for img in images
    ]
    images.delete()

    def remove() -> None:
        for storage, name in files:
            if name:
                storage.delete(name)

    transaction.on_commit(remove)


def _next_image_position(product: Product) -> int:
    current = ProductImage.objects.filter(product=product).aggregate(top=Max("position"))["top"]
    return 0 if current is None else current + 1


# Categories -------------------------------------------------------------------------------------


def category_create(
    *, actor: Any, slug: str, name_en: str, name_zh: str = "", parent_id: int | None = None
) -> Category:
    """Curators shape the category tree; a new category goes last among its siblings."""
    if not getattr(actor, "is_curator", False):
        raise PermissionDenied(_("Only curators may create categories."), code="not_curator")
    errors = _Errors()
    slug = slug.strip().lower() if isinstance(slug, str) else ""
    if len(slug) > 80 or not CATEGORY_SLUG_RE.match(slug):
        errors.add("slug", "invalid", message=_("A slug is lower-case letters, digits and dashes."))
    names = {}
    for name, value, required in (("name_en", name_en, True), ("name_zh", name_zh, False)):
        text = " ".join(clean_plain_text(value if isinstance(value, str) else "", max_length=400).split())
        if len(text) > 80 or (required and not text):
            errors.add(name, "invalid", message=_("A name is 1-80 characters."))
        names[name] = text
    parent = None
    if parent_id is not None:
        parent = _clean_category(parent_id, errors)
    errors.raise_if_any()
    taken = Conflict(_("That slug is taken."), code="slug_taken", fields={"slug": "taken"})
    if Category.objects.filter(slug=slug).exists():
        raise taken
    siblings = Category.objects.filter(parent=parent).aggregate(top=Max("position"))["top"]
    try:
        with transaction.atomic():
            return Category.objects.create(
                slug=slug,
                parent=parent,
                position=0 if siblings is None else siblings + 1,
                name_en=names["name_en"],
                name_zh=names["name_zh"],
            )
    except IntegrityError:
        raise taken from None


# Products ---------------------------------------------------------------------------------------


def _unique_slug(title_en: str) -> str:
    base = slugify(title_en)[:60].strip("-") or "product"
    while True:
        slug = f"{base}-{secrets.token_hex(3)}"
        if not Product.objects.filter(slug=slug).exists():
            return slug


def product_create(
    *,
    actor: Any,
    merchant_id: int | None,
    category_id: int,
    title_en: str,
    title_zh: str = "",
    brand: str = "",
    origin: str = "",
    description_md: str = "",
    skus: Sequence[Mapping[str, Any]] = (),
    images: Sequence[UploadedFile] = (),
) -> Product:
    """A new draft product with its variants and images, all or nothing."""
    merchant = acting_merchant(actor=actor, merchant_id=merchant_id)
    _require_selling(merchant)
    errors = _Errors()
    content = _clean_content(
        {
            "title_en": title_en,
            "title_zh": title_zh,
            "brand": brand,
            "origin": origin,
            "description_md": description_md,
        },
        errors,
    )
    if "title_en" in content and "title_zh" in content:
        _require_title(title_en=content["title_en"], title_zh=content["title_zh"], errors=errors)
    category = _clean_category(category_id, errors)
    specs = _clean_skus(list(skus), errors)
    errors.raise_if_any()
    assert category is not None  # raise_if_any refused a missing one
    checked = _check_images(images)
    currency = gr_setting("CURRENCY")

    with files_removed_on_error() as saved, transaction.atomic():
        product = Product.objects.create(
            merchant=merchant,
            category=category,
            slug=_unique_slug(content["title_en"] or content["title_zh"]),
            title_en=content["title_en"],
            title_zh=content["title_zh"],
            brand=content["brand"],
            origin=content["origin"],
            description_md=content["description_md"],
            description_html=render_markdown(content["description_md"]),
            currency=currency,
            status=S.DRAFT,
            is_listed=False,
        )
        Sku.objects.bulk_create(
            [
                Sku(
                    product=product,
                    code=spec.code,
                    options=spec.options,
                    price_amount=spec.price_amount,
                    currency=currency,
                    stock=spec.stock,
                    max_per_user=spec.max_per_user,
                    position=position,
                )
                for position, spec in enumerate(specs)
            ]
        )
        for position, file in enumerate(checked):
            _image_store(product=product, checked=file, position=position, revision=None, saved=saved)
        ProductStatusChange.objects.create(
            product=product, from_status="", to_status=S.DRAFT, action="create", actor_id=actor.pk
        )
        product_refresh_denormalised(product=product)
    return product


def product_update(*, actor: Any, product: Product, **changes: Any) -> ProductChange:
    """Edit a product. Accepts any of: title_en, title_zh, brand, origin, description_md, category_id,
    skus (the complete list of variants wanted; missing codes are withdrawn), new_images (uploads),
    remove_image_ids.

    Drafts, rejected and changes-requested products change in place. For a listed product, material
    changes become a ProductRevision and reopen screening (the listed version stays up); price cuts,
    stock and purchase limits apply at once. In review or suspended: 409.
    """
    unknown = sorted(set(changes) - UPDATABLE)
    if unknown:
        raise ValidationFailed(
            _("Unknown fields: %(names)s.") % {"names": ", ".join(unknown)},
            code="unknown_field",
            fields=dict.fromkeys(unknown, "unknown"),
        )
    product = _owned_product(actor=actor, product=product)
    errors = _Errors()
    content = _clean_content(changes, errors)
    if "category_id" in changes:
        category = _clean_category(changes["category_id"], errors)
        if category is not None:
            content["category_id"] = category.pk
    _require_title(
        title_en=content.get("title_en", product.title_en),
        title_zh=content.get("title_zh", product.title_zh),
        errors=errors,
    )
    specs = _clean_skus(changes["skus"], errors) if changes.get("skus") is not None else None
    remove_ids = _clean_ids(changes.get("remove_image_ids"), "remove_image_ids", errors)
    errors.raise_if_any()
    checked = _check_images(list(changes.get("new_images") or []))

    with files_removed_on_error() as saved, transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        if locked.status in EDITABLE_STATUSES:
            return _update_in_place(
                actor=actor,
                product=locked,
                content=content,
                specs=specs,
                checked=checked,
                remove_ids=remove_ids,
                saved=saved,
            )
        if locked.status == S.LISTED:
            return _update_listed(
                actor=actor,
                product=locked,
                content=content,
                specs=specs,
                checked=checked,
                remove_ids=remove_ids,
                saved=saved,
            )
        raise Conflict(
            _("A product in review or suspended cannot be edited; only its stock can change."),
            code="not_editable",
        )


def _update_in_place(
    *,
    actor: Any,
    product: Product,
    content: dict[str, Any],
    specs: list[SkuSpec] | None,
    checked: list[CheckedFile],
    remove_ids: list[int],
    saved: list[tuple[Storage, str]],
) -> ProductChange:
    result = ProductChange(product=product)
    changed = [name for name, value in content.items() if getattr(product, name) != value]
    for name in changed:
        setattr(product, name, content[name])
    if "description_md" in changed:
        product.description_html = render_markdown(product.description_md)
    if changed:
        product.save(update_fields=[*changed, "description_html", "updated_at"])
        result.applied.extend(changed)
    if specs is not None:
        current = {sku.code: sku for sku in Sku.objects.filter(product=product)}
        for position, spec in enumerate(specs):
            sku = current.get(spec.code)
            if sku is None:
                Sku.objects.create(
                    product=product,
                    code=spec.code,
                    options=spec.options,
                    price_amount=spec.price_amount,
                    currency=product.currency,
                    stock=spec.stock,
                    max_per_user=spec.max_per_user,
                    position=position,
                )
                continue
            Sku.objects.filter(pk=sku.pk).update(
                options=spec.options,
                price_amount=spec.price_amount,
                max_per_user=spec.max_per_user,
                is_active=True,
                position=position,
            )
            if spec.stock != sku.stock:
                stock_set(sku_id=sku.pk, stock=spec.stock)
        # Withdrawn, never deleted: orders may point at a variant.
        Sku.objects.filter(product=product, is_active=True).exclude(code__in=[s.code for s in specs]).update(
            is_active=False
        )
        result.applied.append("skus")

    live = set(
        ProductImage.objects.filter(product=product, revision__isnull=True, is_active=True).values_list("pk", flat=True)
    )
    if set(remove_ids) - live:
        raise NotFound(_("Image not found."), fields={"remove_image_ids": "unknown"})
    if len(live) - len(remove_ids) + len(checked) > MAX_IMAGES:
        raise ValidationFailed(
            _("At most %(n)s images per product.") % {"n": MAX_IMAGES},
            code="too_many_images",
            fields={"images": "too_many"},
        )
    if remove_ids:
        _images_delete(ProductImage.objects.filter(product=product, pk__in=remove_ids))
        result.applied.append("images")
    position = _next_image_position(product)
    for offset, file in enumerate(checked):
        result.new_images.append(
            _image_store(product=product, checked=file, position=position + offset, revision=None, saved=saved)
        )
    if checked:
        result.applied.append("images")
    # An edit left over from when the product was listed is stale now; screening sees it whole.
    ProductRevision.objects.filter(product=product, state=PENDING).update(state=ProductRevision.State.DISCARDED)
    product_refresh_denormalised(product=product)
    return result


def _update_listed(
    *,
    actor: Any,
    product: Product,
    content: dict[str, Any],
    specs: list[SkuSpec] | None,
    checked: list[CheckedFile],
    remove_ids: list[int],
    saved: list[tuple[Storage, str]],
) -> ProductChange:
    result = ProductChange(product=product)
    payload: dict[str, Any] = {name: value for name, value in content.items() if getattr(product, name) != value}
    price_cuts: dict[int, int] = {}
    limits: dict[int, int] = {}
    stock_targets: dict[int, int] = {}
    if specs is not None:
        if not specs:
            raise ValidationFailed(
                _("A listed product keeps at least one variant."), code="no_active_sku", fields={"skus": "required"}
            )
        current = {sku.code: sku for sku in Sku.objects.filter(product=product)}
        sku_payload: list[dict[str, Any]] = []
        for spec in specs:
            sku = current.get(spec.code)
            if sku is None or not sku.is_active:
                entry: dict[str, Any] = {
                    "code": spec.code,
                    "options": spec.options,
                    "price_amount": spec.price_amount,
                    "max_per_user": spec.max_per_user,
                    "is_active": True,
                }
                if sku is None:
                    entry["stock"] = spec.stock
                elif spec.stock != sku.stock:
                    stock_targets[sku.pk] = spec.stock
                sku_payload.append(entry)
                continue
            entry = {}
            if spec.options != sku.options:
                entry["options"] = spec.options
            # A rise must pass the pricing stage; a cut only helps buyers.
            if spec.price_amount > sku.price_amount:
                entry["price_amount"] = spec.price_amount
            elif spec.price_amount < sku.price_amount:
                price_cuts[sku.pk] = spec.price_amount
            if entry:
                sku_payload.append({"code": spec.code, **entry})
            if spec.stock != sku.stock:
                stock_targets[sku.pk] = spec.stock
            if spec.max_per_user != sku.max_per_user:
                limits[sku.pk] = spec.max_per_user
        wanted = {spec.code for spec in specs}
        sku_payload.extend(
            {"code": code, "is_active": False} for code, sku in current.items() if sku.is_active and code not in wanted
        )
        if sku_payload:
            payload["skus"] = sku_payload

    pending = ProductRevision.objects.filter(product=product, state=PENDING).order_by("-id").first()
    old_payload: dict[str, Any] = dict(pending.payload or {}) if pending else {}
    live = set(
        ProductImage.objects.filter(product=product, revision__isnull=True, is_active=True).values_list("pk", flat=True)
    )
    pending_new = set(ProductImage.objects.filter(revision=pending).values_list("pk", flat=True)) if pending else set()
    if set(remove_ids) - live - pending_new:
        raise NotFound(_("Image not found."), fields={"remove_image_ids": "unknown"})
    remove_live = sorted(set(remove_ids) & live)
    drop_pending = set(remove_ids) & pending_new

    # The new revision replaces the pending one: what this call sent wins, the rest is kept.
    merged = {k: v for k, v in old_payload.items() if k in CONTENT_FIELDS and k not in content}
    merged.update({k: v for k, v in payload.items() if k in CONTENT_FIELDS})
    skus_merged = payload.get("skus", []) if specs is not None else old_payload.get("skus", [])
    if skus_merged:
        merged["skus"] = skus_merged
    removals = sorted(set(old_payload.get("remove_image_ids", [])) | set(remove_live))
    if removals:
        merged["remove_image_ids"] = removals
    kept_new = pending_new - drop_pending
    image_count = len(live - set(removals)) + len(kept_new) + len(checked)
    if image_count > MAX_IMAGES:
        raise ValidationFailed(
            _("At most %(n)s images per product.") % {"n": MAX_IMAGES},
            code="too_many_images",
            fields={"images": "too_many"},
        )
    if image_count == 0 and (remove_live or drop_pending):
        raise ValidationFailed(
            _("A listed product keeps at least one image."), code="no_image", fields={"remove_image_ids": "last_image"}
        )

    material = not _same_payload(merged, old_payload) or bool(checked) or bool(drop_pending)
    if material:
        latest = product_latest_submission(product_id=product.pk)
        if latest is not None and latest.state == Submission.State.IN_REVIEW:
            raise Conflict(
                _(
                    "This product is being screened. Wait for the decision before another material edit; "
                    "stock and price cuts can still change."
                ),
                code="in_review",
            )
        if pending is not None:
            ProductRevision.objects.filter(pk=pending.pk).update(state=ProductRevision.State.DISCARDED)
        if merged or kept_new or checked:
            revision = ProductRevision.objects.create(product=product, payload=merged, created_by=actor)
            if kept_new:
                ProductImage.objects.filter(pk__in=kept_new).update(revision=revision)
            if drop_pending:
                _images_delete(ProductImage.objects.filter(pk__in=drop_pending))
            position = _next_image_position(product)
            for offset, file in enumerate(checked):
                result.new_images.append(
                    _image_store(
                        product=product, checked=file, position=position + offset, revision=revision, saved=saved
                    )
                )
            submission_open(product=product, actor_id=actor.pk, reason=Submission.Reason.REVISION, revision=revision)
            result.revision = revision
            result.pending = sorted({*merged, *(["images"] if kept_new or checked else [])})
        elif drop_pending:
            _images_delete(ProductImage.objects.filter(pk__in=drop_pending))

    for sku_id, price in price_cuts.items():
        Sku.objects.filter(pk=sku_id).update(price_amount=price)
    for sku_id, limit in limits.items():
        Sku.objects.filter(pk=sku_id).update(max_per_user=limit)
    for sku_id, target in stock_targets.items():
        stock_set(sku_id=sku_id, stock=target)
    if price_cuts:
        result.applied.append("price_amount")
        product_refresh_denormalised(product=product)
    if stock_targets:
        result.applied.append("stock")
    if limits:
        result.applied.append("max_per_user")
    return result


def _same_payload(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Equal revision payloads, whatever order the variants were listed in."""

    def by_code(payload: Mapping[str, Any]) -> dict[str, Any]:
        return {**payload, "skus": {str(entry["code"]): entry for entry in payload.get("skus", [])}}

    return by_code(a) == by_code(b)


def product_image_add(*, actor: Any, product: Product, upload: UploadedFile) -> ProductImage:
    """Add one image (checked by content, 480 px thumbnail). On a listed product it waits for screening."""
    return product_update(actor=actor, product=product, new_images=[upload]).new_images[0]


def product_image_remove(*, actor: Any, product: Product, image_id: int) -> ProductChange:
    return product_update(actor=actor, product=product, remove_image_ids=[image_id])


def sku_stock_set(*, actor: Any, sku: Sku, stock: int) -> Sku:
    """Set a variant's free stock (catalog.stock.stock_set: units held by orders are never touched,
    and two identical edits at once set it once)."""
    if not _is_int(stock) or not 0 <= stock <= MAX_STOCK:
        raise ValidationFailed(
            _("Stock is a whole number, zero or more."),
            code="invalid_stock",
            fields={"stock": "must_be_non_negative_integer"},
        )
    fresh = None
    if getattr(actor, "is_authenticated", False):
        fresh = Sku.objects.filter(pk=sku.pk, product__merchant__memberships__user=actor).first()
    if fresh is None:
        raise NotFound(_("Variant not found."))
    stock_set(sku_id=fresh.pk, stock=stock)
    fresh.refresh_from_db()
    return fresh


def product_submit(*, actor: Any, product: Product) -> Product:
    """Send a draft (or a product sent back) to screening."""
    product = _owned_product(actor=actor, product=product)
    _require_selling(product.merchant)
    if product.status not in EDITABLE_STATUSES:
        raise Conflict(_("This product is already in review or listed."), code="not_submittable")
    missing = {}
    if not Sku.objects.filter(product=product, is_active=True).exists():
        missing["skus"] = "required"
    if not ProductImage.objects.filter(product=product, revision__isnull=True, is_active=True).exists():
        missing["images"] = "required"
    if missing:
        raise ValidationFailed(
            _("Add at least one variant and one image before submitting."), code="incomplete", fields=missing
        )
    submission_open(product=product, actor_id=actor.pk, reason=Submission.Reason.NEW)
    product.refresh_from_db()
    return product


# Reads for the merchant console and its API ------------------------------------------------------
# catalog/selectors.py holds the buyer-side reads; these are scoped to a merchant's members.


def _member_queryset() -> QuerySet[Product]:
    return (
        Product.objects.select_related("category", "merchant")
        .annotate(has_pending_revision=Exists(ProductRevision.objects.filter(product=OuterRef("pk"), state=PENDING)))
        .prefetch_related(
            Prefetch("skus", queryset=Sku.objects.order_by("position", "id")),
            # Live images and those waiting in a pending revision; withdrawn ones are history.
            Prefetch(
                "images",
                queryset=ProductImage.objects.filter(
                    Q(revision__isnull=True, is_active=True) | Q(revision__state=PENDING)
                ).order_by("position", "id"),
            ),
            Prefetch(
                "revisions",
                queryset=ProductRevision.objects.filter(state=PENDING).order_by("-id"),
                to_attr="pending_revisions",
            ),
        )
    )


def merchant_products(*, user: Any, merchant_id: int | None) -> tuple[Merchant, QuerySet[Product]]:
    """The merchant `user` acts for and its products, with variants, images and pending edits."""
    merchant = acting_merchant(actor=user, merchant_id=merchant_id)
    return merchant, _member_queryset().filter(merchant=merchant)


def merchant_product_get(*, user: Any, product_id: int) -> Product:
    if not getattr(user, "is_authenticated", False):
        raise NotFound(_("Product not found."))
    product = _member_queryset().filter(pk=product_id, merchant__memberships__user=user).first()
    if product is None:
        raise NotFound(_("Product not found."))
    return product


def product_history(*, product: Product) -> list[ProductStatusChange]:
    """Every status change with its note, oldest first: why changes were requested, who decided."""
    return list(
        ProductStatusChange.objects.filter(product=product).select_related("actor").order_by("created_at", "id")
    )
