"""Ledger account codes used across the platform. An account is (code, currency); it is created on
its first posting, and its kind follows from the last segment of its code.

Postings are debit positive, credit negative, in minor units; every entry sums to zero per currency.
So assets read positive and liabilities and revenue read negative in `account_balance`.

- `gateway:cash` (asset): money held at the payment provider.
- `buyer:clearing` (liability): captured buyer money not yet allocated to orders.
- `merchant:<id>:payable` (liability): what the platform owes merchant <id>.
- `platform:revenue` (revenue): platform fee income.
- `platform:promotions:expense` (expense): what the platform funds of platform coupons; the merchant
  is paid it as if the buyer had paid it.

There is no `merchant:<id>:settled` account: a settlement (payout) moves the merchant's payable out
through `gateway:cash`.

Flows (helpers that build the postings are in `grassroots.ledger.flows`):
- capture:             Dr gateway:cash / Cr buyer:clearing
- order paid:          Dr buyer:clearing / Dr platform:promotions:expense (platform coupons' share)
                       / Cr merchant:<id>:payable (goods - platform fee + shipping + that share)
                       / Cr platform:revenue (fee)
- refund:              the reverse allocation, proportional to the refunded amount
                       (Dr merchant:<id>:payable / Dr platform:revenue / Cr buyer:clearing
                       / Cr platform:promotions:expense),
                       then Dr buyer:clearing / Cr gateway:cash
- merchant settlement: Dr merchant:<id>:payable / Cr gateway:cash
"""

from __future__ import annotations

import re

GATEWAY_CASH = "gateway:cash"
BUYER_CLEARING = "buyer:clearing"
PLATFORM_REVENUE = "platform:revenue"
PLATFORM_PROMOTIONS = "platform:promotions:expense"

_MERCHANT_PAYABLE = re.compile(r"^merchant:(\d+):payable$")


def merchant_payable(merchant_id: int) -> str:
    if not isinstance(merchant_id, int) or isinstance(merchant_id, bool) or merchant_id < 1:
        raise ValueError(f"merchant_id must be a positive int, got {merchant_id!r}")
    return f"merchant:{merchant_id}:payable"


def merchant_prefix(merchant_id: int) -> str:
    """Every account of merchant <id> starts with this (the trailing colon keeps 1 apart from 12)."""
    return f"merchant:{int(merchant_id)}:"


def payable_merchant_id(code: str) -> int | None:
    match = _MERCHANT_PAYABLE.match(code)
    return int(match.group(1)) if match else None
