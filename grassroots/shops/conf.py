"""Shop settings from settings.GRASSROOTS, with the documented defaults if a key is missing."""

from __future__ import annotations

from grassroots.core.conf import gr_setting

DEFAULTS = {
    # A lower commission rate applies only to clicks this many days after the merchant sets it, so
    # shopkeepers learn of a cut before it reaches links they already shared.
    "COMMISSION_DECREASE_NOTICE_DAYS": 7,
    # What the platform keeps of a paid line; used here only to estimate a shopkeeper's commission.
    "PLATFORM_FEE_BPS": 500,
}


def shops_setting(name: str) -> int:
    try:
        return int(gr_setting(name))
    except KeyError:
        return DEFAULTS[name]
