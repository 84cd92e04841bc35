"""A bench-only prototype of a faster checkout, to put numbers on the suggestions in docs/benchmarks.md.

Not production code and not a proposal to copy as is: it reuses the real pieces (bearer-token auth,
`idempotent`, `checkout_plan`, `owned_address`, the same rows and the same JSON response as
POST /api/v1/orders/checkout) and changes only what the profile of the real path pointed at:

1. the hot SKU row is locked last: the rows are inserted first, and the conditional UPDATE
   (`stock >= n`, re-checked by PostgreSQL on the latest row version) runs as the last statement
   before the idempotency record and COMMIT, so the row is held for 3 round trips instead of ~13;
2. no separate `SELECT ... FOR UPDATE` (the UPDATE takes the row lock itself; with several SKUs the
   UPDATEs run in ascending id order, which keeps the no-deadlock property);
3. no savepoint (the idempotency block's transaction is the only one);
4. the response is built from the objects just written instead of reading them back (3 queries);
5. a line the plan already saw as short is refused before anything is written.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import F
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from grassroots.accounts.selectors import user_from_api_token
from grassroots.catalog.models import Product, Sku
from grassroots.catalog.stock import OutOfStock
from grassroots.core.errors import ServiceError
from grassroots.core.idempotency import idempotent
from grassroots.orders.api import CheckoutIn, _checkout_out
from grassroots.orders.models import Checkout, Order, OrderLine, OrderStatusChange
from grassroots.orders.services.addresses import owned_address
from grassroots.orders.services.checkout import CheckoutPlan, checkout_plan
from grassroots.orders.services.common import orders_setting


def _place(*, buyer: Any, plan: CheckoutPlan, snapshot: dict[str, str], now: datetime) -> Checkout:
    """Runs inside idempotent()'s transaction."""
    short = {str(sku.pk): sku.stock for group in plan.groups for sku, quantity in group.lines if sku.stock < quantity}
    if short:
        raise OutOfStock("Some items are out of stock or short.", fields=short)
    checkout = Checkout.objects.create(
        buyer=buyer,
        currency=plan.currency,
        goods_total=plan.goods_total,
        shipping_total=plan.shipping_total,
        discount_total=0,
        total=plan.total,
        coupon_code="",
        expires_at=now + timedelta(minutes=orders_setting("ORDER_PAYMENT_TIMEOUT_MINUTES")),
    )
    orders = Order.objects.bulk_create(
        [
            Order(
                checkout=checkout,
                merchant=group.merchant,
                buyer=buyer,
                address=snapshot,
                currency=plan.currency,
                goods_total=group.goods_total,
                shipping_total=group.shipping_total,
                total=group.total,
                placed_at=now,
            )
            for group in plan.groups
        ]
    )
    lines_by_order: dict[int, list[OrderLine]] = {}
    lines = [
        OrderLine(
            order=order,
            sku=sku,
            product=sku.product,
            product_title=sku.product.title[:160],
            sku_label=sku.label[:120],
            unit_price=sku.price_amount,
            quantity=quantity,
            paid_amount=sku.price_amount * quantity,
        )
        for order, group in zip(orders, plan.groups, strict=True)
        for sku, quantity in group.lines
    ]
    for line in OrderLine.objects.bulk_create(lines):
        lines_by_order.setdefault(line.order_id, []).append(line)
    OrderStatusChange.objects.bulk_create(
        [
            OrderStatusChange(order=order, from_status="", to_status=order.status, action="place", actor=buyer)
            for order in orders
        ]
    )
    # Last: the hot rows, one conditional UPDATE each in ascending id order.
    listed = Product.objects.filter(is_listed=True).values("pk")
    for sku_id, quantity in sorted(plan.quantities.items()):
        moved = Sku.objects.filter(pk=sku_id, is_active=True, product_id__in=listed, stock__gte=quantity).update(
            stock=F("stock") - quantity, reserved=F("reserved") + quantity
        )
        if moved != 1:
            raise OutOfStock("Some items are out of stock or short.", fields={str(sku_id): 0})
    # What the real endpoint reads back, assembled from memory.
    checkout._prefetched_objects_cache = {"orders": orders}  # type: ignore[attr-defined]
    for order in orders:
        order._prefetched_objects_cache = {"lines": lines_by_order.get(order.pk, [])}  # type: ignore[attr-defined]
    return checkout


@csrf_exempt
@require_POST
def prototype_checkout(request: HttpRequest) -> JsonResponse:
    header = request.headers.get("Authorization", "")
    user = user_from_api_token(token=header[7:].strip()) if header[:7].lower() == "bearer " else None
    if user is None:
        return JsonResponse({"code": "unauthenticated", "message": "", "fields": {}}, status=401)
    request.user = user
    try:
        payload = CheckoutIn.model_validate_json(request.body)
    except ValidationError:
        return JsonResponse({"code": "invalid", "message": "", "fields": {}}, status=422)

    def run() -> tuple[int, Any]:
        address = owned_address(owner=user, address_id=payload.address_id)
        plan = checkout_plan(items=[(line.sku_id, line.quantity) for line in payload.items or []])
        checkout = _place(buyer=user, plan=plan, snapshot=address.snapshot(), now=timezone.now())
        return 201, _checkout_out(checkout)

    try:
        status, data = idempotent(request, scope="bench.prototype.checkout", body=payload.model_dump(), run=run)
    except ServiceError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    return JsonResponse(data, status=status, safe=False)
