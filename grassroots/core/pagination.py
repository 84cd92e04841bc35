"""Keyset (cursor) pagination: stable under inserts, and a page costs the same at any depth."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, Q, QuerySet
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from grassroots.core.errors import ValidationFailed

M = TypeVar("M", bound=Model)
MAX_LIMIT = 100


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def invalid_cursor() -> ValidationFailed:
    return ValidationFailed(_("Invalid cursor."), code="invalid_cursor", fields={"cursor": "invalid"})


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):  # "[[[[..." nests too deep
        raise invalid_cursor() from None
    if not isinstance(values, list):
        raise invalid_cursor()
    return values


def check_time_cursor(cursor: str | None) -> None:
    """A (-moment, -id) style cursor must hold a date-time and an id; anything else is a 422,
    never a database error."""
    if not cursor:
        return
    values = decode_cursor(cursor)
    try:
        moment = parse_datetime(values[0]) if len(values) == 2 and isinstance(values[0], str) else None
    except ValueError:  # well-formed but impossible, e.g. month 13
        moment = None
    identifier = values[1] if len(values) == 2 else None
    if moment is None or not isinstance(identifier, int) or isinstance(identifier, bool) or not 0 <= identifier < 2**63:
        raise invalid_cursor()


def paginate[M: Model](
    queryset: QuerySet[M], *, cursor: str | None, limit: int, order: tuple[str, ...] = ("-id",)
) -> tuple[list[M], str | None]:
    """Order by `order` (each field descending or ascending, last one unique) and cut a page.

    Returns (items, next_cursor).
    """
    if limit < 1 or limit > MAX_LIMIT:
        raise ValidationFailed(
            _("limit must be between 1 and %(max)s.") % {"max": MAX_LIMIT}, fields={"limit": "out_of_range"}
        )
    queryset = queryset.order_by(*order)
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != len(order):
            raise invalid_cursor()
        condition = Q()
        equal = Q()
        for field_spec, value in zip(order, values, strict=True):
            name = field_spec.lstrip("-")
            op = "lt" if field_spec.startswith("-") else "gt"
            condition |= equal & Q(**{f"{name}__{op}": value})
            equal &= Q(**{name: value})
        try:  # a forged cursor's values are checked by the fields here ("a" for an id, 1e999, null)
            queryset = queryset.filter(condition)
        except (ValueError, TypeError, OverflowError, DjangoValidationError) as exc:
            raise invalid_cursor() from exc
    items = list(queryset[: limit + 1])
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = encode_cursor([_attr(last, f.lstrip("-")) for f in order])
    return items, next_cursor


def _attr(obj: Any, path: str) -> Any:
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj
