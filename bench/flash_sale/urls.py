"""Bench-only URLconf: every real URL plus the baseline and no-op checkouts of bench/flash_sale."""

from django.urls import URLPattern, URLResolver, path

from bench.flash_sale.naive_app import naive_checkout
from bench.flash_sale.noop_app import noop_api
from grassroots.urls import urlpatterns as grassroots_urlpatterns

urlpatterns: list[URLPattern | URLResolver] = [
    path("bench/naive/checkout", naive_checkout),
    path("bench/noop/", noop_api.urls),
    *grassroots_urlpatterns,
]
