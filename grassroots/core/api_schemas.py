"""Schemas every API router shares: the one error shape and its response map."""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Schema
from pydantic import Field

# An object id in a request body: what a 64-bit id column can hold (a bigger number is a 422, not a
# database error).
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class ErrorOut(Schema):
    """Every 4xx answer: a machine-readable code, a message for people, and per-field problems."""

    code: str
    message: str
    fields: dict[str, Any]


def error_responses(*statuses: int) -> dict[int, type[Schema]]:
    """`response={200: Out, **error_responses(404, 422)}` documents those errors with ErrorOut."""
    return dict.fromkeys(statuses, ErrorOut)
