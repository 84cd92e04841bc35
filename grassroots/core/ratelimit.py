"""Fixed-window counters in the shared cache (database by default, Redis when configured)."""

from __future__ import annotations

import time

from django.core.cache import cache
from django.utils.translation import gettext as _

from grassroots.core.errors import RateLimited


def rate_limit_hit(*, scope: str, key: str, limit: int, window_seconds: int) -> None:
    """Count one event; raise RateLimited once `limit` events happened in the current window."""
    window = int(time.time()) // window_seconds
    cache_key = f"rl:{scope}:{key}:{window}"
    cache.add(cache_key, 0, timeout=window_seconds + 5)
    try:
        count = cache.incr(cache_key)
    except ValueError:
        cache.set(cache_key, 1, timeout=window_seconds + 5)
        count = 1
    if count > limit:
        retry_after = window_seconds - int(time.time()) % window_seconds
        raise RateLimited(
            _("Too many requests. Try again in %(s)s seconds.") % {"s": retry_after}, retry_after=retry_after
        )


def rate_limit_count(*, scope: str, key: str, window_seconds: int) -> int:
    window = int(time.time()) // window_seconds
    value = cache.get(f"rl:{scope}:{key}:{window}")
    return int(value or 0)


def rate_limit_reset(*, scope: str, key: str, window_seconds: int) -> None:
    window = int(time.time()) // window_seconds
    cache.delete(f"rl:{scope}:{key}:{window}")
