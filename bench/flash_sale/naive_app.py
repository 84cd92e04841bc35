"""The naive baseline for bench/flash_sale: the classic `select_for_update()` read-check-write.

Bench-only (never in production code). Served by the same granian command as `make run`, with
DJANGO_SETTINGS_MODULE=bench.flash_sale.settings, whose URLconf (bench/flash_sale/urls.py) is every
real URL plus POST /bench/naive/checkout. It takes the same JSON body and bearer token as
POST /api/v1/orders/checkout and writes the same Checkout/Order/OrderLine/OrderStatusChange rows,
but locks the SKU row, reads stock in Python, checks it and saves it back. Like most hand-written
shops it has no Idempotency-Key handling and returns a small JSON body.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from grassroots.accounts.selectors import user_from_api_token
from grassroots.catalog.models import Sku
from grassroots.merchants.models import Merchant
from grassroots.orders.models import Address, Checkout, Order, OrderLine, OrderStatusChange

PAYMENT_TIMEOUT = timedelta(minutes=30)


def _error(status: int, code: str) -> JsonResponse:
    return JsonResponse({"code": code, "message": code, "fields": {}}, status=status)


@csrf_exempt
@require_POST
def naive_checkout(request: HttpRequest) -> JsonResponse:
    header = request.headers.get("Authorization", "")
    user = user_from_api_token(token=header[7:].strip()) if header[:7].lower() == "bearer " else None
    if user is None:
        return _error(401, "unauthenticated")
    try:
        data: dict[str, Any] = json.loads(request.body)
        address_id = int(data["address_id"])
        sku_id = int(data["items"][0]["sku_id"])
        quantity = int(data["items"][0]["quantity"])
    except (ValueError, KeyError, IndexError, TypeError):
        return _error(422, "invalid")
    if not 1 <= quantity <= 99:
        return _error(422, "invalid_quantity")
    address = Address.objects.filter(pk=address_id, owner=user).first()
    if address is None:
        return _error(404, "not_found")
    now = timezone.now()
    with transaction.atomic():
        # The classic pattern: lock the row, read, check in Python, write back.
        sku = Sku.objects.select_for_update(of=("self",)).select_related("product__merchant").filter(pk=sku_id).first()
        if (
            sku is None
            or not sku.is_active
            or not sku.product.is_listed
            or sku.product.merchant.status != Merchant.Status.VERIFIED
        ):
            return _error(422, "not_available")
        if sku.stock < quantity:
            return _error(409, "out_of_stock")
        sku.stock -= quantity
        sku.reserved += quantity
        sku.save(update_fields=["stock", "reserved"])
        total = sku.price_amount * quantity
        checkout = Checkout.objects.create(
            buyer=user,
            currency=sku.currency,
            goods_total=total,
            shipping_total=0,
            discount_total=0,
            total=total,
            coupon_code="",
            expires_at=now + PAYMENT_TIMEOUT,
        )
        order = Order.objects.create(
            checkout=checkout,
            merchant=sku.product.merchant,
            buyer=user,
            address=address.snapshot(),
            currency=sku.currency,
            goods_total=total,
            shipping_total=0,
            total=total,
            placed_at=now,
        )
        OrderLine.objects.create(
            order=order,
            sku=sku,
            product=sku.product,
            product_title=sku.product.title[:160],
            sku_label=sku.label[:120],
            unit_price=sku.price_amount,
            quantity=quantity,
            paid_amount=total,
        )
        OrderStatusChange.objects.create(
            order=order, from_status="", to_status=order.status, action="place", actor=user
        )
    return JsonResponse(
        {"id": checkout.pk, "status": checkout.status, "total": total, "orders": [{"id": order.pk}]}, status=201
    )
