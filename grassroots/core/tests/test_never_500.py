"""Forged cursors, nested JSON, extreme dates and numbers: a clear 4xx, never a 500."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.test import Client

from grassroots.accounts.models import User
from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.core.errors import ValidationFailed
from grassroots.core.pagination import check_time_cursor, encode_cursor, paginate
from grassroots.coupons.services import coupon_create
from grassroots.curation.services import stage_create

pytestmark = pytest.mark.django_db


def _raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("cursor", "order"),
    [
        (encode_cursor(["x"]), ("-id",)),  # not a number for an id
        (encode_cursor(["x", 1]), ("-date_joined", "-id")),  # not a date-time
        (encode_cursor([None]), ("-id",)),
        (_raw("[1e999]"), ("-id",)),  # infinity
        (_raw("[" * 1500), ("-id",)),  # nests deeper than the JSON parser goes
    ],
)
def test_a_forged_cursor_is_a_422(cursor: str, order: tuple[str, ...]) -> None:
    UserFactory()
    with pytest.raises(ValidationFailed) as refused:
        paginate(User.objects.all(), cursor=cursor, limit=10, order=order)
    assert refused.value.code == "invalid_cursor"


@pytest.mark.parametrize("moment", ["2024-13-01T00:00:00", "x", None])
def test_a_time_cursor_needs_a_real_date_time(moment: object) -> None:
    with pytest.raises(ValidationFailed):
        check_time_cursor(encode_cursor([moment, 1]))


def test_forged_cursors_over_http_are_422() -> None:
    product = ProductFactory()
    client = Client()
    client.force_login(UserFactory())
    month_13 = encode_cursor(["2024-13-01T00:00:00", 1])

    responses = {
        "reviews": client.get(f"/api/v1/reviews/products/{product.pk}?cursor={encode_cursor(['x'])}"),
        "notifications": client.get(f"/api/v1/notifications/?cursor={month_13}"),
        "deep": client.get(f"/api/v1/reviews/products/{product.pk}?cursor={_raw('[' * 1500)}"),
    }

    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(responses, 422)


def test_json_nested_too_deep_is_a_4xx() -> None:
    client = Client()
    client.force_login(UserFactory())
    response = client.post("/api/v1/notes/", data="[" * 1500, content_type="application/json")
    assert 400 <= response.status_code < 500


def test_coupon_dates_past_what_a_database_holds_are_refused() -> None:
    far = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14)))
    with pytest.raises(ValidationFailed) as refused:
        coupon_create(actor=CuratorFactory(), code="BIG1", kind="fixed", amount=100, currency="CNY", valid_until=far)
    assert refused.value.fields["valid_until"] == "invalid"
    with pytest.raises(ValidationFailed) as early:
        coupon_create(
            actor=CuratorFactory(),
            code="OLD1",
            kind="fixed",
            amount=100,
            currency="CNY",
            valid_from=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
            valid_until=datetime.now(UTC) + timedelta(days=1),
        )
    assert early.value.fields["valid_from"] == "invalid"


def test_a_stage_position_past_the_column_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        stage_create(actor=CuratorFactory(), code="too_far", name_en="Too far", position=3_000_000_000)
    assert refused.value.fields == {"position": "too_large"}
