"""The postings of each platform money flow, built in one place so every poster agrees.

Pure: these return PostingSpec lists for `journal_entry_post`; they write nothing. Account codes and
the flows are described in `grassroots.ledger.codes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _

from grassroots.core.errors import ValidationFailed
from grassroots.ledger.codes import BUYER_CLEARING, GATEWAY_CASH, PLATFORM_REVENUE, merchant_payable
from grassroots.ledger.splits import allocate_proportionally
from grassroots.ledger.types import PostingSpec


@dataclass(frozen=True, slots=True)
class Allocation:
    """One merchant's part of a paid order: credited to its payable and to platform revenue."""

    merchant_id: int
    merchant_amount: int  # goods - platform fee + shipping
    platform_fee: int

    @property
    def total(self) -> int:
        return self.merchant_amount + self.platform_fee


def _positive(amount: int, field: str) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValidationFailed(
            _("Amounts are positive whole minor units."), code="invalid_amount", fields={field: "invalid"}
        )


def _non_negative(amount: int, field: str) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise ValidationFailed(_("Amounts are whole minor units."), code="invalid_amount", fields={field: "invalid"})


def capture_postings(*, amount: int, currency: str) -> list[PostingSpec]:
    """The gateway captured buyer money: Dr gateway:cash / Cr buyer:clearing."""
    _positive(amount, "amount")
    return [
        PostingSpec(account=GATEWAY_CASH, amount=amount, currency=currency),
        PostingSpec(account=BUYER_CLEARING, amount=-amount, currency=currency),
    ]


def allocation_postings(*, allocations: Sequence[Allocation], currency: str) -> list[PostingSpec]:
    """An order is paid: Dr buyer:clearing / Cr merchant:<id>:payable / Cr platform:revenue."""
    postings: list[PostingSpec] = []
    for allocation in allocations:
        _non_negative(allocation.merchant_amount, "merchant_amount")
        _non_negative(allocation.platform_fee, "platform_fee")
        if allocation.merchant_amount:
            postings.append(
                PostingSpec(
                    account=merchant_payable(allocation.merchant_id),
                    amount=-allocation.merchant_amount,
                    currency=currency,
                )
            )
        if allocation.platform_fee:
            postings.append(PostingSpec(account=PLATFORM_REVENUE, amount=-allocation.platform_fee, currency=currency))
    total = sum(a.total for a in allocations)
    _positive(total, "allocations")
    postings.insert(0, PostingSpec(account=BUYER_CLEARING, amount=total, currency=currency))
    return postings


def allocation_reversal_postings(*, allocations: Sequence[Allocation], currency: str) -> list[PostingSpec]:
    """Undo (part of) an allocation: Dr merchant:<id>:payable / Dr platform:revenue / Cr buyer:clearing."""
    return [
        PostingSpec(account=p.account, amount=-p.amount, currency=p.currency)
        for p in allocation_postings(allocations=allocations, currency=currency)
    ]


def refund_allocations(*, remaining: Sequence[Allocation], refund_amount: int) -> list[Allocation]:
    """The parts of an order's allocation that a refund of `refund_amount` reverses, proportional
    to what is still allocated (largest remainder; they sum exactly to `refund_amount`).

    Pass the original allocation minus what earlier refunds reversed: then no part ever exceeds
    what is left, and refunds that add up to the whole order reverse it exactly.
    """
    _positive(refund_amount, "refund_amount")
    weights: list[int] = []
    for allocation in remaining:
        _non_negative(allocation.merchant_amount, "merchant_amount")
        _non_negative(allocation.platform_fee, "platform_fee")
        weights += [allocation.merchant_amount, allocation.platform_fee]
    if refund_amount > sum(weights):
        raise ValidationFailed(
            _("The refund is more than what is left of the order."),
            code="refund_exceeds_allocation",
            fields={"refund_amount": "too_large"},
        )
    shares = allocate_proportionally(refund_amount, weights)
    return [
        Allocation(merchant_id=a.merchant_id, merchant_amount=shares[2 * i], platform_fee=shares[2 * i + 1])
        for i, a in enumerate(remaining)
        if shares[2 * i] or shares[2 * i + 1]
    ]


def refund_payout_postings(*, amount: int, currency: str) -> list[PostingSpec]:
    """Money goes back to the buyer: Dr buyer:clearing / Cr gateway:cash."""
    _positive(amount, "amount")
    return [
        PostingSpec(account=BUYER_CLEARING, amount=amount, currency=currency),
        PostingSpec(account=GATEWAY_CASH, amount=-amount, currency=currency),
    ]


def settlement_postings(*, merchant_id: int, amount: int, currency: str) -> list[PostingSpec]:
    """A payout to the merchant: Dr merchant:<id>:payable / Cr gateway:cash."""
    _positive(amount, "amount")
    return [
        PostingSpec(account=merchant_payable(merchant_id), amount=amount, currency=currency),
        PostingSpec(account=GATEWAY_CASH, amount=-amount, currency=currency),
    ]
