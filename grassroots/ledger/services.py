"""The only way money moves: one balanced journal entry per movement, keyed for idempotency."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F

from grassroots.core.errors import Conflict, ValidationFailed
from grassroots.ledger.models import JournalEntry, LedgerAccount, Posting


@dataclass(frozen=True, slots=True)
class PostingSpec:
    account: str  # account code
    amount: int  # debit > 0, credit < 0
    currency: str


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


def _fingerprint(postings: Sequence[PostingSpec]) -> list[tuple[str, str, int]]:
    return sorted((p.account, p.currency, p.amount) for p in postings)


def journal_entry_post(
    *,
    idempotency_key: str,
    kind: str,
    postings: Sequence[PostingSpec],
    memo: str = "",
    reference: str = "",
    reverses: JournalEntry | None = None,
) -> JournalEntry:
    """Write one balanced entry. The same key with the same postings returns the first entry;
    with different postings it is a Conflict. Must run inside the caller's transaction when the
    caller changes other rows in step with it."""
    if not postings:
        raise ValidationFailed("An entry needs postings.", code="empty_entry")
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        if not isinstance(posting.amount, int) or posting.amount == 0:
            raise ValidationFailed("Posting amounts are non-zero integers.", code="invalid_posting")
        totals[posting.currency] += posting.amount
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced:
        raise ValidationFailed("The entry does not balance.", code="unbalanced_entry", fields=unbalanced)

    existing = _existing(idempotency_key, postings)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            entry = JournalEntry.objects.create(
                idempotency_key=idempotency_key, kind=kind, memo=memo[:255], reference=reference[:80], reverses=reverses
            )
            # Lock order: accounts in code order, so two entries touching the same accounts cannot deadlock.
            merged: dict[tuple[str, str], int] = defaultdict(int)
            for posting in postings:
                merged[(posting.account, posting.currency)] += posting.amount
            rows = []
            for (code, currency), amount in sorted(merged.items()):
                if amount == 0:
                    continue
                account, _ = LedgerAccount.objects.get_or_create(
                    code=code, currency=currency, defaults={"kind": _account_kind(code)}
                )
                LedgerAccount.objects.filter(pk=account.pk).update(cached_balance=F("cached_balance") + amount)
                rows.append(Posting(entry=entry, account=account, amount=amount))
            Posting.objects.bulk_create(rows)
            return entry
    except IntegrityError:
        existing = _existing(idempotency_key, postings)
        if existing is None:
            raise
        return existing


def _existing(idempotency_key: str, postings: Sequence[PostingSpec]) -> JournalEntry | None:
    entry = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
    if entry is None:
        return None
    merged: dict[tuple[str, str], int] = defaultdict(int)
    for posting in postings:
        merged[(posting.account, posting.currency)] += posting.amount
    wanted = sorted((code, currency, amount) for (code, currency), amount in merged.items() if amount)
    stored = sorted(entry.postings.values_list("account__code", "account__currency", "amount"))
    if wanted != [tuple(row) for row in stored]:
        raise Conflict("This idempotency key was used for a different entry.", code="idempotency_conflict")
    return entry


def journal_entry_reverse(*, entry: JournalEntry, idempotency_key: str, memo: str = "") -> JournalEntry:
    """A correction: the same postings with the signs flipped, linked to the original."""
    postings = [
        PostingSpec(account=p.account.code, amount=-p.amount, currency=p.account.currency)
        for p in entry.postings.select_related("account")
    ]
    return journal_entry_post(
        idempotency_key=idempotency_key,
        kind=f"reversal:{entry.kind}"[:40],
        postings=postings,
        memo=memo or f"Reverses {entry.idempotency_key}",
        reference=entry.reference,
        reverses=entry,
    )
