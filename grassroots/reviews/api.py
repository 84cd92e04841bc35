"""Reviews API: public product reviews, writing a review of a received item, merchant replies,
curator moderation, and the lines the caller can still review."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import File, Form, Router, Schema, UploadedFile

from grassroots.core.api_auth import optional_auth
from grassroots.core.api_schemas import error_responses
from grassroots.core.conf import gr_setting
from grassroots.core.pagination import paginate
from grassroots.reviews import selectors, services
from grassroots.reviews.models import MerchantReply, Review

router = Router(tags=["reviews"])


ERRORS = error_responses(400, 403, 404, 409, 422)


class PhotoOut(Schema):
    url: str
    thumbnail_url: str
    width: int
    height: int


class ReplyOut(Schema):
    id: int
    merchant_id: int
    merchant_name: str
    text: str
    created_at: datetime


class ReviewOut(Schema):
    id: int
    product_id: int
    rating: int
    text: str
    is_verified_purchase: bool
    status: str
    buyer_name: str
    sku_label: str
    created_at: datetime
    photos: list[PhotoOut]
    reply: ReplyOut | None


class RatingOut(Schema):
    count: int
    average: float | None
    score: float
    stars: dict[int, int]


class ReviewPage(Schema):
    summary: RatingOut
    items: list[ReviewOut]
    next_cursor: str | None


class PendingLineOut(Schema):
    order_line_id: int
    order_id: int
    product_id: int
    product_title: str
    sku_label: str
    delivered_at: datetime | None


class PendingPage(Schema):
    items: list[PendingLineOut]
    next_cursor: str | None


class ReplyIn(Schema):
    text: str


class HideIn(Schema):
    reason: str


def _absolute(request: HttpRequest, url: str) -> str:
    return request.build_absolute_uri(url) if url else ""


def _reply_out(reply: MerchantReply) -> ReplyOut:
    return ReplyOut(
        id=reply.pk,
        merchant_id=reply.merchant_id,
        merchant_name=reply.merchant.name,
        text=reply.text,
        created_at=reply.created_at,
    )


def _review_out(request: HttpRequest, review: Review) -> ReviewOut:
    try:
        reply: MerchantReply | None = review.reply  # type: ignore[attr-defined]
    except MerchantReply.DoesNotExist:
        reply = None
    return ReviewOut(
        id=review.pk,
        product_id=review.product_id,
        rating=review.rating,
        text=review.text,
        is_verified_purchase=review.is_verified_purchase,
        status=review.status,
        buyer_name=review.buyer.display_name,
        sku_label=review.order_line.sku_label,
        created_at=review.created_at,
        photos=[
            PhotoOut(
                url=_absolute(request, photo.image.url),
                thumbnail_url=_absolute(request, photo.thumbnail.url),
                width=photo.width,
                height=photo.height,
            )
            for photo in review.photos.all()
        ],
        reply=_reply_out(reply) if reply is not None else None,
    )


def _review_detail(request: HttpRequest, review_id: int) -> ReviewOut:
    return _review_out(request, selectors.review_with_details(review_id=review_id))


@router.get("/products/{product_id}", response={200: ReviewPage, **ERRORS}, auth=optional_auth)
def product_reviews(
    request: HttpRequest, product_id: int, cursor: str | None = None, limit: int | None = None
) -> ReviewPage:
    """Visible, verified-purchase reviews of a product, newest first, with the rating summary.
    Public; a product buyers cannot see is a 404."""
    product = selectors.product_for_reviews(product_id=product_id, viewer=request.user)
    reviews, next_cursor = selectors.product_reviews(
        product_id=product.pk, cursor=cursor, limit=gr_setting("API_PAGE_SIZE") if limit is None else limit
    )
    summary = selectors.product_rating_summary(product_id=product.pk)
    return ReviewPage(
        summary=RatingOut(count=summary.count, average=summary.average, score=summary.score, stars=summary.stars),
        items=[_review_out(request, review) for review in reviews],
        next_cursor=next_cursor,
    )


@router.post("/", response={201: ReviewOut, **ERRORS})
def create_review(
    request: HttpRequest,
    order_line_id: Form[int],
    rating: Form[int],
    text: Form[str] = "",
    photos: File[list[UploadedFile]] = None,  # type: ignore[assignment]
) -> tuple[int, ReviewOut]:
    """Multipart: `order_line_id`, `rating` (1-5), `text` (plain text, at most 2000 characters) and up
    to 6 `photos` (repeat the field; JPEG, PNG, WebP or GIF judged by content). Only the buyer of a
    delivered or completed line, once per line."""
    review = services.review_create(
        buyer=request.user, order_line_id=order_line_id, rating=rating, text=text, photos=photos or []
    )
    return 201, _review_detail(request, review.pk)


@router.post("/{review_id}/reply", response={201: ReplyOut, **ERRORS})
def reply_to_review(request: HttpRequest, review_id: int, payload: ReplyIn) -> tuple[int, ReplyOut]:
    """A member of the product's merchant answers publicly, once."""
    reply = services.review_reply(actor=request.user, review_id=review_id, text=payload.text)
    return 201, _reply_out(reply)


@router.post("/{review_id}/hide", response={200: ReviewOut, **ERRORS})
def hide_review(request: HttpRequest, review_id: int, payload: HideIn) -> ReviewOut:
    """Curators only: the review leaves the product page, the API and the rating."""
    review = services.review_hide(actor=request.user, review_id=review_id, reason=payload.reason)
    return _review_detail(request, review.pk)


@router.get("/mine/pending", response={200: PendingPage, **ERRORS})
def pending_lines(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> PendingPage:
    """Items I received (delivered or completed orders) and have not reviewed yet, newest first."""
    lines, next_cursor = paginate(
        selectors.reviewable_lines(buyer=request.user),
        cursor=cursor,
        limit=gr_setting("API_PAGE_SIZE") if limit is None else limit,
        order=("-id",),
    )
    return PendingPage(
        items=[
            PendingLineOut(
                order_line_id=line.pk,
                order_id=line.order_id,
                product_id=line.product_id,
                product_title=line.product_title,
                sku_label=line.sku_label,
                delivered_at=line.order.delivered_at,
            )
            for line in lines
        ],
        next_cursor=next_cursor,
    )
