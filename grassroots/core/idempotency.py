"""Request idempotency for money-moving endpoints (the `Idempotency-Key` header).

    status, data = idempotent(request, scope="checkout", body=payload.dict(), run=lambda: (201, do_it()))
    return status, data

The first request with a key inserts an IdempotencyRecord (UNIQUE on owner, scope, key) in its own
short transaction; only that request runs `run()`. `run()` and the stored response commit in one
transaction, so a crash leaves either both or neither. Retries with the same body get the stored
response (a stored ServiceError is raised again, so the error shape is the same); a retry while the
first is still running gets 409 `idempotency_in_progress`; the same key with another body is 422
`idempotency_key_reused`. Any other exception deletes the record, so the client may retry.

`run()` must return JSON-able data or ninja Schemas: the stored body is what every later
response serialises, and the first response returns exactly the same JSON.

Callers must not wrap `idempotent()` in their own transaction: the claim must commit before
`run()` starts for concurrent retries to see it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic_core import to_jsonable_python

from grassroots.core.errors import Conflict, RateLimited, ServiceError, ValidationFailed
from grassroots.core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
# A claim older than this whose response was never stored belongs to a request that died: its
# transaction rolled back, so nothing was done and a retry may take the claim over.
LEASE_SECONDS = 300

R = IdempotencyRecord


class _LeaseLost(Conflict):
    """Another request took the claim over while ours ran; our work is rolled back."""


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


def idempotent(request: HttpRequest, *, scope: str, body: Any, run: Callable[[], tuple[int, Any]]) -> tuple[int, Any]:
    key = request_idempotency_key(request)
    owner = _owner(request)
    fingerprint = body_fingerprint(body)
    lease = secrets.token_hex(16)

    claimed = _claim(owner=owner, scope=scope, key=key, fingerprint=fingerprint, lease=lease)
    if isinstance(claimed, IdempotencyRecord):
        return _replay(claimed)
    record_id = claimed
    try:
        with transaction.atomic():
            status, data = run()
            payload = to_jsonable_python(data)
            stored = R.objects.filter(pk=record_id, lease=lease, state=R.State.IN_PROGRESS).update(
                state=R.State.DONE, response_status=status, response_body=payload, updated_at=timezone.now()
            )
            if stored != 1:
                raise _LeaseLost(_in_progress_message(), code="idempotency_in_progress")
    except _LeaseLost:
        raise
    except RateLimited:
        # Transient by nature: remembering it would refuse the retry it asks for.
        R.objects.filter(pk=record_id, lease=lease).delete()
        raise
    except ServiceError as exc:
        R.objects.filter(pk=record_id, lease=lease, state=R.State.IN_PROGRESS).update(
            state=R.State.DONE,
            response_status=exc.status,
            response_body=to_jsonable_python(exc.as_dict(), fallback=str),
            is_error=True,
            updated_at=timezone.now(),
        )
        raise
    except BaseException:
        R.objects.filter(pk=record_id, lease=lease).delete()
        raise
    return status, payload


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


def _claim(*, owner: str, scope: str, key: str, fingerprint: str, lease: str) -> int | IdempotencyRecord:
    """Insert the record and return its id (we run the request), or the finished record to replay.
    A record deleted under us (its request failed) is claimed again."""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                record = R.objects.create(owner=owner, scope=scope, key=key, fingerprint=fingerprint, lease=lease)
            return record.pk
        except IntegrityError:
            pass
        existing = R.objects.filter(owner=owner, scope=scope, key=key).first()
        if existing is None:
            continue
        if existing.fingerprint != fingerprint:
            raise ValidationFailed(
                _("This Idempotency-Key was already used with a different request body."),
                code="idempotency_key_reused",
                fields={"Idempotency-Key": "reused"},
            )
        if existing.state == R.State.DONE:
            return existing
        stale = timezone.now() - timedelta(seconds=LEASE_SECONDS)
        if existing.updated_at < stale:
            taken = R.objects.filter(
                pk=existing.pk, lease=existing.lease, state=R.State.IN_PROGRESS, updated_at__lt=stale
            ).update(lease=lease, updated_at=timezone.now())
            if taken == 1:
                return existing.pk
        raise Conflict(_in_progress_message(), code="idempotency_in_progress")
    raise Conflict(_in_progress_message(), code="idempotency_in_progress")


def idempotency_records_purge(*, older_than: timedelta) -> int:
    """Forget finished requests older than `older_than` (clients retry within minutes, not weeks)."""
    deleted, _ = R.objects.filter(state=R.State.DONE, created_at__lt=timezone.now() - older_than).delete()
    return deleted
