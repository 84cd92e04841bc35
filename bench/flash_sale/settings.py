"""Bench-only settings: the real settings, with bench/flash_sale/urls.py as the URLconf."""

from grassroots.settings import *  # noqa: F403

ROOT_URLCONF = "bench.flash_sale.urls"
