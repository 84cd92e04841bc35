"""Schemas every API router shares: the one error shape and its response map."""

from __future__ import annotations

from typing import Any

from ninja import Schema


class ErrorOut(Schema):
    """Every 4xx answer: a machine-readable code, a message for people, and per-field problems."""

    code: str
    message: str
    fields: dict[str, Any]


def error_responses(*statuses: int) -> dict[int, type[Schema]]:
    """`response={200: Out, **error_responses(404, 422)}` documents those errors with ErrorOut."""
    return dict.fromkeys(statuses, ErrorOut)
