"""Ledger API: merchant statements and balances for members and curators, settlements and the
books check for curators."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import datetime

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from grassroots.core.conf import gr_setting
from grassroots.core.errors import PermissionDenied, ValidationFailed
from grassroots.core.idempotency import request_idempotency_key
from grassroots.core.money import CURRENCY_EXPONENT
from grassroots.ledger import selectors, services
from grassroots.ledger.codes import merchant_payable
from grassroots.merchants.selectors import user_is_curator

router = Router(tags=["ledger"])


class StatementLineOut(Schema):
    posting_id: int
    entry_id: int
    posted_at: datetime
    kind: str
    memo: str
    reference: str
    amount: int = Field(description="Minor units; positive means the platform owes the merchant more.")
    balance: int = Field(description="What the platform owes the merchant after this line, in minor units.")


class StatementOut(Schema):
    account: str
    currency: str
    balance: int = Field(description="What the platform owes the merchant now, in minor units.")
    lines: list[StatementLineOut]
    next_cursor: str | None


class BalanceOut(Schema):
    account: str
    currency: str
    kind: str
    balance: int = Field(description="Debit positive, as posted (a payable reads negative).")
    normal_balance: int = Field(description="On the account's normal side: for a payable, what is owed.")


class MerchantBalancesOut(Schema):
    merchant_id: int
    balances: list[BalanceOut]


class SettlementIn(Schema):
    amount: int = Field(gt=0, le=services.MAX_POSTING, description="Minor units.")
    currency: str = Field(min_length=3, max_length=3)


class SettlementOut(Schema):
    entry_id: int
    idempotency_key: str
    merchant_id: int
    amount: int
    currency: str
    created_at: datetime


class VerifyOut(Schema):
    ok: bool
    problems: list[str]


def _currency(value: str | None) -> str:
    currency = (value or gr_setting("CURRENCY")).upper()
    if currency not in CURRENCY_EXPONENT:
        raise ValidationFailed(_("Unsupported currency."), fields={"currency": "invalid"})
    return currency


def _settlement_key(merchant_id: int, key: str) -> str:
    """Namespaced, so a client's key can never collide with the platform's own entry keys; hashed
    when that would not fit the entry's key column."""
    entry_key = f"settlement:{merchant_id}:{key}"
    if len(entry_key) > 200:
        entry_key = f"settlement:{merchant_id}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return entry_key


@router.get("/merchants/{merchant_id}/statement", response=StatementOut)
def merchant_statement(
    request: HttpRequest,
    merchant_id: int,
    currency: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> StatementOut:
    """The merchant's payable account, newest first, with a running balance. Members and curators."""
    merchant = selectors.merchant_for_ledger_viewer(user=request.user, merchant_id=merchant_id)
    statement = selectors.account_statement(
        code=merchant_payable(merchant.pk),
        currency=_currency(currency),
        cursor=cursor,
        limit=gr_setting("API_PAGE_SIZE") if limit is None else limit,
    )
    return StatementOut(
        account=statement.code,
        currency=statement.currency,
        balance=statement.balance,
        lines=[StatementLineOut(**asdict(line)) for line in statement.lines],
        next_cursor=statement.next_cursor,
    )


@router.get("/merchants/{merchant_id}/balance", response=MerchantBalancesOut)
def merchant_balance(request: HttpRequest, merchant_id: int) -> MerchantBalancesOut:
    """Every ledger account of the merchant, per currency. Members and curators."""
    merchant = selectors.merchant_for_ledger_viewer(user=request.user, merchant_id=merchant_id)
    balances = selectors.merchant_balances(merchant_id=merchant.pk)
    return MerchantBalancesOut(
        merchant_id=merchant.pk,
        balances=[
            BalanceOut(
                account=b.code, currency=b.currency, kind=b.kind, balance=b.balance, normal_balance=b.normal_balance
            )
            for b in balances
        ],
    )


@router.post("/merchants/{merchant_id}/settlements", response={201: SettlementOut})
def merchant_settlement(request: HttpRequest, merchant_id: int, payload: SettlementIn) -> tuple[int, SettlementOut]:
    """Pay the merchant out of what it is owed. Curators only; the `Idempotency-Key` header is
    required and names the journal entry, so a retry returns the first settlement."""
    merchant = selectors.merchant_for_ledger_viewer(user=request.user, merchant_id=merchant_id)
    if not user_is_curator(user=request.user):
        raise PermissionDenied(_("Only curators settle merchant balances."))
    key = request_idempotency_key(request)
    entry = services.merchant_settlement_post(
        merchant_id=merchant.pk,
        amount=payload.amount,
        currency=_currency(payload.currency),
        idempotency_key=_settlement_key(merchant.pk, key),
        actor=request.user,  # type: ignore[arg-type]
    )
    return 201, SettlementOut(
        entry_id=entry.pk,
        idempotency_key=key,
        merchant_id=merchant.pk,
        amount=payload.amount,
        currency=_currency(payload.currency),
        created_at=entry.created_at,
    )


@router.get("/verify", response=VerifyOut)
def verify(request: HttpRequest) -> VerifyOut:
    """Every entry balances and every cached balance equals its replay. Curators only."""
    if not user_is_curator(user=request.user):
        raise PermissionDenied(_("Only curators check the books."))
    problems = selectors.ledger_problems()
    return VerifyOut(ok=not problems, problems=problems)
