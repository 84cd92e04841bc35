"""A test-only payable: the external edge payments talks to (orders, group buys in production)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from grassroots.core.errors import NotFound
from grassroots.payments.registry import PayableInfo, register_payable, unregister_payable

KIND = "test"


@dataclass
class Item:
    owner_id: int
    amount: int
    currency: str = "CNY"
    payable: bool = True
    reason: str = ""


class FakePayables:
    def __init__(self) -> None:
        self.items: dict[int, Item] = {}
        self.captured: list[tuple[int, int]] = []
        self.failed: list[tuple[int, int]] = []
        self._lock = threading.Lock()

    def add(self, owner_id: int, amount: int = 1000, **kwargs: object) -> int:
        with self._lock:
            payable_id = len(self.items) + 1
            self.items[payable_id] = Item(owner_id=owner_id, amount=amount, **kwargs)  # type: ignore[arg-type]
        return payable_id

    def describe(self, payable_id: int) -> PayableInfo:
        item = self.items.get(payable_id)
        if item is None:
            raise NotFound("No such test payable.")
        return PayableInfo(
            amount=item.amount,
            currency=item.currency,
            owner_id=item.owner_id,
            payable=item.payable,
            reason=item.reason,
            return_url=f"/test-return/{payable_id}/",
        )

    def on_captured(self, payable_id: int, intent_id: int) -> None:
        with self._lock:
            self.captured.append((payable_id, intent_id))

    def on_failed(self, payable_id: int, intent_id: int) -> None:
        with self._lock:
            self.failed.append((payable_id, intent_id))


@pytest.fixture
def payables() -> Iterator[FakePayables]:
    handler = FakePayables()
    register_payable(KIND, handler)
    yield handler
    unregister_payable(KIND)
