"""The product status graph and the transitions curation drives.

Screening (the curation app) decides; this module moves the product and writes the audit row.
A listed product under re-review (a material edit or a report) stays listed until a decision
says otherwise, so buyers keep seeing the approved version.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from grassroots.catalog.models import Product, ProductRevision, ProductStatusChange, Sku
from grassroots.core.state_machine import build_machine

S = Product.Status

PRODUCT_MACHINE = build_machine(
    "product",
    initial=S.DRAFT,
    edges=[
        (S.DRAFT, "submit", S.IN_REVIEW),
        (S.CHANGES_REQUESTED, "submit", S.IN_REVIEW),
        (S.REJECTED, "submit", S.IN_REVIEW),
        (S.IN_REVIEW, "approve", S.LISTED),
        (S.IN_REVIEW, "request_changes", S.CHANGES_REQUESTED),
        (S.IN_REVIEW, "reject", S.REJECTED),
        (S.IN_REVIEW, "suspend", S.SUSPENDED),
        (S.CHANGES_REQUESTED, "suspend", S.SUSPENDED),
        # A listed product re-reviewed after a report or a quality drop can be delisted.
        (S.LISTED, "reject", S.REJECTED),
        (S.LISTED, "suspend", S.SUSPENDED),
        # A suspended product comes back only through screening again.
        (S.SUSPENDED, "reopen", S.IN_REVIEW),
    ],
)

LISTED_STATUSES = {S.LISTED}


def _after_commit_cards_changed(product_id: int) -> None:
    """Note cards showing the product are out of date once this commits (listing or content)."""
    from grassroots.feeds.services import feed_card_invalidate_products

    transaction.on_commit(lambda: feed_card_invalidate_products(product_ids=[product_id]))


def product_transition(*, product: Product, action: str, actor_id: int | None, note: str = "") -> Product:
    """Move `product` along the graph (row locked), write the audit row, keep is_listed in step."""
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        new_status = PRODUCT_MACHINE.next_state(locked.status, action)
        # Conditional update: a concurrent transition that got here first makes this a no-op + error.
        updates: dict[str, object] = {"status": new_status, "is_listed": new_status in LISTED_STATUSES}
        if new_status == S.LISTED and locked.listed_at is None:
            updates["listed_at"] = timezone.now()
        changed = Product.objects.filter(pk=locked.pk, status=locked.status).update(
            **updates, updated_at=timezone.now()
        )
        if changed != 1:
            PRODUCT_MACHINE.next_state(Product.objects.get(pk=locked.pk).status, action)
        ProductStatusChange.objects.create(
            product=locked, from_status=locked.status, to_status=new_status, action=action, actor_id=actor_id, note=note
        )
        _after_commit_cards_changed(locked.pk)
    product.refresh_from_db()
    return product


def product_screening_passed(
    *, product: Product, revision: ProductRevision | None, stage_codes: list[str], actor_id: int
) -> Product:
    """Called by curation when the last stage passes. Applies a pending revision if there is one."""
    with transaction.atomic():
        if revision is not None:
            revision_apply(revision=revision)
            _after_commit_cards_changed(product.pk)
        Product.objects.filter(pk=product.pk).update(passed_stages=stage_codes)
        product.refresh_from_db()
        if product.status == S.LISTED:
            ProductStatusChange.objects.create(
                product=product,
                from_status=S.LISTED,
                to_status=S.LISTED,
                action="approve_revision" if revision else "approve_review",
                actor_id=actor_id,
            )
            return product
        return product_transition(product=product, action="approve", actor_id=actor_id)


def product_screening_changes_requested(
    *, product: Product, revision: ProductRevision | None, actor_id: int, note: str
) -> Product:
    product.refresh_from_db()
    if product.status == S.LISTED:
        # The listed version stays up; the merchant answers with a new edit.
        ProductStatusChange.objects.create(
            product=product,
            from_status=S.LISTED,
            to_status=S.LISTED,
            action="request_changes",
            actor_id=actor_id,
            note=note,
        )
        return product
    return product_transition(product=product, action="request_changes", actor_id=actor_id, note=note)


def product_screening_rejected(
    *, product: Product, revision: ProductRevision | None, actor_id: int, note: str
) -> Product:
    product.refresh_from_db()
    if revision is not None and product.status == S.LISTED:
        # Rejecting an edit discards the edit, not the approved product.
        ProductRevision.objects.filter(pk=revision.pk).update(state=ProductRevision.State.DISCARDED)
        ProductStatusChange.objects.create(
            product=product,
            from_status=S.LISTED,
            to_status=S.LISTED,
            action="reject_revision",
            actor_id=actor_id,
            note=note,
        )
        return product
    return product_transition(product=product, action="reject", actor_id=actor_id, note=note)


def revision_apply(*, revision: ProductRevision) -> None:
    """Copy an approved revision's payload onto the product, its SKUs and images.

    Payload SKU entries carry only what changed: a new code creates the variant (with its
    opening stock); an existing code gets its options, price, limit or is_active replaced.
    Stock counters of existing variants are never touched here (catalog.stock owns them).
    """
    from grassroots.catalog.models import ProductImage
    from grassroots.core.text import render_markdown

    product = Product.objects.get(pk=revision.product_id)
    payload = revision.payload or {}
    fields = {
        k: payload[k]
        for k in ("title_en", "title_zh", "brand", "origin", "description_md", "category_id")
        if k in payload
    }
    if "description_md" in fields:
        fields["description_html"] = render_markdown(str(fields["description_md"]))
    if fields:
        Product.objects.filter(pk=product.pk).update(**fields, updated_at=timezone.now())
        product.refresh_from_db()
    next_position = 1 + max(Sku.objects.filter(product=product).values_list("position", flat=True), default=-1)
    for sku_data in payload.get("skus", []):
        code = str(sku_data["code"])
        existing = Sku.objects.filter(product=product, code=code).first()
        if existing is None:
            Sku.objects.create(
                product=product,
                code=code,
                options=sku_data.get("options", {}),
                price_amount=int(sku_data["price_amount"]),
                currency=product.currency,
                stock=int(sku_data.get("stock", 0)),
                max_per_user=int(sku_data.get("max_per_user", 0)),
                is_active=bool(sku_data.get("is_active", True)),
                position=next_position,
            )
            next_position += 1
            continue
        updates = {k: sku_data[k] for k in ("options", "price_amount", "max_per_user", "is_active") if k in sku_data}
        if updates:
            Sku.objects.filter(pk=existing.pk).update(**updates)
    ProductImage.objects.filter(
        product=product, revision__isnull=True, id__in=payload.get("remove_image_ids", [])
    ).update(is_active=False)
    ProductImage.objects.filter(revision=revision).update(revision=None, is_active=True)
    product_refresh_denormalised(product=product)
    ProductRevision.objects.filter(pk=revision.pk).update(state=ProductRevision.State.APPLIED)


def product_refresh_denormalised(*, product: Product) -> None:
    """Recompute min_price and search_text from the product's approved content.

    Saves only those two fields, so a stale instance never writes back an old status.
    """
    prices = list(Sku.objects.filter(product=product, is_active=True).values_list("price_amount", flat=True))
    product.min_price = min(prices) if prices else 0
    product.search_text = " ".join(
        part.lower() for part in (product.title_en, product.title_zh, product.brand, product.origin) if part
    )
    product.save(update_fields=["min_price", "search_text", "updated_at"])
    _after_commit_cards_changed(product.pk)  # the price a note card shows may have changed
