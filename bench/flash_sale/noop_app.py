"""The cheapest order request this stack can serve, as a ceiling for bench/flash_sale ("noop").

Bench-only. POST /bench/noop/checkout goes through everything a checkout request goes through
before the checkout itself: granian, Django's middleware, a django-ninja operation with the real
token authentication (one query) and the real request schema, and a small JSON answer. It writes
nothing. Any design that takes an order through one authenticated API request per buyer costs at
least this much per order.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI

from grassroots.core.api_auth import api_auth
from grassroots.orders.api import CheckoutIn

noop_api = NinjaAPI(urls_namespace="bench-noop", auth=api_auth, docs_url=None, openapi_url=None)


@noop_api.post("/checkout", response={201: dict[str, Any]})
def noop_checkout(request: HttpRequest, payload: CheckoutIn) -> tuple[int, dict[str, Any]]:
    return 201, {"ok": True, "items": len(payload.items or [])}
