"""Shards: n processes share a bulk job, each taking the rows whose id is i modulo n (`i/n`)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from grassroots.core.errors import ValidationFailed

Shard = tuple[int, int]
WHOLE: Shard = (0, 1)


def shard_check(shard: Shard) -> Shard:
    """The shard if it is (i, n) with 0 <= i < n; ValidationFailed (`shard: invalid`) otherwise."""
    index, count = shard
    if not (isinstance(index, int) and isinstance(count, int) and count >= 1 and 0 <= index < count):
        raise ValidationFailed(_("The shard is i/n with 0 <= i < n."), fields={"shard": "invalid"})
    return shard


def shard_parse(value: str) -> Shard:
    """`"i/n"` from a command line; ValueError with a readable message when it is not one."""
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError as error:
        raise ValueError(f"--shard is i/n, e.g. 0/2; got {value!r}") from error
    if not (count >= 1 and 0 <= index < count):
        raise ValueError(f"--shard is i/n with 0 <= i < n; got {value!r}")
    return index, count
