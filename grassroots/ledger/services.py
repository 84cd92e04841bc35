"""The only way money moves: one balanced journal entry per movement, keyed for idempotency.

`journal_entry_post` writes one entry; `journal_entries_post_many` writes a batch in a few statements
with the same guarantees (batch jobs: settlement, the attribution backlog); `ledger_accounts_lock`
locks accounts for callers that read a balance before they post. See docs/adr/0009.

Account codes and the platform's flows are documented in `grassroots.ledger.codes`; the postings of
each flow are built by `grassroots.ledger.flows`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.core.errors import Conflict, ValidationFailed
from grassroots.core.money import CURRENCY_EXPONENT
from grassroots.ledger.codes import merchant_payable
from grassroots.ledger.flows import settlement_postings
from grassroots.ledger.models import JournalEntry, LedgerAccount, Posting
from grassroots.ledger.selectors import account_balance, accounts_with_replay
from grassroots.ledger.types import EntrySpec, PostingSpec

if TYPE_CHECKING:
    from grassroots.accounts.models import User

__all__ = [
    "EntrySpec",
    "PostingSpec",
    "journal_entries_post_many",
    "journal_entry_post",
    "journal_entry_reverse",
    "ledger_accounts_lock",
    "ledger_cache_rebuild",
    "merchant_settlement_post",
]

# Far above any real movement, far below BIGINT: cached balances can never overflow.
MAX_POSTING = 10**15
SETTLEMENT_KIND = "settlement"

# The kind of an account follows from the last segment of its code.
ACCOUNT_KINDS = {
    "clearing": LedgerAccount.Kind.LIABILITY,
    "payable": LedgerAccount.Kind.LIABILITY,
    "receivable": LedgerAccount.Kind.ASSET,
    "cash": LedgerAccount.Kind.ASSET,
    "revenue": LedgerAccount.Kind.REVENUE,
    "expense": LedgerAccount.Kind.EXPENSE,
    "pending": LedgerAccount.Kind.LIABILITY,
    "available": LedgerAccount.Kind.LIABILITY,
    "withdrawing": LedgerAccount.Kind.LIABILITY,
    "refunds": LedgerAccount.Kind.EXPENSE,
}


def _account_kind(code: str) -> str:
    return ACCOUNT_KINDS.get(code.rsplit(":", 1)[-1], LedgerAccount.Kind.LIABILITY)


def _invalid(message: str, field: str, code: str = "invalid_posting") -> ValidationFailed:
    return ValidationFailed(message, code=code, fields={field: "invalid"})


def _merged(postings: Sequence[PostingSpec]) -> dict[tuple[str, str], int]:
    """Validated postings summed per (account, currency), zero sums dropped."""
    merged: dict[tuple[str, str], int] = defaultdict(int)
    for posting in postings:
        if not isinstance(posting, PostingSpec):
            raise _invalid(_("Postings must be PostingSpec values."), "postings")
        amount = posting.amount
        if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0 or abs(amount) > MAX_POSTING:
            raise _invalid(_("Posting amounts are non-zero whole minor units."), "amount")
        if posting.currency not in CURRENCY_EXPONENT:
            raise _invalid(_("Unsupported currency."), "currency")
        if (
            not isinstance(posting.account, str)
            or not 0 < len(posting.account) <= 80
            or posting.account.strip() != posting.account
        ):
            raise _invalid(_("Account codes are 1 to 80 characters."), "account")
        merged[(posting.account, posting.currency)] += amount
    return {key: amount for key, amount in merged.items() if amount}


def _validated(*, idempotency_key: str, kind: str, postings: Sequence[PostingSpec]) -> dict[tuple[str, str], int]:
    """The entry's postings merged per (account, currency), or ValidationFailed: a key and kind of the
    right length, valid postings, balanced per currency, moving something."""
    if not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= 200:
        raise _invalid(_("The idempotency key is 1 to 200 characters."), "idempotency_key", "invalid_entry")
    if not isinstance(kind, str) or not 0 < len(kind) <= 40:
        raise _invalid(_("The entry kind is 1 to 40 characters."), "kind", "invalid_entry")
    if not postings:
        raise ValidationFailed(_("An entry needs postings."), code="empty_entry")
    merged = _merged(postings)
    totals: dict[str, int] = defaultdict(int)
    for (_code, currency), amount in merged.items():
        totals[currency] += amount
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced:
        raise ValidationFailed(_("The entry does not balance."), code="unbalanced_entry", fields=unbalanced)
    if not merged:
        raise ValidationFailed(_("The postings cancel out: the entry would move nothing."), code="empty_entry")
    return merged


def journal_entry_post(
    *,
    idempotency_key: str,
    kind: str,
    postings: Sequence[PostingSpec],
    memo: str = "",
    reference: str = "",
    reverses: JournalEntry | None = None,
    actor_id: int | None = None,
) -> JournalEntry:
    """Write one balanced entry. The same key with the same postings returns the first entry;
    with different postings it is a Conflict (`idempotency_conflict`) and nothing is written.

    Postings to the same account are merged. Runs in the caller's transaction when there is one, so
    callers that change other rows in step with the entry wrap both in `transaction.atomic()`.
    """
    merged = _validated(idempotency_key=idempotency_key, kind=kind, postings=postings)
    existing = _existing(idempotency_key, merged)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            entry = JournalEntry.objects.create(
                idempotency_key=idempotency_key,
                kind=kind,
                memo=memo[:255],
                reference=reference[:80],
                reverses=reverses,
                created_by_id=actor_id,
            )
            # Accounts are touched in (code, currency) order, so two entries on the same accounts
            # take their row locks in the same order and cannot deadlock.
            rows = []
            for (code, currency), amount in sorted(merged.items()):
                account, _created = LedgerAccount.objects.get_or_create(
                    code=code, currency=currency, defaults={"kind": _account_kind(code)}
                )
                # F() makes the increment atomic in the database: concurrent posts never lose one.
                LedgerAccount.objects.filter(pk=account.pk).update(cached_balance=F("cached_balance") + amount)
                rows.append(Posting(entry=entry, account=account, amount=amount))
            Posting.objects.bulk_create(rows)
            return entry
    except IntegrityError:
        # Lost a race for the same key: the winner's entry is ours if the postings agree.
        existing = _existing(idempotency_key, merged)
        if existing is not None:
            return existing
        if reverses is not None and JournalEntry.objects.filter(reverses=reverses).exists():
            raise Conflict(_("This entry was already reversed."), code="already_reversed") from None
        raise


def _existing(idempotency_key: str, merged: dict[tuple[str, str], int]) -> JournalEntry | None:
    entry = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
    if entry is None:
        return None
    wanted = sorted((code, currency, amount) for (code, currency), amount in merged.items())
    stored = sorted(entry.postings.values_list("account__code", "account__currency", "amount"))
    if wanted != [tuple(row) for row in stored]:
        raise Conflict(
            _("This idempotency key was used for a different entry."),
            code="idempotency_conflict",
            fields={"idempotency_key": "conflict"},
        )
    return entry


# --- many entries at once -------------------------------------------------------------------------

# Rows per statement on PostgreSQL; on SQLite the backend's parameter limit decides.
BULK_ROWS = 5_000


@dataclass(frozen=True, slots=True)
class LockedAccount:
    id: int
    balance: int  # the cached balance, read under the lock


def _rows_per_statement(columns: int) -> int:
    limit = connection.features.max_query_params
    return max(1, min(BULK_ROWS, limit // columns)) if limit else BULK_ROWS


def _upsert_accounts(deltas: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], LockedAccount]:
    """Create the missing accounts, lock every account and add its delta to the cached balance, in
    (code, currency) order, one row at a time within each statement (INSERT ... ON CONFLICT DO
    UPDATE): the same order and the same per-row create-or-lock-and-increment as journal_entry_post,
    so concurrent writers of either kind take account locks in one global order and cannot
    deadlock. The increment is done by the database (`cached_balance + delta`), never read and
    written back. On SQLite writers are serialised by the database lock."""
    table = connection.ops.quote_name(LedgerAccount._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    keys = sorted(deltas)
    size = _rows_per_statement(5)
    locked: dict[tuple[str, str], LockedAccount] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(keys), size):
            chunk = keys[start : start + size]
            params: list[Any] = []
            for code, currency in chunk:
                params += [code, currency, _account_kind(code), deltas[(code, currency)], now]
            # Only the table name and placeholders are formatted in; every value is a parameter.
            sql = (
                f"INSERT INTO {table} (code, currency, kind, cached_balance, created_at) VALUES "  # noqa: S608
                + ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
                + f" ON CONFLICT (code, currency) DO UPDATE SET cached_balance = {table}.cached_balance"
                " + excluded.cached_balance RETURNING id, code, currency, cached_balance"
            )
            cursor.execute(sql, params)
            for pk, code, currency, balance in cursor.fetchall():
                locked[(code, currency)] = LockedAccount(int(pk), int(balance))
    return locked


def ledger_accounts_lock(*, accounts: Iterable[tuple[str, str]]) -> dict[tuple[str, str], LockedAccount]:
    """Lock these (code, currency) accounts for the caller's transaction, creating the missing ones,
    in the order journal_entry_post and journal_entries_post_many touch them, and return their ids
    and cached balances as of the lock. For callers that read balances before they post (netting,
    "never more than the balance"): lock everything the transaction will post to in this one call,
    before any other account is touched, and the posts that follow wait for nobody."""
    if not connection.in_atomic_block:
        raise RuntimeError("ledger_accounts_lock needs the caller's transaction.atomic()")
    wanted = sorted(set(accounts))
    for code, currency in wanted:
        _merged([PostingSpec(account=code, amount=1, currency=currency)])  # the same checks as a posting
    return _upsert_accounts(dict.fromkeys(wanted, 0))


def journal_entries_post_many(*, entries: Sequence[EntrySpec]) -> list[JournalEntry]:
    """Write many balanced entries in a few statements, with journal_entry_post's guarantees:

    - every entry is validated first (key, kind, postings, balanced per currency): one bad entry is a
      ValidationFailed and nothing is written;
    - idempotent: an entry whose key is already posted with the same postings is not written again,
      its first entry is returned; with different postings it is a Conflict (`idempotency_conflict`)
      and nothing is written. The same key twice in `entries` is one entry (or that Conflict);
    - new keys are inserted in key order, then accounts are created when missing and locked in
      (code, currency) order, the cached balances raised by the database in the same statement
      (`_upsert_accounts`): the order journal_entry_post takes them in, so single and bulk writers
      never deadlock each other, and the cache keeps equal to the replay (ledger_verify).

    Returns one entry per spec, in order. Runs inside the caller's transaction when there is one,
    as a savepoint: a failed batch leaves nothing behind. Reversals are posted one at a time with
    journal_entry_reverse.
    """
    merged_by_key: dict[str, dict[tuple[str, str], int]] = {}
    spec_by_key: dict[str, EntrySpec] = {}
    for spec in entries:
        if not isinstance(spec, EntrySpec):
            raise _invalid(_("Entries must be EntrySpec values."), "entries", "invalid_entry")
        merged = _validated(idempotency_key=spec.idempotency_key, kind=spec.kind, postings=spec.postings)
        first = merged_by_key.get(spec.idempotency_key)
        if first is None:
            merged_by_key[spec.idempotency_key] = merged
            spec_by_key[spec.idempotency_key] = spec
        elif first != merged:
            raise _key_conflict()
    if not merged_by_key:
        return []
    with transaction.atomic():
        posted = _existing_many(merged_by_key)
        new = [spec_by_key[key] for key in sorted(merged_by_key) if key not in posted]
        if new:
            posted.update(_write_many(new, merged_by_key))
        return [posted[spec.idempotency_key] for spec in entries]


def _key_conflict() -> Conflict:
    return Conflict(
        _("This idempotency key was used for a different entry."),
        code="idempotency_conflict",
        fields={"idempotency_key": "conflict"},
    )


def _existing_many(merged_by_key: Mapping[str, dict[tuple[str, str], int]]) -> dict[str, JournalEntry]:
    """The already posted entries among these keys; Conflict if one has other postings."""
    found: dict[str, JournalEntry] = {}
    keys = list(merged_by_key)
    size = _rows_per_statement(1)
    for start in range(0, len(keys), size):
        for entry in JournalEntry.objects.filter(idempotency_key__in=keys[start : start + size]):
            found[entry.idempotency_key] = entry
    if not found:
        return found
    stored: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
    ids = sorted(entry.pk for entry in found.values())
    for start in range(0, len(ids), size):
        for entry_id, code, currency, amount in Posting.objects.filter(
            entry_id__in=ids[start : start + size]
        ).values_list("entry_id", "account__code", "account__currency", "amount"):
            stored[entry_id][(code, currency)] = amount
    for key, entry in found.items():
        if stored[entry.pk] != merged_by_key[key]:
            raise _key_conflict()
    return found


def _write_many(
    specs: list[EntrySpec], merged_by_key: Mapping[str, dict[tuple[str, str], int]]
) -> dict[str, JournalEntry]:
    """Insert the entries (in key order, skipping keys a concurrent writer has just posted), then their
    accounts' balances (`_upsert_accounts`) and postings. Keys first, then accounts, each in order:
    the order in which journal_entry_post takes them."""
    table = connection.ops.quote_name(JournalEntry._meta.db_table)
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    size = _rows_per_statement(7)
    rows: dict[str, JournalEntry] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(specs), size):
            chunk = specs[start : start + size]
            params: list[Any] = []
            for spec in chunk:
                params += [
                    spec.idempotency_key,
                    spec.kind,
                    spec.memo[:255],
                    spec.reference[:80],
                    None,
                    spec.actor_id,
                    at,
                ]
            # Only the table name and placeholders are formatted in; every value is a parameter.
            sql = (
                f"INSERT INTO {table} (idempotency_key, kind, memo, reference, reverses_id, created_by_id,"  # noqa: S608
                " created_at) VALUES "
                + ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
                + " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key"
            )
            cursor.execute(sql, params)
            ids = {key: pk for pk, key in cursor.fetchall()}
            for spec in chunk:
                if spec.idempotency_key in ids:
                    rows[spec.idempotency_key] = JournalEntry(
                        pk=int(ids[spec.idempotency_key]),
                        idempotency_key=spec.idempotency_key,
                        kind=spec.kind,
                        memo=spec.memo[:255],
                        reference=spec.reference[:80],
                        created_by_id=spec.actor_id,
                        created_at=now,
                    )
    # A concurrent writer posted these keys after our first look: replays like any other.
    raced = {
        spec.idempotency_key: merged_by_key[spec.idempotency_key] for spec in specs if spec.idempotency_key not in rows
    }
    found = _existing_many(raced) if raced else {}
    deltas: dict[tuple[str, str], int] = defaultdict(int)
    for key in rows:
        for account, amount in merged_by_key[key].items():
            deltas[account] += amount
    accounts = _upsert_accounts(deltas)
    _insert_postings(
        [
            (row.pk, accounts[account].id, amount)
            for key, row in rows.items()
            for account, amount in sorted(merged_by_key[key].items())
        ]
    )
    return {**found, **rows}


def _insert_postings(rows: list[tuple[int, int, int]]) -> None:
    """(entry id, account id, amount) rows, without building a model instance per row: COPY on
    PostgreSQL (constraints and foreign keys are checked as for INSERT), multi-row INSERTs elsewhere."""
    table = connection.ops.quote_name(Posting._meta.db_table)
    columns = "(entry_id, account_id, amount)"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} {columns} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        size = _rows_per_statement(3)
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            # Only the table name and placeholders are formatted in; every value is a parameter.
            sql = f"INSERT INTO {table} {columns} VALUES " + ", ".join(["(%s, %s, %s)"] * len(chunk))  # noqa: S608
            cursor.execute(sql, [value for row in chunk for value in row])


def journal_entry_reverse(*, entry: JournalEntry, idempotency_key: str, memo: str = "") -> JournalEntry:
    """A correction: the same postings with the signs flipped, linked to the original. An entry is
    reversed at most once (`already_reversed`); replaying the reversal's key returns it."""
    postings = [
        PostingSpec(account=p.account.code, amount=-p.amount, currency=p.account.currency)
        for p in entry.postings.select_related("account")
    ]
    previous = JournalEntry.objects.filter(reverses=entry).first()
    if previous is not None and previous.idempotency_key != idempotency_key:
        raise Conflict(_("This entry was already reversed."), code="already_reversed")
    return journal_entry_post(
        idempotency_key=idempotency_key,
        kind=f"reversal:{entry.kind}"[:40],
        postings=postings,
        memo=memo or f"Reverses {entry.idempotency_key}"[:255],
        reference=entry.reference,
        reverses=entry,
    )


def merchant_settlement_post(
    *, merchant_id: int, amount: int, currency: str, idempotency_key: str, actor: User | None
) -> JournalEntry:
    """Pay a merchant out of what the platform owes it: Dr merchant:<id>:payable / Cr gateway:cash.

    Never more than the payable balance (`insufficient_balance`), also under concurrency: on
    PostgreSQL the two accounts are locked and the balance re-read inside the transaction; SQLite
    runs IMMEDIATE transactions, which serialise writers. A last conditional check on the cached
    balance holds on any database.
    """
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_POSTING:
        raise ValidationFailed(
            _("The amount must be a positive whole number of minor units."), fields={"amount": "invalid"}
        )
    if currency not in CURRENCY_EXPONENT:
        raise ValidationFailed(_("Unsupported currency."), fields={"currency": "invalid"})
    payable = merchant_payable(merchant_id)
    postings = settlement_postings(merchant_id=merchant_id, amount=amount, currency=currency)
    with transaction.atomic():
        # The same (code, currency) order as journal_entry_post, so this cannot deadlock with it.
        codes = sorted(p.account for p in postings)
        list(LedgerAccount.objects.select_for_update().filter(code__in=codes, currency=currency).order_by("code"))
        if JournalEntry.objects.filter(idempotency_key=idempotency_key).exists():
            # A replay: the first entry, or a Conflict if the key was used for something else.
            return _post_settlement(idempotency_key, merchant_id, postings, actor)
        owed = -account_balance(code=payable, currency=currency)
        if amount > owed:
            raise ValidationFailed(
                _("The merchant is owed less than this amount."),
                code="insufficient_balance",
                fields={"amount": "exceeds_balance", "available": max(owed, 0)},
            )
        entry = _post_settlement(idempotency_key, merchant_id, postings, actor)
        if LedgerAccount.objects.filter(code=payable, currency=currency, cached_balance__gt=0).exists():
            raise ValidationFailed(
                _("The merchant is owed less than this amount."),
                code="insufficient_balance",
                fields={"amount": "exceeds_balance"},
            )
        return entry


def _post_settlement(
    idempotency_key: str, merchant_id: int, postings: list[PostingSpec], actor: User | None
) -> JournalEntry:
    return journal_entry_post(
        idempotency_key=idempotency_key,
        kind=SETTLEMENT_KIND,
        postings=postings,
        memo=f"Settlement to merchant {merchant_id}",
        reference=f"merchant:{merchant_id}",
        actor_id=actor.pk if actor is not None else None,
    )


@dataclass(frozen=True, slots=True)
class CacheFix:
    code: str
    currency: str
    was: int
    now: int


def ledger_cache_rebuild() -> list[CacheFix]:
    """For operators: set every cached balance that drifted from its replay back to the replay.

    Each account is fixed in its own short transaction with its row locked (PostgreSQL) or the
    write lock held (SQLite), so posting carries on and no concurrent increment is lost.
    """
    fixes: list[CacheFix] = []
    for account_id in _drifted_account_ids():
        with transaction.atomic():
            account = LedgerAccount.objects.select_for_update().get(pk=account_id)
            replay = int(Posting.objects.filter(account_id=account_id).aggregate(total=Sum("amount"))["total"] or 0)
            if account.cached_balance != replay:
                LedgerAccount.objects.filter(pk=account_id).update(cached_balance=replay)
                fixes.append(CacheFix(account.code, account.currency, account.cached_balance, replay))
    return fixes


def _drifted_account_ids() -> list[int]:
    return list(accounts_with_replay().exclude(cached_balance=F("replay")).values_list("pk", flat=True))
