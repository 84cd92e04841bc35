"""Feed settings, read from settings.GRASSROOTS with defaults for the ones added by this app."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "FEED_TIMELINE_CAP": 800,
    "FEED_FANOUT_ON_READ_THRESHOLD": 5000,
    "FEED_PAGE_SIZE": 20,
    # "auto": Redis sorted sets when REDIS_URL is set (django-redis cache), the database otherwise.
    "FEED_BACKEND": "auto",
    # Notes older than this leave discover.
    "FEED_DISCOVER_WINDOW_DAYS": 14,
    # Note cards in the cache: "auto" (when the cache is Redis), "on" or "off"; seconds a card lives.
    "FEED_CARD_CACHE": "auto",
    "FEED_CARD_TTL": 300,
}


def feeds_setting(name: str) -> Any:
    return settings.GRASSROOTS.get(name, DEFAULTS[name])
