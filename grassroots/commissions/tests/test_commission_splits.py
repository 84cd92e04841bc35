"""Property tests of the pure money rules: refunds in any number of steps take back exactly what was
booked, never a negative part; the member price never exceeds the rate."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from grassroots.commissions.services import address_fingerprint, member_discount, refund_window_split
from grassroots.ledger.splits import BPS, LineSplit, split_line


@st.composite
def lines(draw: st.DrawFn) -> tuple[int, int, int, int, int, list[int]]:
    quantity = draw(st.integers(min_value=1, max_value=99))
    paid = draw(st.integers(min_value=0, max_value=10**9))
    rate = draw(st.integers(min_value=100, max_value=8000))
    fee = min(draw(st.sampled_from([0, 1, 300, 500, 2000])), BPS - rate)
    override = draw(st.sampled_from([0, 1, 1000, 5000, BPS]))
    parts: list[int] = []
    left = quantity
    while left:
        part = draw(st.integers(min_value=1, max_value=left))
        parts.append(part)
        left -= part
    return paid, quantity, rate, fee, override, parts


@given(lines())
def test_refunds_in_steps_take_back_exactly_the_split_and_no_part_is_negative(
    line: tuple[int, int, int, int, int, list[int]],
) -> None:
    paid, quantity, rate, fee, override, parts = line
    booked = split_line(
        paid=paid,
        platform_fee_bps=fee,
        commission_bps=rate,
        override_bps_of_fee=override,
        has_shopkeeper=True,
        has_override=override > 0,
    )
    taken = LineSplit(0, 0, 0, 0)
    already = 0
    for units in parts:
        window = refund_window_split(
            paid=paid,
            quantity=quantity,
            already=already,
            units=units,
            platform_fee_bps=fee,
            rate_bps=rate,
            override_bps=override,
        )
        assert min(window.merchant, window.platform_fee, window.commission, window.override) >= 0
        taken = LineSplit(
            taken.merchant + window.merchant,
            taken.platform_fee + window.platform_fee,
            taken.commission + window.commission,
            taken.override + window.override,
        )
        already += units
    assert taken == booked


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=BPS))
def test_the_member_discount_is_at_most_the_rate_of_the_price(paid: int, bps: int) -> None:
    discount = member_discount(paid=paid, bps=bps)
    assert 0 <= discount <= paid
    assert discount * BPS <= paid * bps < (discount + 1) * BPS or paid * bps == 0


def test_the_address_fingerprint_ignores_case_spacing_name_and_phone() -> None:
    a = {"name": "Li Lei", "phone": "1", "region": "Zhejiang", "city": "Hangzhou", "line1": "1  West Lake Rd"}
    b = {"name": "Han Meimei", "phone": "2", "region": "zhejiang ", "city": "HANGZHOU", "line1": "1 west lake rd"}
    assert address_fingerprint(a) == address_fingerprint(b)
    assert address_fingerprint(a) != address_fingerprint({**b, "line1": "2 West Lake Rd"})
