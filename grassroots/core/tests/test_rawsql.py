"""The raw-SQL helpers give the ORM's values on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from grassroots.core.rawsql import datetime_param, datetime_value, placeholders


def test_placeholders_one_per_value() -> None:
    assert placeholders([7, 8, 9]) == "%s, %s, %s"
    assert placeholders({1}) == "%s"


def test_datetime_values_come_back_aware_in_utc() -> None:
    moment = datetime(2026, 11, 25, 8, 30, 1, 123456, tzinfo=UTC)
    assert datetime_value("2026-11-25 08:30:01.123456") == moment
    assert datetime_value(moment.replace(tzinfo=None)) == moment
    assert datetime_value(moment) == moment
    assert datetime_value(None) is None
    with pytest.raises(ValueError, match="not a datetime"):
        datetime_value("yesterday")


@pytest.mark.django_db
def test_a_datetime_round_trips_through_a_raw_query() -> None:
    moment = datetime(2026, 11, 25, 8, 30, 1, 123456, tzinfo=UTC)
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s", [datetime_param(moment)])
        (raw,) = cursor.fetchone()
    assert datetime_value(raw) == moment
