"""Reads for shops and commission rates. Other apps (attribution, commissions, dashboards) call these.

Commission rates
----------------
CommissionRate rows are an append-only history per product. The rate in effect at a moment `at` is
the row with the latest `effective_from <= at` (ties: the later row), ignoring rows a later decision
cancelled before they took effect; without such a row it is 0: the product earns no commission.
A sale earns the rate in effect at its attributed click, so a decrease never reaches a click made
during its notice period.

Pool quality
------------
The pool's "quality" is the reviews app's Bayesian rating (see reviews.selectors), computed in the
same SQL query as two correlated subqueries on the (product, status) review index, and kept as an
integer (thousandths of a star) so it can be a keyset cursor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from grassroots.catalog.models import Product, ProductImage
from grassroots.catalog.selectors import HIDDEN_STATUSES, products_listed
from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.core.pagination import decode_cursor, paginate
from grassroots.ledger.splits import BPS, split_line
from grassroots.merchants.models import Merchant
from grassroots.reviews.models import Review
from grassroots.reviews.selectors import PRIOR_MEAN, PRIOR_WEIGHT
from grassroots.shops.conf import shops_setting
from grassroots.shops.models import CommissionRate, Shop, ShopItem

POOL_ORDERS: dict[str, tuple[str, ...]] = {
    "rate": ("-rate_bps", "-id"),
    "quality": ("-quality_milli", "-id"),
    "new": ("-sort_at", "-id"),
}
ITEM_ORDER = ("position", "-id")
# Shop names shown per product on the merchant's commission page; the count is always exact.
CARRIER_NAMES_SHOWN = 10
HISTORY_SHOWN = 100
_BIGINT = 2**63


# --- shops --------------------------------------------------------------------------------


def shop_for_user(*, user: Any) -> Shop | None:
    """The user's own shop in any status, or None (also for anonymous users)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Shop.objects.select_related("owner").filter(owner_id=user.pk).first()


def shop_by_slug(*, slug: str) -> Shop:
    """A public shop, owner loaded; NotFound unless it is active."""
    shop = Shop.objects.select_related("owner").filter(slug=slug, status=Shop.Status.ACTIVE).first()
    if shop is None:
        raise NotFound(_("Shop not found."))
    return shop


def _product_visible(prefix: str = "product__") -> Q:
    """catalog's buyer-visibility rule (listed, shown status, verified merchant) seen from a relation."""
    return Q(
        **{f"{prefix}is_listed": True, f"{prefix}merchant__status": Merchant.Status.VERIFIED},
    ) & ~Q(**{f"{prefix}status__in": HIDDEN_STATUSES})


def _first_image() -> Prefetch:
    images = ProductImage.objects.filter(is_active=True, revision__isnull=True).order_by("position", "id")
    return Prefetch("product__images", queryset=images[:1], to_attr="first_images")


def shop_items(*, shop: Shop) -> QuerySet[ShopItem]:
    """Items whose product buyers can still see, in the shopkeeper's order; product, merchant and the
    product's first image (`product.first_images`) loaded: two queries however many items."""
    return (
        ShopItem.objects.filter(shop=shop)
        .filter(_product_visible())
        .select_related("product", "product__merchant")
        .prefetch_related(_first_image())
        .order_by(*ITEM_ORDER)
    )


def shop_items_page(*, shop: Shop, cursor: str | None, limit: int) -> tuple[list[ShopItem], str | None]:
    if cursor:
        _check_cursor(cursor, ITEM_ORDER)
    return paginate(shop_items(shop=shop), cursor=cursor, limit=limit, order=ITEM_ORDER)


def _owner_items() -> QuerySet[ShopItem]:
    return (
        ShopItem.objects.annotate(is_available=ExpressionWrapper(_product_visible(), output_field=BooleanField()))
        .select_related("product", "product__merchant")
        .prefetch_related(_first_image())
        .order_by(*ITEM_ORDER)
    )


def shop_items_for_owner(*, shop: Shop) -> QuerySet[ShopItem]:
    """Every item, including products no longer available (`is_available` False), for the owner."""
    return _owner_items().filter(shop=shop)


def shop_items_for_owner_page(*, shop: Shop, cursor: str | None, limit: int) -> tuple[list[ShopItem], str | None]:
    if cursor:
        _check_cursor(cursor, ITEM_ORDER)
    return paginate(shop_items_for_owner(shop=shop), cursor=cursor, limit=limit, order=ITEM_ORDER)


def shop_item_for_owner(*, user: Any, item_id: int) -> ShopItem:
    """One of the user's own items; anyone else's is NotFound."""
    if not getattr(user, "is_authenticated", False):
        raise NotFound(_("Item not found."))
    item = _owner_items().filter(pk=item_id, shop__owner_id=user.pk).first()
    if item is None:
        raise NotFound(_("Item not found."))
    return item


def shop_product_ids(*, shop: Shop | None) -> set[int]:
    """The products already in the shop, to mark them in the pool."""
    if shop is None:
        return set()
    return set(ShopItem.objects.filter(shop=shop).values_list("product_id", flat=True))


# --- commission rates ---------------------------------------------------------------------


def _rates_in_effect(at: datetime | F) -> QuerySet[CommissionRate]:
    return CommissionRate.objects.filter(effective_from__lte=at, cancelled_at__isnull=True).order_by(
        "-effective_from", "-id"
    )


def commission_rate_annotation(*, at: datetime | F, product_field: str = "pk") -> Coalesce:
    """An expression for the rate in effect at `at` (0 without one), for `.annotate()` on any queryset
    that has a product id in `product_field`. `at` may be OuterRef("created_at"): each row's own time."""
    rate = _rates_in_effect(at).filter(product_id=OuterRef(product_field)).values("rate_bps")[:1]
    return Coalesce(Subquery(rate), Value(0), output_field=IntegerField())


def commission_rate_at(*, product_id: int, at: datetime) -> int:
    """Basis points in effect at `at`; 0 if the product had no rate then. One query."""
    rate = _rates_in_effect(at).filter(product_id=product_id).values_list("rate_bps", flat=True).first()
    return int(rate or 0)


def commission_rates_at(*, product_ids: Iterable[int], at: datetime) -> dict[int, int]:
    """{product_id: bps in effect at `at`} for every given id (0 without a rate). One query."""
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    rates = dict.fromkeys(ids, 0)
    rows = (
        Product.objects.filter(pk__in=ids)
        .annotate(rate=commission_rate_annotation(at=at))
        .values_list("pk", "rate")
        .order_by()
    )
    rates.update({pk: int(rate) for pk, rate in rows})
    return rates


def estimated_commission(*, price: int, rate_bps: int) -> int:
    """What a shopkeeper earns on one unit sold at `price` (minor units) at `rate_bps`, rounded as the
    real split rounds it (ledger.splits.split_line)."""
    if rate_bps <= 0 or price <= 0:
        return 0
    fee = min(shops_setting("PLATFORM_FEE_BPS"), BPS - rate_bps)
    return split_line(paid=price, platform_fee_bps=fee, commission_bps=rate_bps, has_shopkeeper=True).commission


@dataclass(frozen=True)
class CommissionSchedule:
    """A product's rate now and, if the merchant cut it, the lower rate waiting out its notice."""

    current_bps: int
    current_since: datetime | None
    scheduled_bps: int | None
    scheduled_from: datetime | None


def commission_schedule(*, product_id: int, now: datetime | None = None) -> CommissionSchedule:
    now = now or timezone.now()
    current = _rates_in_effect(now).filter(product_id=product_id).first()
    pending = (
        CommissionRate.objects.filter(product_id=product_id, effective_from__gt=now, cancelled_at__isnull=True)
        .order_by("effective_from", "id")
        .first()
    )
    return CommissionSchedule(
        current_bps=current.rate_bps if current else 0,
        current_since=current.effective_from if current else None,
        scheduled_bps=pending.rate_bps if pending else None,
        scheduled_from=pending.effective_from if pending else None,
    )


def commission_history(*, product_id: int) -> list[CommissionRate]:
    """The latest decisions first, cancelled ones included (their `cancelled_at` is set)."""
    return list(CommissionRate.objects.filter(product_id=product_id).order_by("-created_at", "-id")[:HISTORY_SHOWN])


def merchant_product_for_member(*, user: Any, product_id: int) -> Product:
    """One of the user's merchants' products (any status); NotFound for everyone else."""
    if not getattr(user, "is_authenticated", False):
        raise NotFound(_("Product not found."))
    product = Product.objects.select_related("merchant").filter(pk=product_id, merchant__memberships__user=user).first()
    if product is None:
        raise NotFound(_("Product not found."))
    return product


def merchant_commission_products(*, merchant: Merchant, now: datetime | None = None) -> QuerySet[Product]:
    """The merchant's products with `rate_bps` (now), `scheduled_bps`/`scheduled_from` (a pending
    decrease, else None), `carrier_count` and up to CARRIER_NAMES_SHOWN `carrier_items` (with shop):
    two queries per page."""
    now = now or timezone.now()
    pending = CommissionRate.objects.filter(
        product_id=OuterRef("pk"), effective_from__gt=now, cancelled_at__isnull=True
    ).order_by("effective_from", "id")
    active_items = ShopItem.objects.filter(product_id=OuterRef("pk"), shop__status=Shop.Status.ACTIVE)
    carriers = ShopItem.objects.filter(shop__status=Shop.Status.ACTIVE).select_related("shop").order_by("-id")
    return (
        Product.objects.filter(merchant=merchant)
        .annotate(
            rate_bps=commission_rate_annotation(at=now),
            scheduled_bps=Subquery(pending.values("rate_bps")[:1]),
            scheduled_from=Subquery(pending.values("effective_from")[:1]),
            carrier_count=Coalesce(
                Subquery(active_items.order_by().values("product_id").annotate(n=Count("id")).values("n")),
                Value(0),
                output_field=IntegerField(),
            ),
        )
        .prefetch_related(Prefetch("shop_items", queryset=carriers[:CARRIER_NAMES_SHOWN], to_attr="carrier_items"))
    )


def product_carriers(*, merchant_id: int, product_id: int) -> QuerySet[Shop]:
    """The active shops that carry the merchant's product, newest first (empty for another
    merchant's product)."""
    return Shop.objects.filter(
        status=Shop.Status.ACTIVE, items__product_id=product_id, items__product__merchant_id=merchant_id
    ).order_by("-items__id")


# --- the pool -----------------------------------------------------------------------------


def _with_quality(queryset: QuerySet[Product]) -> QuerySet[Product]:
    """`review_count` and `quality_milli`: the Bayesian rating of visible reviews, in thousandths."""
    visible = Review.objects.filter(product_id=OuterRef("pk"), status=Review.Status.VISIBLE).order_by()
    count = visible.values("product_id").annotate(n=Count("id")).values("n")
    total = visible.values("product_id").annotate(t=Sum("rating")).values("t")
    prior = int(PRIOR_WEIGHT * PRIOR_MEAN * 1000)
    return queryset.annotate(
        review_count=Coalesce(Subquery(count), Value(0), output_field=IntegerField()),
        review_total=Coalesce(Subquery(total), Value(0), output_field=IntegerField()),
    ).annotate(
        # Integer division on every backend: truncated to a thousandth of a star.
        quality_milli=ExpressionWrapper(
            (Value(prior) + F("review_total") * Value(1000)) / (Value(PRIOR_WEIGHT) + F("review_count")),
            output_field=IntegerField(),
        )
    )


def pool_for_selection(
    *, category_id: int | None = None, min_rate_bps: int | None = None, order: str = "rate"
) -> QuerySet[Product]:
    """What shopkeepers may pick: buyer-visible products, each with `rate_bps` (in effect now),
    `review_count` and `quality_milli` (smoothed rating in thousandths of a star), ordered by
    rate, quality or newest; merchant and first image loaded as in catalog.products_listed."""
    if order not in POOL_ORDERS:
        raise ValidationFailed(_("Unknown sort order."), fields={"order": "invalid"})
    if min_rate_bps is not None and (
        isinstance(min_rate_bps, bool) or not isinstance(min_rate_bps, int) or not 0 <= min_rate_bps <= BPS
    ):
        raise ValidationFailed(_("The minimum rate must be from 0 to 10000 bps."), fields={"min_rate_bps": "invalid"})
    queryset = products_listed(category_id=category_id).annotate(rate_bps=commission_rate_annotation(at=timezone.now()))
    if min_rate_bps:
        queryset = queryset.filter(rate_bps__gte=min_rate_bps)
    return _with_quality(queryset).order_by(*POOL_ORDERS[order])


@dataclass(frozen=True)
class PoolCard:
    product: Product
    rate_bps: int
    estimated_commission: int
    review_count: int
    # Bayesian rating out of 5 (see the module docstring).
    quality: float


def pool_page(
    *,
    category_id: int | None = None,
    min_rate_bps: int | None = None,
    order: str = "rate",
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[PoolCard], str | None]:
    """One page of the pool as cards with the estimated commission per unit: three queries."""
    queryset = pool_for_selection(category_id=category_id, min_rate_bps=min_rate_bps, order=order)
    fields = POOL_ORDERS[order]
    if cursor:
        _check_cursor(cursor, fields)
    products, next_cursor = paginate(queryset, cursor=cursor, limit=limit, order=fields)
    cards = [
        PoolCard(
            product=product,
            rate_bps=int(product.rate_bps),  # type: ignore[attr-defined]
            estimated_commission=estimated_commission(
                price=product.min_price,
                rate_bps=int(product.rate_bps),  # type: ignore[attr-defined]
            ),
            review_count=int(product.review_count),  # type: ignore[attr-defined]
            quality=int(product.quality_milli) / 1000,  # type: ignore[attr-defined]
        )
        for product in products
    ]
    return cards, next_cursor


def _check_cursor(cursor: str, order: tuple[str, ...]) -> None:
    """A cursor is client input: refuse anything this order did not write, before it reaches SQL."""
    values = decode_cursor(cursor)
    ok = len(values) == len(order)
    for spec, value in zip(order, values, strict=False):
        if spec.lstrip("-") == "sort_at":
            try:
                ok = ok and isinstance(value, str) and parse_datetime(value) is not None
            except ValueError:
                ok = False
        else:
            ok = ok and isinstance(value, int) and not isinstance(value, bool) and -_BIGINT <= value < _BIGINT
    if not ok:
        raise ValidationFailed(_("Invalid cursor."), code="invalid_cursor", fields={"cursor": "invalid"})
