"""Ledger rows are only ever written through the services, so tests build them the same way."""

from __future__ import annotations

import itertools

from grassroots.ledger.codes import BUYER_CLEARING, GATEWAY_CASH
from grassroots.ledger.flows import Allocation, allocation_postings, capture_postings
from grassroots.ledger.models import JournalEntry
from grassroots.ledger.services import PostingSpec, journal_entry_post

_keys = itertools.count(1)


def next_key(prefix: str = "test") -> str:
    return f"{prefix}:{next(_keys)}"


def post_entry(
    postings: list[PostingSpec] | None = None, *, key: str | None = None, kind: str = "test", currency: str = "CNY"
) -> JournalEntry:
    """A balanced entry; by default a 1000-unit capture."""
    postings = postings or [
        PostingSpec(account=GATEWAY_CASH, amount=1000, currency=currency),
        PostingSpec(account=BUYER_CLEARING, amount=-1000, currency=currency),
    ]
    return journal_entry_post(idempotency_key=key or next_key(), kind=kind, postings=postings)


def fund_merchant(merchant_id: int, amount: int, *, fee: int = 0, currency: str = "CNY") -> JournalEntry:
    """A buyer pays and the order is allocated: the merchant is owed `amount`."""
    journal_entry_post(
        idempotency_key=next_key("capture"),
        kind="capture",
        postings=capture_postings(amount=amount + fee, currency=currency),
    )
    return journal_entry_post(
        idempotency_key=next_key("order-paid"),
        kind="order_paid",
        postings=allocation_postings(
            allocations=[Allocation(merchant_id=merchant_id, merchant_amount=amount, platform_fee=fee)],
            currency=currency,
        ),
        memo="Order paid",
        reference="order:1",
    )
