"""Errors that services raise; the API and views turn them into one response shape.

Shape: {"code": "machine_readable", "message": "For people.", "fields": {"field": "why"}}
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status: int = 400
    code: str = "bad_request"
    # The request lost a race with another change ("changed meanwhile; reload and try again"): the
    # same request sent again may well succeed, so an Idempotency-Key does not remember this answer.
    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        fields: dict[str, Any] | None = None,
        transient: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if transient is not None:
            self.transient = transient
        self.fields = fields or {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "fields": self.fields}


class ValidationFailed(ServiceError):
    status = 422
    code = "invalid"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class PermissionDenied(ServiceError):
    status = 403
    code = "forbidden"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class RateLimited(ServiceError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, fields={"retry_after": retry_after})
        self.retry_after = retry_after
