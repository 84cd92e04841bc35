"""Buyer-side reads of the catalog.

Buyers (and the public API) only ever see a product that is listed and whose merchant is
verified; anything else is NotFound, so its existence does not leak. Members of the product's
merchant and curators may preview an unlisted product page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from grassroots.catalog.models import Category, Product, ProductImage, Sku
from grassroots.catalog.search import normalise_query, search_products
from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.core.pagination import decode_cursor, paginate
from grassroots.merchants.models import Merchant

# is_listed is the switch the workflow flips; the status check is a second lock on the door.
HIDDEN_STATUSES = (Product.Status.DRAFT, Product.Status.REJECTED, Product.Status.SUSPENDED)

# Keyset orders: the last field is unique so every product appears exactly once across pages.
ORDERS: dict[str, tuple[str, ...]] = {
    "new": ("-sort_at", "-id"),
    "price_asc": ("min_price", "id"),
    "price_desc": ("-min_price", "-id"),
}
_DATETIME_FIELDS = {"sort_at"}
_BIGINT = 2**63


def _visible() -> Q:
    return Q(is_listed=True, merchant__status=Merchant.Status.VERIFIED) & ~Q(status__in=HIDDEN_STATUSES)


def _buyer_images() -> QuerySet[ProductImage]:
    # Images of a pending revision are not approved yet.
    return ProductImage.objects.filter(is_active=True, revision__isnull=True).order_by("position", "id")


# --- categories ---------------------------------------------------------------------------


@dataclass
class CategoryNode:
    category: Category
    parent: CategoryNode | None = None
    children: list[CategoryNode] = field(default_factory=list)

    def descendant_ids(self) -> list[int]:
        """This category's id and every id below it."""
        ids: list[int] = []
        seen: set[int] = set()
        stack: list[CategoryNode] = [self]
        while stack:
            node = stack.pop()
            if node.category.pk in seen:  # a parent cycle in bad data must not loop forever
                continue
            seen.add(node.category.pk)
            ids.append(node.category.pk)
            stack.extend(node.children)
        return ids

    def ancestors(self) -> list[Category]:
        """Root first, excluding this category."""
        chain: list[Category] = []
        node = self.parent
        while node is not None and node.category not in chain and node is not self:
            chain.append(node.category)
            node = node.parent
        return list(reversed(chain))


def _category_nodes() -> dict[int, CategoryNode]:
    """Every category, linked, in one query (the table is small: hundreds of rows)."""
    nodes = {c.pk: CategoryNode(category=c) for c in Category.objects.order_by("position", "id")}
    for node in nodes.values():
        parent = nodes.get(node.category.parent_id) if node.category.parent_id else None
        if parent is not None:
            node.parent = parent
            parent.children.append(node)
    return nodes


def category_tree() -> list[CategoryNode]:
    """Root categories with their children, ordered by position."""
    return [node for node in _category_nodes().values() if node.parent is None]


def category_by_slug(*, slug: str) -> Category:
    category = Category.objects.filter(slug=slug).first()
    if category is None:
        raise NotFound(_("Category not found."))
    return category


def category_by_slug_or_id(*, value: str) -> Category:
    category = Category.objects.filter(slug=value).first()
    if category is None and _is_id(value):
        category = Category.objects.filter(pk=int(value)).first()
    if category is None:
        raise NotFound(_("Category not found."), fields={"category": "not_found"})
    return category


def category_node_by_slug(*, slug: str) -> CategoryNode:
    """The category with its parent chain and children, from the one-query tree."""
    node = next((n for n in _category_nodes().values() if n.category.slug == slug), None)
    if node is None:
        raise NotFound(_("Category not found."))
    return node


# --- product lists ------------------------------------------------------------------------


def listing_order(*, order: str, query: str | None) -> tuple[str, ...]:
    if order not in ORDERS:
        raise ValidationFailed(_("Unknown sort order."), fields={"order": "invalid"})
    fields = ORDERS[order]
    if order == "new" and normalise_query(query):
        # Exact title matches first, then products whose title holds the phrase, then the rest.
        fields = ("search_rank", *fields)
    return fields


def products_listed(
    *,
    category_id: int | None = None,
    include_descendants: bool = True,
    query: str | None = None,
    order: str = "new",
) -> QuerySet[Product]:
    """What buyers may see, ordered, with the merchant joined and the first image prefetched
    as `first_images` (a list of at most one)."""
    queryset: QuerySet[Product] = (
        Product.objects.filter(_visible())
        .select_related("merchant")
        .prefetch_related(Prefetch("images", queryset=_buyer_images()[:1], to_attr="first_images"))
    )
    if category_id is not None:
        if include_descendants:
            node = _category_nodes().get(category_id)
            ids = node.descendant_ids() if node is not None else [category_id]
            queryset = queryset.filter(category_id__in=ids)
        else:
            queryset = queryset.filter(category_id=category_id)
    queryset = search_products(queryset, query).annotate(sort_at=Coalesce("listed_at", "created_at"))
    return queryset.order_by(*listing_order(order=order, query=query))


def _check_cursor(cursor: str, order: tuple[str, ...]) -> None:
    """A cursor is client input: refuse anything that is not what this order wrote."""
    values = decode_cursor(cursor)
    ok = len(values) == len(order)
    for spec, value in zip(order, values, strict=False):
        name = spec.lstrip("-")
        if name in _DATETIME_FIELDS:
            try:
                ok = ok and isinstance(value, str) and parse_datetime(value) is not None
            except ValueError:
                ok = False
        else:
            ok = ok and isinstance(value, int) and not isinstance(value, bool) and -_BIGINT <= value < _BIGINT
    if not ok:
        raise ValidationFailed(_("Invalid cursor."), code="invalid_cursor", fields={"cursor": "invalid"})


def products_page(
    *,
    category_id: int | None = None,
    query: str | None = None,
    order: str = "new",
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[Product], str | None]:
    """One page of products_listed and the cursor of the next page (None on the last)."""
    fields = listing_order(order=order, query=query)
    if cursor:
        _check_cursor(cursor, fields)
    queryset = products_listed(category_id=category_id, query=query, order=order)
    return paginate(queryset, cursor=cursor or None, limit=limit, order=fields)


# --- one product --------------------------------------------------------------------------


def _is_id(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) < 19


def product_is_public(product: Product) -> bool:
    return (
        product.is_listed
        and product.status not in HIDDEN_STATUSES
        and product.merchant.status == Merchant.Status.VERIFIED
    )


def _may_preview(product: Product, viewer: Any) -> bool:
    from grassroots.merchants.selectors import member_role, user_is_curator

    if viewer is None or not getattr(viewer, "is_authenticated", False):
        return False
    return user_is_curator(user=viewer) or member_role(merchant=product.merchant, user=viewer) is not None


def product_for_buyer(*, slug_or_id: str, viewer: Any) -> Product:
    """A product with `buyer_images` and `buyer_skus` loaded; NotFound unless the viewer may see it.

    A slug wins over an id, so a numeric slug never resolves to another product.
    """
    queryset = Product.objects.select_related("merchant", "category").prefetch_related(
        Prefetch("images", queryset=_buyer_images(), to_attr="buyer_images"),
        Prefetch("skus", queryset=Sku.objects.filter(is_active=True).order_by("position", "id"), to_attr="buyer_skus"),
    )
    product = queryset.filter(slug=slug_or_id).first()
    if product is None and _is_id(slug_or_id):
        product = queryset.filter(pk=int(slug_or_id)).first()
    if product is None or not (product_is_public(product) or _may_preview(product, viewer)):
        raise NotFound(_("Product not found."))
    return product


@dataclass(frozen=True)
class StageBadge:
    code: str
    name: str


def passed_stages(product: Product) -> list[StageBadge]:
    """The screening stages the product passed, named in the current language."""
    from grassroots.curation.selectors import stages_by_code

    codes = [str(code) for code in product.passed_stages or []]
    if not codes:
        return []
    stages = stages_by_code()
    return [StageBadge(code=code, name=stages[code].name if code in stages else code) for code in codes]


def price_range(product: Product) -> tuple[int, int]:
    """(lowest, highest) price over the active SKUs loaded by product_for_buyer."""
    prices = [sku.price_amount for sku in getattr(product, "buyer_skus", [])]
    if not prices:
        return product.min_price, product.min_price
    return min(prices), max(prices)


def image_url(image: ProductImage, *, thumbnail: bool) -> str:
    if thumbnail and image.thumbnail:
        return image.thumbnail.url
    return image.image.url if image.image else ""


def thumbnail_url(product: Product) -> str:
    """The first image's thumbnail from what products_listed or product_for_buyer prefetched."""
    images = getattr(product, "first_images", None)
    if images is None:
        images = getattr(product, "buyer_images", [])
    return image_url(images[0], thumbnail=True) if images else ""
