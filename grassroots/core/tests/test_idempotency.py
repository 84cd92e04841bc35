from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone
from ninja import NinjaAPI, Schema
from ninja.testing import TestClient

from grassroots.accounts.tests.factories import UserFactory
from grassroots.core.errors import Conflict, ServiceError, ValidationFailed
from grassroots.core.idempotency import (
    LEASE_SECONDS,
    InProgress,
    body_fingerprint,
    idempotency_records_purge,
    idempotent,
)
from grassroots.core.models import IdempotencyRecord


def _request(key: str | None = "key-1", user: Any = None) -> Any:
    headers = {} if key is None else {"Idempotency-Key": key}
    request = RequestFactory().post("/x", headers=headers)
    request.user = user or AnonymousUser()
    return request


class Counter:
    def __init__(self, result: tuple[int, Any] = (201, {"id": 7})) -> None:
        self.calls = 0
        self.result = result
        self.lock = threading.Lock()

    def __call__(self) -> tuple[int, Any]:
        with self.lock:
            self.calls += 1
        return self.result


@pytest.mark.django_db
def test_first_call_runs_and_a_retry_replays_the_stored_response() -> None:
    user = UserFactory()
    run = Counter()

    first = idempotent(_request(user=user), scope="s", body={"a": 1}, run=run)
    second = idempotent(_request(user=user), scope="s", body={"a": 1}, run=run)

    assert first == (201, {"id": 7})
    assert second == (201, {"id": 7})
    assert run.calls == 1
    record = IdempotencyRecord.objects.get()
    assert (record.owner, record.scope, record.key, record.state) == (str(user.pk), "s", "key-1", "done")
    assert (record.response_status, record.response_body, record.is_error) == (201, {"id": 7}, False)


@pytest.mark.django_db
def test_the_claim_commits_with_the_work_in_one_transaction() -> None:
    from django.test.utils import CaptureQueriesContext

    seen: list[tuple[bool, str]] = []

    def run() -> tuple[int, Any]:
        # Inside the request's transaction, with its own claim already written (and not committed).
        seen.append((connection.in_atomic_block, IdempotencyRecord.objects.get().state))
        return 201, {"id": 7}

    with CaptureQueriesContext(connection) as queries:
        idempotent(_request(), scope="s", body={}, run=run)

    assert seen == [(True, "in_progress")]
    # The test's own transaction turns the request's into a savepoint; nothing else is a transaction.
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    statements = [s for s in statements if s not in {"SAVEPOINT", "RELEASE"}]
    # The claim, run()'s read, the stored response: one transaction, nothing in between.
    assert statements == ["INSERT", "SELECT", "UPDATE"]
    assert IdempotencyRecord.objects.get().state == "done"


@pytest.mark.django_db
def test_body_fingerprint_ignores_key_order_but_not_values() -> None:
    assert body_fingerprint({"a": 1, "b": [1, 2]}) == body_fingerprint({"b": [1, 2], "a": 1})
    assert body_fingerprint({"a": 1}) != body_fingerprint({"a": 2})


@pytest.mark.django_db
def test_same_key_with_a_different_body_is_refused() -> None:
    user = UserFactory()
    run = Counter()
    idempotent(_request(user=user), scope="s", body={"a": 1}, run=run)

    with pytest.raises(ValidationFailed) as exc:
        idempotent(_request(user=user), scope="s", body={"a": 2}, run=run)

    assert exc.value.code == "idempotency_key_reused"
    assert exc.value.status == 422
    assert run.calls == 1


@pytest.mark.django_db
@pytest.mark.parametrize("key", [None, "", "   ", "k" * 201])
def test_missing_or_oversized_key_is_a_400_and_nothing_runs(key: str | None) -> None:
    run = Counter()

    with pytest.raises(ServiceError) as exc:
        idempotent(_request(key), scope="s", body={}, run=run)

    assert (exc.value.status, exc.value.code) == (400, "idempotency_key_required")
    assert run.calls == 0
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.django_db
def test_a_200_character_key_is_accepted() -> None:
    assert idempotent(_request("k" * 200), scope="s", body={}, run=Counter()) == (201, {"id": 7})


@pytest.mark.django_db
def test_keys_are_per_user_and_per_scope() -> None:
    alice, bob = UserFactory(), UserFactory()
    run = Counter()

    idempotent(_request(user=alice), scope="s", body={"a": 1}, run=run)
    idempotent(_request(user=bob), scope="s", body={"a": 2}, run=run)
    idempotent(_request(user=alice), scope="t", body={"a": 3}, run=run)

    assert run.calls == 3
    assert IdempotencyRecord.objects.count() == 3


@pytest.mark.django_db
def test_a_service_error_is_stored_and_raised_again_on_retry() -> None:
    calls = []

    def run() -> tuple[int, Any]:
        calls.append(1)
        raise Conflict("Sold out.", code="sold_out", fields={"sku": "gone"})

    with pytest.raises(Conflict):
        idempotent(_request(), scope="s", body={}, run=run)
    with pytest.raises(ServiceError) as again:
        idempotent(_request(), scope="s", body={}, run=run)

    assert len(calls) == 1
    assert (again.value.status, again.value.as_dict()) == (
        409,
        {"code": "sold_out", "message": "Sold out.", "fields": {"sku": "gone"}},
    )
    record = IdempotencyRecord.objects.get()
    assert (record.state, record.is_error, record.response_status) == ("done", True, 409)


@pytest.mark.django_db
def test_a_lost_race_is_not_remembered_so_the_same_request_runs_again() -> None:
    calls = []

    def run() -> tuple[int, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise Conflict("The order changed meanwhile.", code="order_changed", transient=True)
        return 200, {"shipped": True}

    with pytest.raises(Conflict):
        idempotent(_request(), scope="s", body={}, run=run)
    assert IdempotencyRecord.objects.count() == 0

    assert idempotent(_request(), scope="s", body={}, run=run) == (200, {"shipped": True})
    assert idempotent(_request(), scope="s", body={}, run=run) == (200, {"shipped": True})  # now replayed
    assert len(calls) == 2


@pytest.mark.django_db
def test_work_done_before_a_service_error_is_rolled_back() -> None:
    def run() -> tuple[int, Any]:
        UserFactory(email="half@example.com")
        raise ValidationFailed("No.", code="nope")

    with pytest.raises(ValidationFailed):
        idempotent(_request(), scope="s", body={}, run=run)

    from grassroots.accounts.models import User

    assert not User.objects.filter(email="half@example.com").exists()


@pytest.mark.django_db
def test_an_unexpected_error_forgets_the_key_so_the_client_can_retry() -> None:
    def broken() -> tuple[int, Any]:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        idempotent(_request(), scope="s", body={}, run=broken)
    assert IdempotencyRecord.objects.count() == 0

    assert idempotent(_request(), scope="s", body={}, run=Counter()) == (201, {"id": 7})


@pytest.mark.django_db
def test_a_retry_while_the_first_request_runs_is_a_409() -> None:
    seen: list[str] = []

    def run() -> tuple[int, Any]:
        with pytest.raises(Conflict) as inner:
            idempotent(_request(), scope="s", body={}, run=Counter())
        seen.append(inner.value.code)
        return 200, {"ok": True}

    assert idempotent(_request(), scope="s", body={}, run=run) == (200, {"ok": True})
    assert seen == ["idempotency_in_progress"]


@pytest.mark.django_db
def test_a_stale_claim_from_a_dead_request_is_taken_over() -> None:
    stale = timezone.now() - timedelta(seconds=LEASE_SECONDS + 1)
    IdempotencyRecord.objects.create(
        owner="anon", scope="s", key="key-1", fingerprint=body_fingerprint({}), lease="dead"
    )
    IdempotencyRecord.objects.update(updated_at=stale)
    run = Counter()

    assert idempotent(_request(), scope="s", body={}, run=run) == (201, {"id": 7})
    assert run.calls == 1
    assert IdempotencyRecord.objects.get().state == "done"


@pytest.mark.django_db
def test_purge_forgets_only_old_finished_records() -> None:
    idempotent(_request("old"), scope="s", body={}, run=Counter())
    idempotent(_request("new"), scope="s", body={}, run=Counter())
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(days=2))

    assert idempotency_records_purge(older_than=timedelta(days=1)) == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


# The shape ninja endpoints use: status, data = idempotent(...); return status, data


class ThingIn(Schema):
    name: str


class ThingOut(Schema):
    id: int
    name: str


def _tiny_api() -> tuple[NinjaAPI, list[str]]:
    created: list[str] = []
    tiny = NinjaAPI(urls_namespace=f"idem-test-{id(created)}")

    @tiny.exception_handler(ServiceError)
    def on_error(request: Any, exc: ServiceError) -> Any:
        return tiny.create_response(request, exc.as_dict(), status=exc.status)

    @tiny.post("/things", response={201: ThingOut, 200: ThingOut})
    def make_thing(request: Any, payload: ThingIn) -> Any:
        def do_it() -> ThingOut:
            created.append(payload.name)
            return ThingOut(id=len(created), name=payload.name)

        status, data = idempotent(request, scope="things", body=payload.dict(), run=lambda: (201, do_it()))
        return status, data

    return tiny, created


@pytest.mark.django_db
def test_ninja_endpoint_shape_replays_byte_identical_responses() -> None:
    tiny, created = _tiny_api()
    client = TestClient(tiny)
    user = UserFactory()

    first = client.post("/things", json={"name": "tea"}, headers={"Idempotency-Key": "abc"}, user=user)
    second = client.post("/things", json={"name": "tea"}, headers={"Idempotency-Key": "abc"}, user=user)
    reused = client.post("/things", json={"name": "cake"}, headers={"Idempotency-Key": "abc"}, user=user)
    missing = client.post("/things", json={"name": "tea"}, user=user)

    assert (first.status_code, first.json()) == (201, {"id": 1, "name": "tea"})
    assert (second.status_code, second.content) == (201, first.content)
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")
    assert (missing.status_code, missing.json()["code"]) == (400, "idempotency_key_required")
    assert created == ["tea"]


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_100_concurrent_requests_with_one_key_run_once() -> None:
    user = UserFactory()
    run_calls: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(100)
    results: list[tuple[str, Any]] = []

    def run() -> tuple[int, Any]:
        with lock:
            run_calls.append(1)
        # A real write inside run(): it commits with the stored response, or not at all.
        UserFactory(email="made-once@example.com")
        return 201, {"made": True}

    # PostgreSQL allows 100 connections by default: at most 40 of the 100 requests hold one at once.
    gate = threading.BoundedSemaphore(40 if connection.vendor == "postgresql" else 100)

    def worker() -> None:
        barrier.wait()
        with gate:
            try:
                outcome: tuple[str, Any] = (
                    "ok",
                    idempotent(_request("one-key", user), scope="s", body={"n": 1}, run=run),
                )
            except ServiceError as exc:
                outcome = ("error", (exc.status, exc.code))
            finally:
                connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(run_calls) == 1
    assert len(results) == 100
    oks = [r[1] for r in results if r[0] == "ok"]
    errors = {r[1] for r in results if r[0] == "error"}
    assert oks and all(ok == (201, {"made": True}) for ok in oks)
    assert errors <= {(409, "idempotency_in_progress")}
    from grassroots.accounts.models import User

    assert User.objects.filter(email="made-once@example.com").count() == 1
    assert IdempotencyRecord.objects.get().state == "done"


@pytest.mark.django_db
def test_a_bounded_wait_leaves_run_with_the_usual_lock_timeout() -> None:
    def run() -> tuple[int, Any]:
        if connection.vendor != "postgresql":
            return 201, {"lock_timeout": None}
        with connection.cursor() as cursor:
            cursor.execute("SHOW lock_timeout")
            return 201, {"lock_timeout": cursor.fetchone()[0]}

    status, data = idempotent(_request(), scope="s", body={}, run=run, wait_seconds=0.5)

    assert status == 201
    assert data["lock_timeout"] in (None, "0")  # PostgreSQL's default: no limit
    assert IdempotencyRecord.objects.get().state == "done"


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_a_duplicate_waits_at_most_wait_seconds_then_gets_409_with_retry_after() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the bound is PostgreSQL's lock_timeout")
    user = UserFactory()
    started, release = threading.Event(), threading.Event()
    first: list[tuple[int, Any]] = []

    def slow_run() -> tuple[int, Any]:  # like a payment provider taking its time
        started.set()
        release.wait(10)
        return 200, {"paid": True}

    def first_request() -> None:
        try:
            first.append(idempotent(_request("pay-1", user), scope="pay", body={}, run=slow_run, wait_seconds=0.3))
        finally:
            connection.close()

    thread = threading.Thread(target=first_request)
    thread.start()
    try:
        assert started.wait(10)
        duplicate = Counter()
        began = timezone.now()
        with pytest.raises(InProgress) as refused:
            idempotent(_request("pay-1", user), scope="pay", body={}, run=duplicate, wait_seconds=0.3)
        waited = (timezone.now() - began).total_seconds()
    finally:
        release.set()
        thread.join()

    assert (refused.value.status, refused.value.code, refused.value.retry_after) == (409, "idempotency_in_progress", 1)
    assert 0.25 <= waited < 3
    assert duplicate.calls == 0
    assert first == [(200, {"paid": True})]
    # Nothing of the refused duplicate was kept: its retry replays the first answer.
    assert idempotent(_request("pay-1", user), scope="pay", body={}, run=duplicate, wait_seconds=0.3) == (
        200,
        {"paid": True},
    )
    assert duplicate.calls == 0


def test_the_api_tells_a_client_when_to_retry_a_request_in_progress() -> None:
    from grassroots.api import on_service_error

    response = on_service_error(RequestFactory().post("/x"), InProgress(retry_after=2))

    assert response.status_code == 409
    assert response["Retry-After"] == "2"
