"""Reads over the ledger. Balances come from postings; the cache is checked against them."""

from __future__ import annotations

from django.db.models import Sum

from grassroots.ledger.models import JournalEntry, LedgerAccount, Posting


def account_balance(*, code: str, currency: str) -> int:
    """Replay of postings (debit positive). Liabilities and revenue therefore read negative."""
    total = Posting.objects.filter(account__code=code, account__currency=currency).aggregate(total=Sum("amount"))[
        "total"
    ]
    return int(total or 0)


def ledger_problems() -> list[str]:
    """Every entry sums to zero per currency, and every cached balance equals its replay."""
    problems: list[str] = []
    unbalanced = Posting.objects.values("entry_id", "account__currency").annotate(total=Sum("amount")).exclude(total=0)
    problems.extend(f"entry {row['entry_id']} sums to {row['total']} {row['account__currency']}" for row in unbalanced)
    replay = dict(Posting.objects.values("account_id").annotate(total=Sum("amount")).values_list("account_id", "total"))
    for account in LedgerAccount.objects.all():
        if account.cached_balance != int(replay.get(account.id) or 0):
            problems.append(f"account {account.code} cache {account.cached_balance} != replay {replay.get(account.id)}")
    empty = JournalEntry.objects.filter(postings__isnull=True)
    problems.extend(f"entry {entry.id} has no postings" for entry in empty)
    return problems
