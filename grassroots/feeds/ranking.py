"""Discover ranking: engagement, recency and the tagged products' quality in one time-invariant score.

    score = log2(1 + engagement) + log2(quality) + hours_since(EPOCH) / HALF_LIFE_HOURS

- engagement = likes + 2 * collects + 3 * comments + 4 * shares (a share or a comment says more than a
  tap on a heart);
- quality = the smoothed (Bayesian) rating of the tagged products' visible reviews, over the prior
  mean (reviews.selectors: 4.0 with the weight of five ratings), so a note with products rated 4.0
  on average, or with no products, gets 1.0 (log 0); a note tagging 2-star products gets 0.5
  (one half-life of penalty); 5 stars with many reviews gives 1.25;
- recency: a note HALF_LIFE_HOURS newer counts as much as doubling the engagement. Because the
  time term grows with the publication time instead of shrinking with age, the score of a note
  does not change as time passes; it is the "decay" `engagement * 2^(-age / half-life)` up to a
  term shared by every note at a given moment, so the order is the same. Scores therefore only need
  recomputing when engagement changes, and pages ordered by score stay stable between refreshes.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
HALF_LIFE_HOURS = 24.0
WEIGHTS = {"like_count": 1, "collect_count": 2, "comment_count": 3, "share_count": 4}
PRIOR_MEAN = 4.0
PRIOR_WEIGHT = 5


def engagement(*, like_count: int, collect_count: int, comment_count: int, share_count: int) -> int:
    return like_count + 2 * collect_count + 3 * comment_count + 4 * share_count


def quality(*, products: int, review_count: int, rating_total: int) -> float:
    """The tagged products' smoothed rating over the prior mean: 1.0 without products or reviews.
    Every product brings the prior once, so one product's single review moves it little."""
    if products <= 0:
        return 1.0
    smoothed = (PRIOR_WEIGHT * PRIOR_MEAN * products + rating_total) / (PRIOR_WEIGHT * products + review_count)
    return smoothed / PRIOR_MEAN


def score(*, engagement_value: int, quality_value: float, published_at: datetime) -> float:
    hours = (published_at - EPOCH).total_seconds() / 3600.0
    return math.log2(1 + max(engagement_value, 0)) + math.log2(max(quality_value, 0.01)) + hours / HALF_LIFE_HOURS
