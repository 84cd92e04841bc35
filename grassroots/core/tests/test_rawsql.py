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


@pytest.mark.django_db
def test_insert_rows_stores_what_bulk_create_stores_and_sets_the_keys() -> None:
    from django.forms.models import model_to_dict

    from grassroots.accounts.tests.factories import UserFactory
    from grassroots.core.models import IdempotencyRecord
    from grassroots.core.rawsql import insert_rows

    owner = UserFactory()

    def record(key: str) -> IdempotencyRecord:
        # JSON, a nullable integer, a boolean and auto_now_add / auto_now fields.
        body = {"orders": [{"id": 1, "title": "茶"}], "ok": True}
        return IdempotencyRecord(
            owner=str(owner.pk), scope="s", key=key, fingerprint="f", lease="l", response_body=body, is_error=True
        )

    ours = [record("a"), record("b")]
    insert_rows(ours)
    theirs = IdempotencyRecord.objects.bulk_create([record("c"), record("d")])

    assert all(obj.pk and not obj._state.adding for obj in ours)
    assert [obj.pk for obj in ours] == sorted(obj.pk for obj in ours)
    loaded = {obj.key: obj for obj in IdempotencyRecord.objects.all()}
    for mine, other in zip(ours, theirs, strict=True):
        stored, expected = model_to_dict(loaded[mine.key]), model_to_dict(loaded[other.key])
        for name in ("id", "key"):
            stored.pop(name), expected.pop(name)
        assert stored == expected
        assert loaded[mine.key].created_at == mine.created_at
    insert_rows([])  # nothing to do


def test_insert_rows_needs_an_auto_primary_key() -> None:
    from django.contrib.sessions.models import Session

    from grassroots.core.rawsql import insert_rows

    with pytest.raises(TypeError, match="auto primary key"):
        insert_rows([Session(session_key="k", session_data="")])
