"""Whole numbers that arrive as text (query strings, form fields, JSON strings, headers)."""

from __future__ import annotations

# 18 digits always fit a signed 64-bit column, so a parsed id can go straight into a query.
MAX_DIGITS = 18


def digits_int(value: object, *, max_digits: int = MAX_DIGITS) -> int | None:
    """The number spelt by a string of ASCII digits (surrounding spaces allowed) of at most
    `max_digits` digits; None for anything else. `str.isdigit()` alone is not enough: it accepts
    characters such as "²" that `int()` refuses, and `int()` refuses strings of over 4,300 digits,
    which would turn bad input into a 500."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text and len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None
