"""Pure money splits in integer minor units. No database, no floats: tested exhaustively.

`split_line` is the one place that decides who gets what of a paid order line (orders use it at
allocation, commissions when commission and team override become payable). `allocate_proportionally`
spreads a total over weights (refunds, multi-line discounts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BPS = 10_000  # basis points in a whole


@dataclass(frozen=True, slots=True)
class LineSplit:
    """Four disjoint parts that sum exactly to the paid amount.

    merchant:     what the merchant keeps (paid - gross fee - commission)
    platform_fee: what the platform keeps (gross fee - override)
    commission:   paid by the merchant to the shopkeeper who made the sale
    override:     the shopkeeper's inviter's share of the platform fee (one level, never more)
    """

    merchant: int
    platform_fee: int
    commission: int
    override: int

    @property
    def gross_platform_fee(self) -> int:
        """The fee charged to the merchant, before the platform shares it as an override."""
        return self.platform_fee + self.override

    @property
    def total(self) -> int:
        return self.merchant + self.platform_fee + self.commission + self.override


def _round_half_down(numerator: int, denominator: int) -> int:
    """numerator / denominator to the nearest integer, ties down (numerator >= 0, denominator > 0)."""
    quotient, remainder = divmod(numerator, denominator)
    return quotient + (1 if 2 * remainder > denominator else 0)


def _check_bps(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= BPS:
        raise ValueError(f"{name} must be an int between 0 and {BPS}, got {value!r}")


def split_line(
    *,
    paid: int,
    platform_fee_bps: int,
    commission_bps: int = 0,
    override_bps_of_fee: int = 0,
    has_shopkeeper: bool = False,
    has_override: bool = False,
) -> LineSplit:
    """Split what a buyer paid for one order line.

    Rates: gross fee = paid * platform_fee_bps / 10000; commission = paid * commission_bps / 10000
    (only with a shopkeeper: no attribution or self-referral means none); override =
    gross fee * override_bps_of_fee / 10000 (only with an inviter, who needs a shopkeeper).

    Rounding, as three nested two-way splits so that every part is non-decreasing in `paid`:
      1. The merchant's deductions (gross fee + commission) are rounded to the nearest unit, ties
         toward the merchant.
      2. Those deductions are divided between platform and shopkeeper with the platform's gross fee
         rounded down: any leftover unit goes to the shopkeeper. Without a shopkeeper the gross fee
         is simply paid * fee rate rounded to nearest, ties toward the merchant.
      3. The override is rounded up out of the gross fee: any leftover unit goes to the inviter.
    So no rounding ever favours the platform: what it keeps stays below its exact rational share plus
    half a minor unit per line. The merchant's part is within half a unit of its exact share,
    commission and override within 1.5 units; the platform absorbs the rest (at most 2.5 units
    below its exact share). None is negative, and the four parts sum exactly to `paid`.
    """
    if not isinstance(paid, int) or isinstance(paid, bool) or paid < 0:
        raise ValueError(f"paid must be a non-negative int of minor units, got {paid!r}")
    _check_bps("platform_fee_bps", platform_fee_bps)
    _check_bps("commission_bps", commission_bps)
    _check_bps("override_bps_of_fee", override_bps_of_fee)
    if platform_fee_bps + commission_bps > BPS:
        raise ValueError("platform fee and commission together exceed the paid amount")
    if has_override and not has_shopkeeper:
        raise ValueError("a team override needs a shopkeeper whose inviter earns it")

    commission_rate = commission_bps if has_shopkeeper else 0
    override_rate = override_bps_of_fee if has_override else 0
    deduction_rate = platform_fee_bps + commission_rate

    deductions = _round_half_down(paid * deduction_rate, BPS)
    gross_fee = deductions * platform_fee_bps // deduction_rate if deduction_rate else 0
    commission = deductions - gross_fee
    override = -(-gross_fee * override_rate // BPS)  # ceiling division
    return LineSplit(
        merchant=paid - deductions,
        platform_fee=gross_fee - override,
        commission=commission,
        override=override,
    )


def allocate_proportionally(total: int, weights: Sequence[int]) -> list[int]:
    """Spread `total` over `weights` by largest remainder; the shares sum exactly to `total`.

    Each share is within one unit of total * weight / sum(weights); a zero weight gets zero; ties in
    the remainder go to the earlier weight, so the result is deterministic. A negative total is
    spread as its absolute value and negated.
    """
    if not isinstance(total, int) or isinstance(total, bool):
        raise ValueError("total must be an int of minor units")
    if any(not isinstance(w, int) or isinstance(w, bool) or w < 0 for w in weights):
        raise ValueError("weights must be non-negative ints")
    weight_sum = sum(weights)
    if weight_sum == 0:
        if total == 0:
            return [0] * len(weights)
        raise ValueError("cannot allocate a non-zero total over zero weights")
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    shares: list[int] = []
    remainders: list[tuple[int, int]] = []
    for index, weight in enumerate(weights):
        share, remainder = divmod(magnitude * weight, weight_sum)
        shares.append(share)
        remainders.append((-remainder, index))
    leftover = magnitude - sum(shares)
    for _remainder, index in sorted(remainders)[:leftover]:
        shares[index] += 1
    return [sign * share for share in shares]
