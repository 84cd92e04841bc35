"""Attribution settings from settings.GRASSROOTS, with the documented defaults if a key is missing."""

from __future__ import annotations

from grassroots.core.conf import gr_setting

DEFAULTS = {
    # Last click wins within this many days before the purchase.
    "ATTRIBUTION_WINDOW_DAYS": 7,
    # > 0: a signed-in customer who clicks a shop's link (or signs up after one) is bound to that
    # shop for this many days, and the binding beats later clicks on other shops. 0 turns it off.
    "CUSTOMER_BINDING_DAYS": 0,
    # Clicks logged per IP address and minute; beyond it the link still redirects but nothing is
    # written, so a script cannot flood the click table or inflate a shop's numbers.
    "SHARE_CLICKS_PER_IP_PER_MINUTE": 60,
}


def attribution_setting(name: str) -> int:
    try:
        return int(gr_setting(name))
    except KeyError:
        return DEFAULTS[name]
