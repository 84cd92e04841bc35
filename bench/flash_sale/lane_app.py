"""The cheapest durable admission this machine can serve, as a ceiling for bench/flash_sale ("lane").

Bench-only. It measures the first half of "batched placement" (docs/benchmarks.md, "What would still
be needed"): a buyer's request is admitted or refused, and nothing else happens; a writer would turn
the admitted claims into orders later, at its own cost, which this does not pay. Everything is cut
to the bone, so whatever a real flash-sale lane would cost, it costs at least this much per order:

- a plain WSGI callable in front of the real application (no Django middleware, no django-ninja,
  no pydantic): `POST /bench/lane/claim` is handled here, everything else goes to Django;
- ONE SQL statement per request, on the worker thread's Django connection: it checks the bearer
  token (prefix and SHA-256, not revoked, active owner) and that the address is the buyer's, takes
  one unit from an allocation row with a conditional UPDATE, and inserts the claim (unique per
  buyer), with `synchronous_commit` off for this transaction only (a claim lost in a crash is lost
  together with its unit, which is why a real design could afford it);
- answers 202 (claimed), 409 (sold out or already claimed), 401 (bad token) or 422 (bad body).

Its tables exist only in the bench database (`lane_tables_create`, called by run.py's seed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from django.db import IntegrityError, connection

from grassroots.wsgi import application as django_application

PATH = "/bench/lane/claim"
ALLOCATION, CLAIM = "bench_lane_allocation", "bench_lane_claim"
SALE_ID = 1


@cache
def claim_sql() -> str:
    # Models are imported here: this module is imported before Django is set up (grassroots.wsgi does it).
    from grassroots.accounts.models import ApiToken, User
    from grassroots.orders.models import Address

    return f"""
    WITH settings AS (SELECT set_config('synchronous_commit', 'off', true) AS value),
    buyer AS (
        SELECT t.user_id FROM {ApiToken._meta.db_table} t
        JOIN {User._meta.db_table} u ON u.id = t.user_id AND u.is_active
        JOIN {Address._meta.db_table} a ON a.owner_id = t.user_id AND a.id = %(address)s
        WHERE t.prefix = %(prefix)s AND t.token_hash = %(hash)s AND t.revoked_at IS NULL
    ),
    taken AS (
        UPDATE {ALLOCATION} SET remaining = remaining - 1
        WHERE id = %(sale)s AND remaining >= 1 AND EXISTS (SELECT 1 FROM buyer)
        RETURNING id
    )
    INSERT INTO {CLAIM} (sale_id, buyer_id, address_id)
    SELECT taken.id, buyer.user_id, %(address)s FROM taken, buyer, settings
    RETURNING id
    """


StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def lane_tables_create() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {ALLOCATION} (id integer PRIMARY KEY, remaining integer NOT NULL)")
        cursor.execute(
            f"CREATE TABLE {CLAIM} (id bigserial PRIMARY KEY, sale_id integer NOT NULL, "
            "buyer_id bigint NOT NULL, address_id bigint NOT NULL, UNIQUE (sale_id, buyer_id))"
        )


def lane_reset(*, stock: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {CLAIM} RESTART IDENTITY")
        cursor.execute(f"DELETE FROM {ALLOCATION}")
        cursor.execute(f"INSERT INTO {ALLOCATION} (id, remaining) VALUES (%s, %s)", [SALE_ID, stock])
        cursor.execute(f"VACUUM ANALYZE {ALLOCATION}, {CLAIM}")


def lane_outcome() -> tuple[int, int]:
    """(units left in the allocation, claims)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT remaining FROM {ALLOCATION} WHERE id = %s", [SALE_ID])
        remaining = int(cursor.fetchone()[0])
        cursor.execute(f"SELECT count(*) FROM {CLAIM}")
        return remaining, int(cursor.fetchone()[0])


def _answer(start_response: StartResponse, status: str, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
        return django_application(environ, start_response)  # type: ignore[no-any-return]
    from grassroots.accounts.selectors import TOKEN_RE  # after Django is set up (a cached import)

    header = environ.get("HTTP_AUTHORIZATION", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    match = TOKEN_RE.fullmatch(token)
    if match is None:
        return _answer(start_response, "401 Unauthorized", {"code": "unauthenticated"})
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        address = json.loads(environ["wsgi.input"].read(min(length, 4096)))["address_id"]
        if not isinstance(address, int) or isinstance(address, bool) or address <= 0:
            raise ValueError(address)
    except (ValueError, KeyError, TypeError):
        return _answer(start_response, "422 Unprocessable Entity", {"code": "invalid"})
    token_hash = hashlib.sha256(token.encode()).hexdigest()  # as ApiToken.hash_plaintext
    params = {"address": address, "prefix": match[1], "hash": token_hash, "sale": SALE_ID}
    try:
        with connection.cursor() as cursor:
            cursor.execute(claim_sql(), params)
            row = cursor.fetchone()
    except IntegrityError:
        return _answer(start_response, "409 Conflict", {"code": "already_claimed"})
    if row is None:  # sold out, or the token or the address did not check out (a real lane would tell them apart)
        return _answer(start_response, "409 Conflict", {"code": "not_claimed"})
    return _answer(start_response, "202 Accepted", {"claim_id": row[0]})
