"""Request idempotency for money-moving endpoints (the `Idempotency-Key` header).

    status, data = idempotent(request, scope="checkout", body=payload.dict(), run=lambda: (201, do_it()))
    return status, data

The request inserts an IdempotencyRecord (UNIQUE on owner, scope, key) at the start of the same
transaction as `run()` and the stored response, so a crash leaves all or nothing, and one COMMIT
serves the request. A concurrent request with the same key waits on that unique entry until the
first commits, then replays its response (or runs, if the first rolled back); endpoints whose work
waits on someone else (a payment provider) pass `wait_seconds`, and on PostgreSQL a duplicate that
waits longer gets 409 `idempotency_in_progress` with Retry-After instead of holding a connection.
Retries with the same
body get the stored response (a stored ServiceError is raised again, so the error shape is the same);
the same key with another body is 422 `idempotency_key_reused`; a call nested inside `run()` with
the same key is 409 `idempotency_in_progress`. A ServiceError rolls `run()` back and is then stored in
its own short transaction; any other exception leaves no record, so the client may retry.

`run()` must return JSON-able data or ninja Schemas: the stored body is what every later
response serialises, and the first response returns exactly the same JSON.

Callers must not wrap `idempotent()` in their own transaction: the record must commit with the work.
"""

# SQL here interpolates only the model's table name and %s placeholders.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
import json
import math
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import OperationalError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic_core import to_jsonable_python

from grassroots.core.errors import Conflict, RateLimited, ServiceError, ValidationFailed
from grassroots.core.models import IdempotencyRecord
from grassroots.core.rawsql import datetime_param

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
# A committed claim older than this whose response was never stored (claims committed on their own
# before they moved into the request's transaction) belongs to a request that died; a retry takes it.
LEASE_SECONDS = 300
# How long a duplicate of a request that calls a payment provider waits for the first one.
PROVIDER_WAIT_SECONDS = 2.0
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout ran out

R = IdempotencyRecord
_TABLE = f'"{R._meta.db_table}"'
_BODY = R._meta.get_field("response_body")


class _LeaseLost(Conflict):
    """Another request took the claim over while ours ran; our work is rolled back."""


class InProgress(Conflict):
    """The first request with this key is still running; retry after `retry_after` seconds."""

    code = "idempotency_in_progress"
    transient = True

    def __init__(self, *, retry_after: int = 1) -> None:
        super().__init__(_in_progress_message(), fields={"retry_after": retry_after})
        self.retry_after = retry_after


def request_idempotency_key(request: HttpRequest) -> str:
    key = request.headers.get(HEADER, "").strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ServiceError(
            _("Send an Idempotency-Key header (1 to %(max)s characters).") % {"max": MAX_KEY_LENGTH},
            code="idempotency_key_required",
            status=400,
            fields={"Idempotency-Key": "required"},
        )
    return key


def body_fingerprint(body: Any) -> str:
    canonical = json.dumps(
        to_jsonable_python(body, fallback=str), sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _owner(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return str(user.pk)
    return "anon"


def idempotent(
    request: HttpRequest,
    *,
    scope: str,
    body: Any,
    run: Callable[[], tuple[int, Any]],
    wait_seconds: float | None = None,
) -> tuple[int, Any]:
    """`wait_seconds`: how long a duplicate may wait for the first request with its key (PostgreSQL;
    None waits as long as the first request runs)."""
    key = request_idempotency_key(request)
    owner = _owner(request)
    fingerprint = body_fingerprint(body)
    lease = secrets.token_hex(16)
    claimed: int | IdempotencyRecord | None = None
    try:
        with transaction.atomic():
            claimed = _claim(
                owner=owner, scope=scope, key=key, fingerprint=fingerprint, lease=lease, wait_seconds=wait_seconds
            )
            if isinstance(claimed, int):
                status, data = run()
                payload = to_jsonable_python(data)
                if not _store(record_id=claimed, lease=lease, status=status, body=payload, is_error=False):
                    raise _LeaseLost(_in_progress_message(), code="idempotency_in_progress")
    except (_LeaseLost, RateLimited):
        # A rate limit is transient by nature: remembering it would refuse the retry it asks for.
        raise
    except ServiceError as exc:
        # run() refused (not the claim itself: key reused, in progress). "In progress" from a nested
        # call and a lost race ("changed meanwhile") are transient, so they are not remembered either.
        if isinstance(claimed, int) and not exc.transient:
            _remember_error(owner=owner, scope=scope, key=key, fingerprint=fingerprint, exc=exc)
        raise
    if isinstance(claimed, IdempotencyRecord):
        return _replay(claimed)
    return status, payload


def _store(*, record_id: int, lease: str, status: int, body: Any, is_error: bool) -> bool:
    """The response, on the record we hold (the lease fences off a takeover of a stale claim)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE {_TABLE} SET "state" = %s, "response_status" = %s, "response_body" = %s, "is_error" = %s, '
            '"updated_at" = %s WHERE "id" = %s AND "lease" = %s AND "state" = %s',
            [
                R.State.DONE,
                status,
                _BODY.get_db_prep_save(body, connection),
                is_error,
                datetime_param(timezone.now()),
                record_id,
                lease,
                R.State.IN_PROGRESS,
            ],
        )
        return bool(cursor.rowcount == 1)


def _insert(
    *,
    owner: str,
    scope: str,
    key: str,
    fingerprint: str,
    lease: str,
    error: ServiceError | None,
    wait_seconds: float | None = None,
) -> int | None:
    """INSERT the record unless the key is taken (waiting for a transaction that holds it); its id,
    or None when it was taken. Waiting longer than `wait_seconds` (PostgreSQL) raises InProgress."""
    now = datetime_param(timezone.now())
    body = None if error is None else to_jsonable_python(error.as_dict(), fallback=str)
    with connection.cursor() as cursor, _lock_wait_bounded(cursor, wait_seconds):
        cursor.execute(
            f'INSERT INTO {_TABLE} ("owner", "scope", "key", "fingerprint", "lease", "state", "response_status", '
            '"response_body", "is_error", "created_at", "updated_at") VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) '
            'ON CONFLICT ("owner", "scope", "key") DO NOTHING RETURNING "id"',
            [
                owner,
                scope,
                key,
                fingerprint,
                lease,
                R.State.IN_PROGRESS if error is None else R.State.DONE,
                None if error is None else error.status,
                None if body is None else _BODY.get_db_prep_save(body, connection),
                error is not None,
                now,
                now,
            ],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


@contextmanager
def _lock_wait_bounded(cursor: CursorWrapper, wait_seconds: float | None) -> Iterator[None]:
    """On PostgreSQL, lock waits inside the block give up after `wait_seconds` with InProgress. The
    setting is local to the transaction and put back afterwards, so run() keeps the usual waits."""
    if wait_seconds is None or connection.vendor != "postgresql":
        yield
        return
    cursor.execute(
        "WITH previous AS MATERIALIZED (SELECT current_setting('lock_timeout') AS value) "
        "SELECT value, set_config('lock_timeout', %s, true) FROM previous",
        [f"{max(1, round(wait_seconds * 1000))}ms"],
    )
    previous = cursor.fetchone()[0]
    try:
        yield
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise InProgress(retry_after=max(1, math.ceil(wait_seconds))) from exc
        raise
    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def _remember_error(*, owner: str, scope: str, key: str, fingerprint: str, exc: ServiceError) -> None:
    """A refusal is the answer retries get. `run()` was rolled back with our claim, so it is stored in
    its own transaction, unless another request took the key meanwhile (then that one's answer stands)."""
    with transaction.atomic():
        _insert(owner=owner, scope=scope, key=key, fingerprint=fingerprint, lease="", error=exc)


def _in_progress_message() -> str:
    return _("A request with this Idempotency-Key is still being processed. Retry shortly.")


def _replay(record: IdempotencyRecord) -> tuple[int, Any]:
    status = record.response_status or 500
    body = record.response_body
    if record.is_error:
        fields = body.get("fields") if isinstance(body, dict) else None
        raise ServiceError(
            str(body.get("message", "")) if isinstance(body, dict) else "",
            code=str(body.get("code", "error")) if isinstance(body, dict) else "error",
            status=status,
            fields=fields if isinstance(fields, dict) else None,
        )
    return status, body


def _claim(
    *, owner: str, scope: str, key: str, fingerprint: str, lease: str, wait_seconds: float | None
) -> int | IdempotencyRecord:
    """Insert the record and return its id (we run the request), or the finished record to replay."""
    record_id = _insert(
        owner=owner, scope=scope, key=key, fingerprint=fingerprint, lease=lease, error=None, wait_seconds=wait_seconds
    )
    if record_id is not None:
        return record_id
    existing = R.objects.filter(owner=owner, scope=scope, key=key).first()
    if existing is None:  # purged between the two statements
        raise InProgress()
    if existing.fingerprint != fingerprint:
        raise ValidationFailed(
            _("This Idempotency-Key was already used with a different request body."),
            code="idempotency_key_reused",
            fields={"Idempotency-Key": "reused"},
        )
    if existing.state == R.State.DONE:
        return existing
    # Committed but unfinished: left by a request that died before this module stored claims with
    # their work. Once stale, it is taken over; before that (or inside `run()`) it is in progress.
    stale = timezone.now() - timedelta(seconds=LEASE_SECONDS)
    if existing.updated_at < stale:
        taken = R.objects.filter(
            pk=existing.pk, lease=existing.lease, state=R.State.IN_PROGRESS, updated_at__lt=stale
        ).update(lease=lease, updated_at=timezone.now())
        if taken == 1:
            return existing.pk
    raise InProgress()


def idempotency_records_purge(*, older_than: timedelta) -> int:
    """Forget finished requests older than `older_than` (clients retry within minutes, not weeks)."""
    deleted, _ = R.objects.filter(state=R.State.DONE, created_at__lt=timezone.now() - older_than).delete()
    return deleted
