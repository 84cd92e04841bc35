"""Verified-purchase reviews: one per order line the buyer received, with photos and one merchant reply.

A review can only be created from an order line (see services.review_create), so every review is a
verified purchase by construction; the flag exists for API clients and is pinned by a constraint.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

RATING_MIN = 1
RATING_MAX = 5
TEXT_MAX_LENGTH = 2000
REPLY_MAX_LENGTH = 2000
REASON_MAX_LENGTH = 255
MAX_PHOTOS = 6


class Review(models.Model):
    class Status(models.TextChoices):
        VISIBLE = "visible", _("Visible")
        HIDDEN = "hidden", _("Hidden")

    # One review per purchased line: the UNIQUE index is what settles two concurrent submissions.
    order_line = models.OneToOneField("orders.OrderLine", on_delete=models.CASCADE, related_name="review")
    # Copied from the line so product pages and the merchant's list need no join through orders.
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="reviews")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews")
    rating = models.PositiveSmallIntegerField(_("rating"))
    text = models.TextField(_("review"), max_length=TEXT_MAX_LENGTH, blank=True)
    is_verified_purchase = models.BooleanField(default=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.VISIBLE)
    hidden_reason = models.CharField(max_length=REASON_MAX_LENGTH, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hidden_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["product", "status", "-id"], name="review_product_visible")]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=RATING_MIN) & Q(rating__lte=RATING_MAX), name="review_rating_1_to_5"
            ),
            models.CheckConstraint(condition=Q(is_verified_purchase=True), name="review_is_verified_purchase"),
        ]

    def __str__(self) -> str:
        return f"Review {self.pk} ({self.rating}/5)"


class ReviewPhoto(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(upload_to="reviews/%Y/%m/")
    thumbnail = models.ImageField(upload_to="reviews/thumbs/%Y/%m/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]


class MerchantReply(models.Model):
    review = models.OneToOneField(Review, on_delete=models.CASCADE, related_name="reply")
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="review_replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField(max_length=REPLY_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Reply to review {self.review_id}"
