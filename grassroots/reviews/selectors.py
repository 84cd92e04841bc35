"""Reads for reviews, each with a fixed number of queries whatever the number of reviews or photos.

Product rating
--------------
`product_rating_summary` counts visible reviews only (a review a curator hid, e.g. for a fake
purchase, no longer counts) in one aggregate query. Besides the plain average it gives a Bayesian
average, the number to rank by:

    score = (PRIOR_WEIGHT * PRIOR_MEAN + sum of ratings) / (PRIOR_WEIGHT + count)

with PRIOR_MEAN = 4.0 and PRIOR_WEIGHT = 5: every product starts as if it had five 4-star ratings,
so one 5-star review gives 4.17, not 5.0, and the score approaches the plain average as real
ratings accumulate (at 50 ratings the prior weighs under 10%).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Prefetch, Q, QuerySet, Sum
from django.urls import reverse
from django.utils.translation import gettext as _

from grassroots.catalog.models import Product
from grassroots.catalog.selectors import product_is_public
from grassroots.core.errors import NotFound
from grassroots.core.pagination import paginate
from grassroots.merchants.models import Merchant
from grassroots.merchants.selectors import member_role, user_is_curator
from grassroots.orders.models import Order, OrderLine
from grassroots.reviews.models import RATING_MAX, RATING_MIN, Review, ReviewPhoto

PRIOR_MEAN = 4.0
PRIOR_WEIGHT = 5
# Reviews shown on the product page itself; the rest are one link away.
PRODUCT_PAGE_REVIEWS = 3
REVIEWABLE_STATUSES = (Order.Status.DELIVERED, Order.Status.COMPLETED)


@dataclass(frozen=True)
class RatingSummary:
    count: int
    # Plain mean of the visible ratings; None without any.
    average: float | None
    # Bayesian average (see the module docstring); PRIOR_MEAN without any rating.
    score: float
    # Number of ratings per star, 1..5.
    stars: dict[int, int] = field(default_factory=dict)


def bayesian_score(*, count: int, total: int) -> float:
    return (PRIOR_WEIGHT * PRIOR_MEAN + total) / (PRIOR_WEIGHT + count)


def product_rating_summary(*, product_id: int) -> RatingSummary:
    """One aggregate query over the product's visible reviews."""
    star_counts = {f"stars_{star}": Count("id", filter=Q(rating=star)) for star in range(RATING_MIN, RATING_MAX + 1)}
    row = Review.objects.filter(product_id=product_id, status=Review.Status.VISIBLE).aggregate(
        count=Count("id"), total=Sum("rating"), **star_counts
    )
    count = int(row["count"] or 0)
    total = int(row["total"] or 0)
    return RatingSummary(
        count=count,
        average=total / count if count else None,
        score=bayesian_score(count=count, total=total),
        stars={star: int(row[f"stars_{star}"] or 0) for star in range(RATING_MIN, RATING_MAX + 1)},
    )


def _with_details(queryset: QuerySet[Review]) -> QuerySet[Review]:
    """Buyer, the line bought, the reply and its merchant in the same query; photos in one more."""
    return queryset.select_related("buyer", "order_line", "reply", "reply__merchant").prefetch_related(
        Prefetch("photos", queryset=ReviewPhoto.objects.order_by("position", "id"))
    )


def review_with_details(*, review_id: int) -> Review:
    review = _with_details(Review.objects.filter(pk=review_id)).first()
    if review is None:
        raise NotFound(_("Review not found."))
    return review


def product_for_reviews(*, product_id: int, viewer: Any) -> Product:
    """The product if `viewer` may see its page (listed, or a preview for its team and curators)."""
    product = Product.objects.select_related("merchant").filter(pk=product_id).first()
    if product is None:
        raise NotFound(_("Product not found."))
    if product_is_public(product):
        return product
    if getattr(viewer, "is_authenticated", False) and (
        user_is_curator(user=viewer) or member_role(merchant=product.merchant, user=viewer) is not None
    ):
        return product
    raise NotFound(_("Product not found."))


def product_reviews(*, product_id: int, cursor: str | None, limit: int) -> tuple[list[Review], str | None]:
    """Visible reviews of a product, newest first: (page, next_cursor). Three queries per page."""
    return paginate(
        _with_details(Review.objects.filter(product_id=product_id, status=Review.Status.VISIBLE)),
        cursor=cursor,
        limit=limit,
        order=("-id",),
    )


@dataclass(frozen=True)
class ProductReviewBlock:
    """What the product page shows: the summary, the latest reviews and where the rest are."""

    summary: RatingSummary
    reviews: list[Review]
    all_url: str
    has_more: bool


def product_review_block(*, product_id: int) -> ProductReviewBlock:
    """For the catalog's product page: four queries, whatever the number of reviews."""
    reviews, next_cursor = product_reviews(product_id=product_id, cursor=None, limit=PRODUCT_PAGE_REVIEWS)
    return ProductReviewBlock(
        summary=product_rating_summary(product_id=product_id),
        reviews=reviews,
        all_url=reverse("reviews:product", args=[product_id]),
        has_more=next_cursor is not None,
    )


def reviewable_lines(*, buyer: Any) -> QuerySet[OrderLine]:
    """The buyer's received lines (order delivered or completed) that have no review yet.

    Reads orders' models directly (read-only); orders has no selector for this yet.
    """
    if not getattr(buyer, "is_authenticated", False):
        return OrderLine.objects.none()
    # A line returned in full is no longer a purchase to vouch for.
    return OrderLine.objects.filter(
        order__buyer=buyer,
        order__status__in=REVIEWABLE_STATUSES,
        review__isnull=True,
        refunded_quantity__lt=F("quantity"),
    ).select_related("order", "product")


def line_for_review(*, buyer: Any, order_line_id: int) -> OrderLine:
    """One of the buyer's order lines, with its order and any review; NotFound for anyone else's."""
    buyer_id = getattr(buyer, "pk", None)
    line = (
        OrderLine.objects.select_related("order", "product", "review")
        .filter(pk=order_line_id, order__buyer_id=buyer_id)
        .first()
        if buyer_id is not None
        else None
    )
    if line is None:
        raise NotFound(_("Order line not found."))
    return line


def line_is_reviewable(line: OrderLine) -> bool:
    return line.order.status in REVIEWABLE_STATUSES and line.refunded_quantity < line.quantity


def line_review(line: OrderLine) -> Review | None:
    """The line's review, from what line_for_review loaded."""
    try:
        return line.review  # type: ignore[attr-defined,no-any-return]
    except Review.DoesNotExist:
        return None


def merchant_reviews(*, merchant: Merchant) -> QuerySet[Review]:
    """Every review of the merchant's products, hidden ones too (marked), with product and reply."""
    return _with_details(Review.objects.filter(product__merchant=merchant)).select_related("product")
