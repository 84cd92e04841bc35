from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db.models import OuterRef
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.merchants.tests.factories import MerchantMemberFactory
from grassroots.shops import services
from grassroots.shops.models import CommissionRate, ShopItem
from grassroots.shops.selectors import (
    commission_rate_annotation,
    commission_rate_at,
    commission_rates_at,
    commission_schedule,
    estimated_commission,
)
from grassroots.shops.tests.factories import ShopItemFactory, rate_row

pytestmark = pytest.mark.django_db

NOTICE = timedelta(days=7)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize("rate", [99, 8001, 0, -100, 10_000, True, "abc", None, 12.5])
def test_a_rate_outside_1_to_80_percent_is_refused_and_nothing_is_written(rate: Any):
    product = ProductFactory()

    with pytest.raises(ValidationFailed) as error:
        services.commission_rate_set(actor=product.merchant.owner, product_id=product.pk, rate_bps=rate)

    assert (error.value.status, error.value.code, error.value.fields) == (
        422,
        "rate_out_of_range",
        {"rate_bps": "out_of_range"},
    )
    assert not CommissionRate.objects.exists()


@pytest.mark.parametrize("rate", [100, 8000])
def test_the_bounds_are_allowed(rate: int):
    product = ProductFactory()

    services.commission_rate_set(actor=product.merchant.owner, product_id=product.pk, rate_bps=rate)

    assert commission_rate_at(product_id=product.pk, at=timezone.now()) == rate


def test_a_non_member_setting_a_rate_gets_not_found_and_nothing_is_written():
    product = ProductFactory()

    for actor in (UserFactory(), ProductFactory().merchant.owner):
        with pytest.raises(NotFound):
            services.commission_rate_set(actor=actor, product_id=product.pk, rate_bps=1000)

    assert not CommissionRate.objects.exists()


def test_staff_of_the_merchant_may_set_a_rate():
    product = ProductFactory()
    staff = MerchantMemberFactory(merchant=product.merchant).user

    row = services.commission_rate_set(actor=staff, product_id=product.pk, rate_bps=1500)

    assert (row.rate_bps, row.created_by_id) == (1500, staff.pk)


def test_a_product_without_a_rate_earns_nothing():
    product = ProductFactory()

    assert commission_rate_at(product_id=product.pk, at=timezone.now()) == 0


def test_the_first_rate_and_an_increase_apply_at_once():
    product = ProductFactory()
    owner = product.merchant.owner

    first = services.commission_rate_set(actor=owner, product_id=product.pk, rate_bps=1000)
    assert commission_rate_at(product_id=product.pk, at=timezone.now()) == 1000
    raised = services.commission_rate_set(actor=owner, product_id=product.pk, rate_bps=2000)

    assert commission_rate_at(product_id=product.pk, at=timezone.now()) == 2000
    assert raised.effective_from <= timezone.now()
    # A click before the increase keeps the rate it was made under.
    assert commission_rate_at(product_id=product.pk, at=first.effective_from) == 1000


def test_a_decrease_applies_only_after_the_notice_period():
    product = ProductFactory()
    owner = product.merchant.owner
    services.commission_rate_set(actor=owner, product_id=product.pk, rate_bps=2000)

    now = timezone.now()
    row = services.commission_rate_set(actor=owner, product_id=product.pk, rate_bps=500)

    assert commission_rate_at(product_id=product.pk, at=now) == 2000
    assert commission_rate_at(product_id=product.pk, at=timezone.now()) == 2000
    assert commission_rate_at(product_id=product.pk, at=now + NOTICE + SECOND) == 500
    assert row.effective_from - row.created_at >= NOTICE - SECOND
    assert commission_rate_at(product_id=product.pk, at=row.effective_from - timedelta(microseconds=1)) == 2000
    assert commission_rate_at(product_id=product.pk, at=row.effective_from) == 500


def test_a_click_inside_the_notice_period_earns_the_old_rate():
    product = ProductFactory()
    owner = product.merchant.owner
    services.commission_rate_set(actor=owner, product_id=product.pk, rate_bps=3000)
    services.commission_rate_set(actor=owner, product_id=product.pk, rate_bps=1000)

    click_at = timezone.now() + timedelta(days=3)

    assert commission_rate_at(product_id=product.pk, at=click_at) == 3000
    assert commission_rates_at(product_ids=[product.pk], at=click_at) == {product.pk: 3000}


def test_the_notice_period_is_a_setting(settings: Any):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "COMMISSION_DECREASE_NOTICE_DAYS": 2}
    product = ProductFactory()
    owner = product.merchant.owner
    services.commission_rate_set(actor=owner, product_id=product.pk, rate_bps=3000)
    now = timezone.now()

    services.commission_rate_set(actor=owner, product_id=product.pk, rate_bps=1000)

    assert commission_rate_at(product_id=product.pk, at=now + timedelta(days=1)) == 3000
    assert commission_rate_at(product_id=product.pk, at=now + timedelta(days=2, seconds=1)) == 1000


def test_a_new_decision_cancels_a_pending_decrease():
    product = ProductFactory()
    owner = product.merchant.owner
    services.commission_rate_set(actor=owner, product_id=product.pk, rate_bps=2000)
    pending = services.commission_rate_set(actor=owner, product_id=product.pk, rate_bps=500)

    services.commission_rate_set(actor=owner, product_id=product.pk, rate_bps=2500)

    later = timezone.now() + NOTICE + timedelta(days=1)
    assert commission_rate_at(product_id=product.pk, at=later) == 2500
    pending.refresh_from_db()
    assert pending.cancelled_at is not None
    schedule = commission_schedule(product_id=product.pk)
    assert (schedule.current_bps, schedule.scheduled_bps) == (2500, None)


def test_a_second_decrease_gets_its_own_full_notice():
    product = ProductFactory()
    owner = product.merchant.owner
    services.commission_rate_set(actor=owner, product_id=product.pk, rate_bps=2000)
    services.commission_rate_set(actor=owner, product_id=product.pk, rate_bps=1500)

    now = timezone.now()
    second = services.commission_rate_set(actor=owner, product_id=product.pk, rate_bps=1000)

    assert second.effective_from >= now + NOTICE
    assert commission_rate_at(product_id=product.pk, at=now + NOTICE - SECOND) == 2000
    assert commission_rate_at(product_id=product.pk, at=second.effective_from) == 1000
    assert CommissionRate.objects.filter(product=product, cancelled_at__isnull=True).count() == 2
    schedule = commission_schedule(product_id=product.pk)
    assert (schedule.current_bps, schedule.scheduled_bps, schedule.scheduled_from) == (
        2000,
        1000,
        second.effective_from,
    )


def test_setting_the_rate_in_effect_writes_nothing():
    product = ProductFactory()
    owner = product.merchant.owner
    first = services.commission_rate_set(actor=owner, product_id=product.pk, rate_bps=1200)

    again = services.commission_rate_set(actor=owner, product_id=product.pk, rate_bps=1200)

    assert again.pk == first.pk
    assert CommissionRate.objects.count() == 1


def test_rates_for_many_products_in_one_query(django_assert_num_queries: Any):
    a, b, c = ProductFactory(), ProductFactory(), ProductFactory()
    now = timezone.now()
    rate_row(a, 1000, effective_from=now - timedelta(days=3))
    rate_row(a, 1500, effective_from=now - timedelta(days=1))
    rate_row(a, 100, effective_from=now + timedelta(days=1))
    rate_row(b, 800, effective_from=now - timedelta(days=2))

    with django_assert_num_queries(1):
        rates = commission_rates_at(product_ids=[a.pk, b.pk, c.pk, 999_999], at=now)

    assert rates == {a.pk: 1500, b.pk: 800, c.pk: 0, 999_999: 0}
    assert commission_rates_at(product_ids=[a.pk, b.pk], at=now - timedelta(days=2, hours=12)) == {
        a.pk: 1000,
        b.pk: 0,
    }
    assert commission_rates_at(product_ids=[], at=now) == {}


def test_estimated_commission_is_price_times_rate_in_minor_units():
    assert estimated_commission(price=9900, rate_bps=1000) == 990
    assert estimated_commission(price=12345, rate_bps=1500) == 1852
    assert estimated_commission(price=9900, rate_bps=0) == 0


def test_the_rate_annotation_takes_each_rows_own_time():
    now = timezone.now()
    early, late = ShopItemFactory(), ShopItemFactory()
    ShopItem.objects.filter(pk=late.pk).update(product=early.product, added_at=now + timedelta(days=10))
    ShopItem.objects.filter(pk=early.pk).update(added_at=now)
    rate_row(early.product, 3000, effective_from=now - timedelta(days=1))
    rate_row(early.product, 1000, effective_from=now + timedelta(days=7))

    rates = dict(
        ShopItem.objects.annotate(
            rate=commission_rate_annotation(at=OuterRef("added_at"), product_field="product_id")
        ).values_list("pk", "rate")
    )

    assert rates == {early.pk: 3000, late.pk: 1000}
