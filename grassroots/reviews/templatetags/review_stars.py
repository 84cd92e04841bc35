"""`{{ rating|stars }}`: a rating as five filled or empty stars."""

from __future__ import annotations

from django import template

from grassroots.reviews.models import RATING_MAX

register = template.Library()


@register.filter
def stars(rating: int | float | None) -> str:
    filled = max(0, min(RATING_MAX, round(rating or 0)))
    return "★" * filled + "☆" * (RATING_MAX - filled)
