"""Limits, settings and input checks shared by the order services."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext as _

from grassroots.catalog.models import Sku
from grassroots.core.conf import gr_setting
from grassroots.core.errors import ValidationFailed
from grassroots.core.numbers import digits_int
from grassroots.merchants.models import Merchant
from grassroots.orders.models import Order, OrderStatusChange

MAX_QUANTITY = 99
MAX_CART_ITEMS = 100
MAX_CHECKOUT_LINES = 50
MAX_ADDRESSES = 20
PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]{4,19}$")
TRACKING_RE = re.compile(r"^[A-Za-z0-9\-]{4,40}$")

DEFAULTS = {
    "ORDER_PAYMENT_TIMEOUT_MINUTES": 30,
    "ORDER_AUTO_COMPLETE_DAYS": 10,
    "ORDER_AUTO_RECEIVE_DAYS": 10,
    "PLATFORM_FEE_BPS": 500,
}


def orders_setting(name: str) -> int:
    try:
        return int(gr_setting(name))
    except KeyError:
        return DEFAULTS[name]


def check_quantity(value: Any, *, field: str = "quantity") -> int:
    """A whole number from 1 to 99; anything else is a 422 `invalid_quantity`."""
    if isinstance(value, str):
        value = digits_int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_QUANTITY:
        raise ValidationFailed(
            _("Quantity must be a whole number from 1 to %(max)s.") % {"max": MAX_QUANTITY},
            code="invalid_quantity",
            fields={field: "out_of_range"},
        )
    return value


def check_id(value: Any, *, field: str) -> int:
    if isinstance(value, str):
        value = digits_int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value < 2**63:
        raise ValidationFailed(_("Invalid id."), fields={field: "invalid"})
    return value


def _not_available(sku_ids: Sequence[int]) -> ValidationFailed:
    return ValidationFailed(
        _("This item is not available."),
        code="not_available",
        fields={str(pk): "not_available" for pk in sku_ids},
    )


def sellable_skus(sku_ids: Sequence[int]) -> dict[int, Sku]:
    """The SKUs, each active, of a listed product of a verified merchant; else 422 not_available."""
    skus = {
        sku.pk: sku for sku in Sku.objects.select_related("product", "product__merchant").filter(pk__in=list(sku_ids))
    }
    bad = [
        pk
        for pk in sku_ids
        if pk not in skus
        or not skus[pk].is_active
        or not skus[pk].product.is_listed
        or skus[pk].product.merchant.status != Merchant.Status.VERIFIED
    ]
    if bad:
        raise _not_available(bad)
    return skus


def audit_rows(
    orders: Sequence[Order], *, from_status: str, to_status: str, action: str, actor: Any, note: str = ""
) -> None:
    OrderStatusChange.objects.bulk_create(
        [
            OrderStatusChange(
                order=order, from_status=from_status, to_status=to_status, action=action, actor=actor, note=note[:255]
            )
            for order in orders
        ]
    )
