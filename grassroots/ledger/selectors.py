"""Reads over the ledger. Balances come from postings; the cache is checked against them.

`account_balance` is debit positive, as postings are. Statements and merchant balances also give
the balance on the account's normal side (`normal_balance`): for liabilities and revenue a credit
counts positive, so a merchant's payable reads as what the platform owes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from grassroots.core.pagination import paginate
from grassroots.ledger.codes import merchant_prefix
from grassroots.ledger.models import JournalEntry, LedgerAccount, Posting
from grassroots.merchants.models import Merchant
from grassroots.merchants.selectors import merchant_for_member, merchant_get, user_is_curator

CREDIT_NORMAL = {LedgerAccount.Kind.LIABILITY, LedgerAccount.Kind.REVENUE, LedgerAccount.Kind.EQUITY}


def normal_sign(kind: str) -> int:
    """+1 for debit-normal accounts (assets, expenses), -1 for credit-normal ones."""
    return -1 if kind in CREDIT_NORMAL else 1


def account_balance(*, code: str, currency: str) -> int:
    """Replay of postings (debit positive). Liabilities and revenue therefore read negative."""
    total = Posting.objects.filter(account__code=code, account__currency=currency).aggregate(total=Sum("amount"))[
        "total"
    ]
    return int(total or 0)


def accounts_with_replay() -> QuerySet[LedgerAccount]:
    """Accounts annotated with `replay`, the sum of their postings, in one query."""
    return LedgerAccount.objects.annotate(replay=Coalesce(Sum("postings__amount"), 0))


@dataclass(frozen=True, slots=True)
class AccountBalance:
    code: str
    currency: str
    kind: str
    balance: int  # debit positive, as posted

    @property
    def normal_balance(self) -> int:
        return normal_sign(self.kind) * self.balance


def merchant_balances(*, merchant_id: int) -> list[AccountBalance]:
    """Every ledger account of one merchant (today its payable, per currency), from postings."""
    accounts = accounts_with_replay().filter(code__startswith=merchant_prefix(merchant_id)).order_by("code", "currency")
    return [
        AccountBalance(code=a.code, currency=a.currency, kind=a.kind, balance=int(a.replay))  # type: ignore[attr-defined]
        for a in accounts
    ]


@dataclass(frozen=True, slots=True)
class StatementLine:
    posting_id: int
    entry_id: int
    posted_at: datetime
    kind: str
    memo: str
    reference: str
    amount: int  # on the account's normal side: positive grows the balance
    balance: int  # running balance after this line, same side


@dataclass(frozen=True, slots=True)
class Statement:
    code: str
    currency: str
    kind: str
    balance: int  # current balance, normal side
    lines: list[StatementLine]
    next_cursor: str | None


def account_statement(*, code: str, currency: str, cursor: str | None, limit: int) -> Statement:
    """Postings of one account, newest first, each with the running balance after it.

    Three queries whatever the page or the account's size: the account, the page (with its
    entries), and one aggregate for the current balance and the balance at the top of the page.
    """
    account = LedgerAccount.objects.filter(code=code, currency=currency).first()
    kind = account.kind if account is not None else LedgerAccount.Kind.LIABILITY
    sign = normal_sign(kind)
    if account is None:
        # Validate the cursor and limit the same way as for a real account.
        paginate(Posting.objects.none(), cursor=cursor, limit=limit, order=("-id",))
        return Statement(code=code, currency=currency, kind=kind, balance=0, lines=[], next_cursor=None)

    postings, next_cursor = paginate(
        Posting.objects.filter(account=account).select_related("entry"), cursor=cursor, limit=limit, order=("-id",)
    )
    top_id = postings[0].pk if postings else 0
    sums = Posting.objects.filter(account=account).aggregate(
        total=Coalesce(Sum("amount"), 0), upto=Coalesce(Sum("amount", filter=Q(id__lte=top_id)), 0)
    )
    running = int(sums["upto"])
    lines: list[StatementLine] = []
    for posting in postings:
        entry: JournalEntry = posting.entry
        lines.append(
            StatementLine(
                posting_id=posting.pk,
                entry_id=entry.pk,
                posted_at=entry.created_at,
                kind=entry.kind,
                memo=entry.memo,
                reference=entry.reference,
                amount=sign * posting.amount,
                balance=sign * running,
            )
        )
        running -= posting.amount
    return Statement(
        code=code,
        currency=currency,
        kind=kind,
        balance=sign * int(sums["total"]),
        lines=lines,
        next_cursor=next_cursor,
    )


def merchant_for_ledger_viewer(*, user: Any, merchant_id: int) -> Merchant:
    """The merchant whose books `user` may read: its members and curators. NotFound otherwise, so a
    stranger cannot tell whether the merchant exists."""
    if user_is_curator(user=user):
        return merchant_get(merchant_id=merchant_id)
    return merchant_for_member(user=user, merchant_id=merchant_id)


def ledger_problems() -> list[str]:
    """Every entry has postings that sum to zero per currency, and every cached balance equals its
    replay. Empty means the books add up."""
    problems: list[str] = []
    unbalanced = (
        Posting.objects.values("entry_id", "account__currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("entry_id", "account__currency")
    )
    problems.extend(f"entry {row['entry_id']} sums to {row['total']} {row['account__currency']}" for row in unbalanced)
    drifted = accounts_with_replay().exclude(cached_balance=F("replay")).order_by("code", "currency")
    problems.extend(
        f"account {a.code} [{a.currency}] cache {a.cached_balance} != replay {a.replay}"  # type: ignore[attr-defined]
        for a in drifted
    )
    empty = JournalEntry.objects.filter(postings__isnull=True).order_by("id").values_list("id", flat=True)
    problems.extend(f"entry {entry_id} has no postings" for entry_id in empty)
    return problems
