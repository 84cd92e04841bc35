"""Coupon services: create and its checks, deactivate, quote rules, redeem and release."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.core.errors import NotFound, PermissionDenied, ValidationFailed
from grassroots.coupons import services
from grassroots.coupons.models import Coupon
from grassroots.coupons.tests.factories import CouponFactory, merchant_coupon, percent_coupon
from grassroots.merchants.tests.factories import MerchantFactory, MerchantMemberFactory

# --- pure money -----------------------------------------------------------------------------------


@given(
    amounts=st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=50),
    fraction=st.fractions(min_value=0, max_value=1),
)
def test_discount_allocate_sums_exactly_and_leaves_a_unit_on_every_line(amounts, fraction):
    ceiling = sum(a - 1 for a in amounts)
    discount = int(ceiling * fraction)

    shares = services.discount_allocate(discount, amounts)

    assert sum(shares) == discount
    assert all(0 <= share <= amount - 1 for share, amount in zip(shares, amounts, strict=True))


@given(amounts=st.lists(st.integers(min_value=100, max_value=10**7), min_size=1, max_size=20))
def test_discount_allocate_is_proportional_within_one_unit_when_far_from_the_ceiling(amounts):
    discount = sum(amounts) // 3

    shares = services.discount_allocate(discount, amounts)

    total = sum(amounts)
    assert all(abs(share - discount * amount / total) < 1 for share, amount in zip(shares, amounts, strict=True))


@given(
    bps=st.integers(min_value=1, max_value=10_000),
    amounts=st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=10),
    cap=st.none() | st.integers(min_value=1, max_value=10**9),
)
def test_percent_discount_rounds_down_respects_the_cap_and_the_lines(bps, amounts, cap):
    coupon = Coupon(kind=Coupon.Kind.PERCENT, percent_bps=bps, max_discount=cap)
    total = sum(amounts)

    discount = services.discount_amount(coupon=coupon, eligible_total=total, eligible_amounts=amounts)

    expected = min(total * bps // 10_000, cap if cap is not None else total, total - len(amounts))
    assert discount == expected


def test_fixed_discount_is_capped_by_the_goods_less_a_unit_per_line():
    coupon = Coupon(kind=Coupon.Kind.FIXED, amount=5000)

    assert services.discount_amount(coupon=coupon, eligible_total=9000, eligible_amounts=[3000, 6000]) == 5000
    assert services.discount_amount(coupon=coupon, eligible_total=3000, eligible_amounts=[1000, 2000]) == 2998


# --- quote ----------------------------------------------------------------------------------------

needs_db = pytest.mark.django_db


@needs_db
def test_quote_platform_fixed_coupon_allocates_over_all_lines():
    coupon = CouponFactory(code="TEN", amount=1000)
    buyer = UserFactory()

    quote = services.coupon_quote(
        code=" ten ", buyer=buyer, lines_by_merchant={1: [(11, 3000), (12, 1000)], 2: [(21, 6000)]}, currency="CNY"
    )

    assert quote.coupon == coupon
    assert (quote.goods_total, quote.eligible_total, quote.discount_total) == (10000, 10000, 1000)
    assert quote.line_discounts == {11: 300, 12: 100, 21: 600}
    assert quote.merchant_discounts == {1: 400, 2: 600}


@needs_db
def test_quote_percent_coupon_with_cap_and_rounding():
    percent_coupon(1250, code="PCT", max_discount=None)
    percent_coupon(1250, code="PCTCAP", max_discount=500)
    buyer = UserFactory()
    lines = {1: [(1, 3333), (2, 3333), (3, 3334)]}

    plain = services.coupon_quote(code="pct", buyer=buyer, lines_by_merchant=lines, currency="CNY")
    capped = services.coupon_quote(code="pctcap", buyer=buyer, lines_by_merchant=lines, currency="CNY")

    assert plain.discount_total == 1250  # 12.5% of 10000
    assert sum(plain.line_discounts.values()) == 1250
    assert plain.line_discounts == {1: 417, 2: 416, 3: 417}
    assert capped.discount_total == 500
    assert capped.line_discounts == {1: 167, 2: 166, 3: 167}


@needs_db
def test_merchant_coupon_discounts_only_its_merchants_lines_and_measures_min_spend_there():
    tea, skin = MerchantFactory(), MerchantFactory()
    merchant_coupon(tea, code="TEA", amount=500, min_spend=5000)
    buyer = UserFactory()

    quote = services.coupon_quote(
        code="TEA", buyer=buyer, lines_by_merchant={tea.pk: [(1, 6000)], skin.pk: [(2, 90000)]}, currency="CNY"
    )
    assert quote.line_discounts == {1: 500, 2: 0}
    assert quote.merchant_discounts == {tea.pk: 500, skin.pk: 0}
    assert quote.eligible_total == 6000

    with pytest.raises(ValidationFailed) as short:
        services.coupon_quote(
            code="TEA", buyer=buyer, lines_by_merchant={tea.pk: [(1, 4999)], skin.pk: [(2, 90000)]}, currency="CNY"
        )
    assert short.value.code == "coupon_min_spend"
    assert short.value.fields == {"coupon_code": "coupon_min_spend", "min_spend": 5000, "eligible_total": 4999}

    with pytest.raises(ValidationFailed) as other:
        services.coupon_quote(code="TEA", buyer=buyer, lines_by_merchant={skin.pk: [(2, 90000)]}, currency="CNY")
    assert other.value.code == "coupon_not_applicable"


@needs_db
@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"is_active": False}, "invalid_coupon"),
        ({"valid_from": timedelta(days=-10), "valid_until": timedelta(seconds=-1)}, "coupon_expired"),
        ({"valid_from": timedelta(hours=1), "valid_until": timedelta(days=2)}, "coupon_not_started"),
        ({"total_limit": 3, "used_count": 3}, "coupon_exhausted"),
        ({"currency": "USD"}, "coupon_not_applicable"),
        ({"min_spend": 10001}, "coupon_min_spend"),
    ],
)
def test_quote_refusals(changes, code):
    now = timezone.now()
    values = {k: now + v if isinstance(v, timedelta) else v for k, v in changes.items()}
    CouponFactory(code="X100", **values)

    with pytest.raises(ValidationFailed) as error:
        services.coupon_quote(
            code="X100", buyer=UserFactory(), lines_by_merchant={1: [(1, 10000)]}, currency="CNY", now=now
        )

    assert (error.value.code, error.value.status) == (code, 422)
    assert error.value.fields["coupon_code"] == code


@needs_db
@pytest.mark.parametrize("code", ["NOPE", "", "  ", "a", "x" * 41, "<b>", None, 12])
def test_quote_unknown_or_malformed_code_is_invalid_coupon(code):
    with pytest.raises(ValidationFailed) as error:
        services.coupon_quote(code=code, buyer=UserFactory(), lines_by_merchant={1: [(1, 100)]}, currency="CNY")
    assert error.value.code == "invalid_coupon"


@needs_db
def test_quote_that_would_discount_nothing_is_not_applicable():
    percent_coupon(1, code="TINY")  # 0.01% of 50 rounds down to 0

    with pytest.raises(ValidationFailed) as error:
        services.coupon_quote(code="TINY", buyer=UserFactory(), lines_by_merchant={1: [(1, 50)]}, currency="CNY")
    assert error.value.code == "coupon_not_applicable"


# --- create and deactivate ------------------------------------------------------------------------


def _create(actor, **overrides):
    values = {
        "code": "spring-10",
        "kind": "fixed",
        "amount": 1000,
        "currency": "CNY",
        "valid_until": timezone.now() + timedelta(days=7),
    }
    return services.coupon_create(actor=actor, **{**values, **overrides})


@needs_db
def test_curator_creates_platform_coupon_and_member_creates_merchant_coupon():
    curator = CuratorFactory()
    merchant = MerchantFactory()
    staff = MerchantMemberFactory(merchant=merchant).user

    platform = _create(curator, code="Spring-10")
    mine = _create(
        staff, code="tea15", kind="percent", amount=0, percent_bps=1500, max_discount=3000, merchant_id=merchant.pk
    )

    assert (platform.code, platform.scope, platform.merchant_id, platform.created_by) == (
        "SPRING-10",
        "platform",
        None,
        curator,
    )
    assert (mine.code, mine.scope, mine.merchant_id, mine.percent_bps, mine.max_discount) == (
        "TEA15",
        "merchant",
        merchant.pk,
        1500,
        3000,
    )


@needs_db
def test_only_curators_create_platform_coupons_and_only_members_merchant_coupons():
    merchant = MerchantFactory()
    stranger = UserFactory()

    with pytest.raises(PermissionDenied):
        _create(merchant.owner)
    with pytest.raises(NotFound):
        _create(stranger, merchant_id=merchant.pk)
    with pytest.raises(NotFound):
        _create(CuratorFactory(), merchant_id=merchant.pk)  # curators are not the merchant
    assert not Coupon.objects.exists()


@needs_db
@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"code": "a!"}, {"code": "invalid"}),
        ({"amount": 0}, {"amount": "out_of_range"}),
        ({"amount": -5}, {"amount": "out_of_range"}),
        ({"amount": True}, {"amount": "out_of_range"}),
        ({"kind": "percent", "amount": 0, "percent_bps": 0}, {"percent_bps": "out_of_range"}),
        ({"kind": "percent", "amount": 0, "percent_bps": 10001}, {"percent_bps": "out_of_range"}),
        ({"kind": "percent", "amount": 0, "percent_bps": 500, "max_discount": 0}, {"max_discount": "out_of_range"}),
        ({"kind": "percent", "amount": 500, "percent_bps": 500}, {"amount": "not_allowed"}),
        ({"percent_bps": 500}, {"percent_bps": "not_allowed"}),
        ({"kind": "bogus"}, {"kind": "invalid"}),
        ({"currency": "XXX"}, {"currency": "invalid"}),
        ({"min_spend": -1}, {"min_spend": "out_of_range"}),
        ({"total_limit": -1, "per_user_limit": "2"}, {"total_limit": "out_of_range", "per_user_limit": "out_of_range"}),
        ({"valid_until": "tomorrow"}, {"valid_until": "invalid"}),
        ({"valid_until": timezone.now() - timedelta(days=1)}, {"valid_until": "in_the_past"}),
        (
            {"valid_from": timezone.now() + timedelta(days=9), "valid_until": timezone.now() + timedelta(days=8)},
            {"valid_until": "not_after_valid_from"},
        ),
    ],
)
def test_create_rejects_bad_values_with_fields_and_writes_nothing(overrides, fields):
    with pytest.raises(ValidationFailed) as error:
        _create(CuratorFactory(), **overrides)

    assert error.value.status == 422
    assert error.value.fields == fields
    assert not Coupon.objects.exists()


@needs_db
def test_codes_are_unique_whatever_their_case():
    curator = CuratorFactory()
    _create(curator, code="Summer")

    with pytest.raises(ValidationFailed) as error:
        _create(curator, code="SUMMER ")

    assert (error.value.code, error.value.fields) == ("coupon_code_taken", {"code": "taken"})
    assert Coupon.objects.count() == 1


@needs_db
def test_deactivate_is_scoped_and_idempotent():
    merchant = MerchantFactory()
    coupon = merchant_coupon(merchant)
    platform = CouponFactory()

    with pytest.raises(NotFound):
        services.coupon_deactivate(actor=UserFactory(), coupon_id=coupon.pk)
    with pytest.raises(NotFound):
        services.coupon_deactivate(actor=merchant.owner, coupon_id=platform.pk)
    with pytest.raises(NotFound):
        services.coupon_deactivate(actor=CuratorFactory(), coupon_id=coupon.pk)
    coupon.refresh_from_db()
    assert coupon.is_active is True

    first = services.coupon_deactivate(actor=merchant.owner, coupon_id=coupon.pk)
    again = services.coupon_deactivate(actor=merchant.owner, coupon_id=coupon.pk)
    assert first.is_active is again.is_active is False
    assert first.deactivated_at == again.deactivated_at
    assert services.coupon_deactivate(actor=CuratorFactory(), coupon_id=platform.pk).is_active is False
