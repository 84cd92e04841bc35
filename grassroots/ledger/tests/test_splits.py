from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grassroots.ledger.splits import LineSplit, allocate_proportionally, split_line

amounts = st.integers(min_value=0, max_value=10**12)
bps = st.integers(min_value=0, max_value=10_000)


@st.composite
def split_args(draw: st.DrawFn) -> dict:
    fee = draw(bps)
    commission = draw(st.integers(min_value=0, max_value=10_000 - fee))
    has_shopkeeper = draw(st.booleans())
    return {
        "platform_fee_bps": fee,
        "commission_bps": commission,
        "override_bps_of_fee": draw(bps),
        "has_shopkeeper": has_shopkeeper,
        "has_override": has_shopkeeper and draw(st.booleans()),
    }


def exact_shares(paid: int, args: dict) -> dict[str, Fraction]:
    fee = Fraction(paid * args["platform_fee_bps"], 10_000)
    commission = Fraction(paid * args["commission_bps"], 10_000) if args["has_shopkeeper"] else Fraction(0)
    override = fee * Fraction(args["override_bps_of_fee"], 10_000) if args["has_override"] else Fraction(0)
    return {
        "merchant": paid - fee - commission,
        "platform_fee": fee - override,
        "commission": commission,
        "override": override,
    }


def test_split_of_a_simple_line():
    # Given ¥99.95 at a 5% fee, 10% commission and a 20% override of the fee
    split = split_line(
        paid=9995,
        platform_fee_bps=500,
        commission_bps=1000,
        override_bps_of_fee=2000,
        has_shopkeeper=True,
        has_override=True,
    )

    # Then deductions 1499.25 -> 1499 (toward the merchant); of those the gross fee is floor(499.67) = 499
    # (exact 499.75) and the shopkeeper gets 1000 (exact 999.5); the override is ceil(99.8) = 100.
    assert split == LineSplit(merchant=8496, platform_fee=399, commission=1000, override=100)
    assert split.gross_platform_fee == 499
    assert split.total == 9995


def test_without_a_shopkeeper_there_is_no_commission_and_the_fee_is_rounded_to_nearest():
    split = split_line(paid=12990, platform_fee_bps=550, commission_bps=3000)

    # 12990 * 5.5% = 714.45 -> 714
    assert split == LineSplit(merchant=12276, platform_fee=714, commission=0, override=0)


def test_fee_ties_round_toward_the_merchant():
    # 10 * 5% = 0.5: the half unit stays with the merchant
    assert split_line(paid=10, platform_fee_bps=500) == LineSplit(merchant=10, platform_fee=0, commission=0, override=0)
    # 30 * 5% = 1.5 -> 1
    assert split_line(paid=30, platform_fee_bps=500).platform_fee == 1


def test_zero_paid_splits_to_zero():
    assert split_line(paid=0, platform_fee_bps=500, commission_bps=1000, has_shopkeeper=True) == LineSplit(0, 0, 0, 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"paid": -1, "platform_fee_bps": 500},
        {"paid": 100, "platform_fee_bps": 10_001},
        {"paid": 100, "platform_fee_bps": -1},
        {"paid": 100, "platform_fee_bps": 6000, "commission_bps": 5000},
        {"paid": 100, "platform_fee_bps": 500, "override_bps_of_fee": 100, "has_override": True},
        {"paid": True, "platform_fee_bps": 500},
        {"paid": 1.5, "platform_fee_bps": 500},
    ],
)
def test_invalid_split_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        split_line(**kwargs)


@given(paid=amounts, args=split_args())
def test_split_parts_sum_to_paid_and_none_is_negative(paid, args):
    split = split_line(paid=paid, **args)

    assert split.merchant + split.platform_fee + split.commission + split.override == paid
    assert min(split.merchant, split.platform_fee, split.commission, split.override) >= 0
    if not args["has_shopkeeper"]:
        assert split.commission == 0
    if not args["has_override"]:
        assert split.override == 0


@given(paid=amounts, args=split_args())
def test_split_never_favours_the_platform(paid, args):
    split = split_line(paid=paid, **args)
    exact = exact_shares(paid, args)

    # What the platform keeps never exceeds its exact rational share by a minor unit (in fact by half).
    assert split.platform_fee - exact["platform_fee"] < Fraction(1, 2)
    # and the fee it charges the merchant neither.
    assert split.gross_platform_fee - (exact["platform_fee"] + exact["override"]) < Fraction(1, 2)


@given(paid=amounts, args=split_args())
def test_split_parts_are_close_to_their_exact_shares(paid, args):
    split = split_line(paid=paid, **args)
    exact = exact_shares(paid, args)

    assert abs(split.merchant - exact["merchant"]) <= Fraction(1, 2)
    assert abs(split.commission - exact["commission"]) < Fraction(3, 2)
    assert abs(split.override - exact["override"]) < Fraction(3, 2)
    assert exact["platform_fee"] - split.platform_fee < Fraction(5, 2)


@given(paid=st.integers(min_value=0, max_value=10**9), step=st.integers(min_value=1, max_value=1000), args=split_args())
def test_split_is_monotonic_in_paid(paid, step, args):
    low = split_line(paid=paid, **args)
    high = split_line(paid=paid + step, **args)

    assert high.merchant >= low.merchant
    assert high.platform_fee >= low.platform_fee
    assert high.commission >= low.commission
    assert high.override >= low.override


def test_split_is_monotonic_for_every_small_amount_and_rate_pair():
    # Exhaustive where rounding bites hardest: tiny amounts, fee and commission together.
    for fee in range(0, 10_001, 250):
        for commission in range(0, 10_001 - fee, 250):
            previous = LineSplit(0, 0, 0, 0)
            for paid in range(60):
                split = split_line(
                    paid=paid,
                    platform_fee_bps=fee,
                    commission_bps=commission,
                    override_bps_of_fee=3333,
                    has_shopkeeper=True,
                    has_override=True,
                )
                assert split.total == paid
                assert split.merchant >= previous.merchant
                assert split.platform_fee >= previous.platform_fee
                assert split.commission >= previous.commission
                assert split.override >= previous.override
                previous = split


def test_allocate_proportionally_largest_remainder():
    # 100 over 1:1:1 -> 33.33 each; the leftover unit goes to the first (ties go to the earlier weight)
    assert allocate_proportionally(100, [1, 1, 1]) == [34, 33, 33]
    # 10 over 2:3:5 exactly
    assert allocate_proportionally(10, [2, 3, 5]) == [2, 3, 5]
    # 7 over 1:2 -> 2.33, 4.67: the larger remainder wins the unit
    assert allocate_proportionally(7, [1, 2]) == [2, 5]
    assert allocate_proportionally(-7, [1, 2]) == [-2, -5]
    assert allocate_proportionally(0, [0, 0]) == [0, 0]


@pytest.mark.parametrize(("total", "weights"), [(5, [0, 0]), (5, []), (5, [1, -1]), (5, [True]), (1.0, [1])])
def test_allocate_proportionally_refuses_bad_input(total, weights):
    with pytest.raises(ValueError):
        allocate_proportionally(total, weights)


@given(
    total=st.integers(min_value=-(10**12), max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=12).filter(lambda w: sum(w) > 0),
)
def test_allocate_proportionally_sums_exactly_and_stays_within_a_unit(total, weights):
    shares = allocate_proportionally(total, weights)

    assert sum(shares) == total
    assert len(shares) == len(weights)
    weight_sum = sum(weights)
    for share, weight in zip(shares, weights, strict=True):
        assert abs(share - Fraction(total * weight, weight_sum)) < 1
        if weight == 0:
            assert share == 0
        assert share * total >= 0  # same sign as the total


@given(weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=8).filter(lambda w: sum(w) > 0))
def test_allocating_the_whole_weight_returns_the_weights(weights):
    assert allocate_proportionally(sum(weights), weights) == weights
