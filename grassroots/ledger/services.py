"""The only way money moves: one balanced journal entry per movement, keyed for idempotency.

Account codes and the platform's flows are documented in `grassroots.ledger.codes`; the postings of
each flow are built by `grassroots.ledger.flows`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils.translation import gettext as _

from grassroots.core.errors import Conflict, ValidationFailed
from grassroots.core.money import CURRENCY_EXPONENT
from grassroots.ledger.codes import merchant_payable
from grassroots.ledger.flows import settlement_postings
from grassroots.ledger.models import JournalEntry, LedgerAccount, Posting
from grassroots.ledger.selectors import account_balance, accounts_with_replay
from grassroots.ledger.types import PostingSpec

if TYPE_CHECKING:
    from grassroots.accounts.models import User

__all__ = [
    "PostingSpec",
    "journal_entry_post",
    "journal_entry_reverse",
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
