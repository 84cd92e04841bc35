"""Shopkeeper withdrawals: request, curator approval, payout through a provider, or rejection.

    requested -approve-> approved -pay-> paid
                                  -fail-> failed   (the provider declined: the money comes back)
    requested -reject-> rejected                   (the money comes back)

Every move is a conditional UPDATE on the current status plus a WithdrawalStatusChange row, in the
same transaction as its journal entry:

- request:  Dr shopkeeper:<id>:available   / Cr shopkeeper:<id>:withdrawing  `withdrawal-request:<wid>`
- paid:     Dr shopkeeper:<id>:withdrawing / Cr gateway:cash                 `withdrawal-paid:<wid>`
- failed:   Dr shopkeeper:<id>:withdrawing / Cr shopkeeper:<id>:available    `withdrawal-failed:<wid>`
- rejected: Dr shopkeeper:<id>:withdrawing / Cr shopkeeper:<id>:available    `withdrawal-rejected:<wid>`

A request can never overdraw: the insert of the row is guarded by the `one_withdrawal_in_flight`
partial unique index, so concurrent requests of one shopkeeper queue on it (PostgreSQL) or on the
write lock (SQLite runs IMMEDIATE transactions); the balance is re-read after the insert, inside
the transaction, and the cached balance is checked once more after posting.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.commissions.models import Withdrawal, WithdrawalStatusChange
from grassroots.commissions.payouts import PayoutProvider, PayoutResult, PayoutUnavailable, payout_provider
from grassroots.commissions.selectors import shopkeeper_account
from grassroots.core.conf import gr_setting
from grassroots.core.errors import Conflict, NotFound, PermissionDenied, ServiceError, ValidationFailed
from grassroots.core.money import CURRENCY_EXPONENT, format_minor
from grassroots.core.state_machine import build_machine
from grassroots.core.text import clean_plain_text
from grassroots.ledger.codes import GATEWAY_CASH
from grassroots.ledger.models import LedgerAccount, Posting
from grassroots.ledger.services import MAX_POSTING, PostingSpec, journal_entry_post

S = Withdrawal.Status

# Plain strings: enum members hash by name, and statuses read from the database are plain str.
WITHDRAWAL_MACHINE = build_machine(
    "withdrawal",
    initial="requested",
    edges=[
        ("requested", "approve", "approved"),
        ("requested", "reject", "rejected"),
        ("approved", "pay", "paid"),
        ("approved", "fail", "failed"),
    ],
    terminal=["paid", "failed", "rejected"],
)
IN_FLIGHT = (S.REQUESTED, S.APPROVED)

KIND_REQUEST = "withdrawal_request"
KIND_PAID = "withdrawal_paid"
KIND_FAILED = "withdrawal_failed"
KIND_REJECTED = "withdrawal_rejected"

REASON_MAX_LENGTH = 200
KEY_MAX_LENGTH = 200


def _currency() -> str:
    return str(gr_setting("CURRENCY"))


def _minimum() -> int:
    return int(gr_setting("WITHDRAWAL_MINIMUM"))


def _signed_in(user: Any) -> None:
    if user is None or not getattr(user, "is_authenticated", False):
        raise PermissionDenied(_("Sign in first."), code="unauthenticated")


def _require_curator(actor: Any) -> None:
    _signed_in(actor)
    if not getattr(actor, "is_curator", False):
        raise PermissionDenied(_("Only curators decide on withdrawals."))


# --- reads ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WithdrawalBalance:
    """What a shopkeeper may withdraw now, in minor units (all on their normal side)."""

    currency: str
    available: int  # shopkeeper:<id>:available, what the platform owes them
    receivable: int  # shopkeeper:<id>:receivable, what they owe back after refunds
    withdrawing: int  # requested or approved, not paid out yet
    minimum: int

    @property
    def withdrawable(self) -> int:
        return max(self.available - max(self.receivable, 0), 0)

    @property
    def can_withdraw(self) -> bool:
        return self.withdrawable >= self.minimum


def _balances(user_id: int, currency: str) -> dict[str, int]:
    """Debit-positive replay of the shopkeeper's available, receivable and withdrawing accounts."""
    codes = {part: shopkeeper_account(user_id, part) for part in ("available", "receivable", "withdrawing")}
    sums = Posting.objects.filter(account__code__in=codes.values(), account__currency=currency).aggregate(
        **{part: Coalesce(Sum("amount", filter=Q(account__code=code)), 0) for part, code in codes.items()}
    )
    return {part: int(value) for part, value in sums.items()}


def withdrawal_balance(*, user: Any) -> WithdrawalBalance:
    """One query."""
    currency = _currency()
    if not getattr(user, "is_authenticated", False):
        return WithdrawalBalance(currency=currency, available=0, receivable=0, withdrawing=0, minimum=_minimum())
    sums = _balances(user.pk, currency)
    return WithdrawalBalance(
        currency=currency,
        available=-sums["available"],
        receivable=sums["receivable"],
        withdrawing=-sums["withdrawing"],
        minimum=_minimum(),
    )


def withdrawal_in_flight(*, user: Any) -> Withdrawal | None:
    """The user's requested or approved withdrawal, if any (there is at most one)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Withdrawal.objects.filter(shopkeeper_id=user.pk, status__in=IN_FLIGHT).first()


def withdrawals_for_user(*, user: Any) -> QuerySet[Withdrawal]:
    """The user's withdrawals, newest first, with their status history."""
    if not getattr(user, "is_authenticated", False):
        return Withdrawal.objects.none()
    return Withdrawal.objects.filter(shopkeeper_id=user.pk).prefetch_related("status_changes").order_by("-id")


def withdrawals_for_review(*, status: str | None = S.REQUESTED) -> QuerySet[Withdrawal]:
    """For curators: oldest first (first come, first paid); `status=None` means every one."""
    queryset = Withdrawal.objects.select_related("shopkeeper").prefetch_related("status_changes")
    if status:
        if status not in S.values:
            raise ValidationFailed(_("Unknown status."), fields={"status": "invalid"})
        queryset = queryset.filter(status=status)
    return queryset.order_by("id")


def withdrawal_for_viewer(*, user: Any, withdrawal_id: int) -> Withdrawal:
    """The shopkeeper's own withdrawal, or any for a curator; NotFound for everyone else, so a
    stranger cannot tell whether it exists."""
    _signed_in(user)
    queryset = Withdrawal.objects.select_related("shopkeeper").prefetch_related("status_changes")
    if not getattr(user, "is_curator", False):
        queryset = queryset.filter(shopkeeper_id=user.pk)
    withdrawal = queryset.filter(pk=withdrawal_id).first()
    if withdrawal is None:
        raise NotFound(_("Withdrawal not found."))
    return withdrawal


def amount_from_major(text: Any, *, currency: str) -> int:
    """Parse what a person typed ("12.34", "12,3", "12") into minor units, exactly: no floats, no
    rounding; more decimals than the currency has is an error, not a rounding."""
    exponent = CURRENCY_EXPONENT.get(currency, 2)
    value = text.strip() if isinstance(text, str) else ""
    fraction = rf"(?:[.,]([0-9]{{1,{exponent}}}))?" if exponent else ""
    match = re.fullmatch(rf"([0-9]{{1,13}}){fraction}", value)
    if match is None:
        raise ValidationFailed(
            _("Enter an amount such as %(example)s.") % {"example": "12.34" if exponent else "1234"},
            code="invalid_amount",
            fields={"amount": "invalid"},
        )
    whole = int(match.group(1))
    cents = (match.group(2) or "").ljust(exponent, "0") if exponent else ""
    return whole * 10**exponent + (int(cents) if cents else 0)


# --- writes ---------------------------------------------------------------------------------


def _stored_key(user_id: int, idempotency_key: Any) -> str:
    """Namespaced per shopkeeper, so two people's keys never collide; hashed when too long."""
    key = idempotency_key.strip() if isinstance(idempotency_key, str) else ""
    if not 0 < len(key) <= KEY_MAX_LENGTH:
        raise ValidationFailed(
            _("The idempotency key is 1 to %(max)s characters.") % {"max": KEY_MAX_LENGTH},
            code="idempotency_key_required",
            fields={"idempotency_key": "invalid"},
        )
    stored = f"{user_id}:{key}"
    if len(stored) > KEY_MAX_LENGTH:
        stored = f"{user_id}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return stored


def _check_amount(amount: Any) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_POSTING:
        raise ValidationFailed(
            _("The amount must be a positive whole number of minor units."),
            code="invalid_amount",
            fields={"amount": "invalid"},
        )
    return amount


def _replay(existing: Withdrawal, amount: int) -> Withdrawal:
    if existing.amount != amount:
        raise ValidationFailed(
            _("This idempotency key was already used for another amount."),
            code="idempotency_key_reused",
            fields={"idempotency_key": "reused"},
        )
    return existing


def _in_flight() -> Conflict:
    return Conflict(
        _("You already have a withdrawal in progress. Wait until it is paid or declined."),
        code="withdrawal_in_flight",
    )


def _insufficient(withdrawable: int) -> ValidationFailed:
    return ValidationFailed(
        _("You cannot withdraw more than your available balance."),
        code="insufficient_balance",
        fields={"amount": "exceeds_balance", "available": withdrawable},
    )


def _post(withdrawal: Withdrawal, *, kind: str, key: str, postings: list[PostingSpec], actor_id: int | None) -> None:
    journal_entry_post(
        idempotency_key=f"{key}:{withdrawal.pk}",
        kind=kind,
        postings=postings,
        memo=f"Withdrawal {withdrawal.pk} of shopkeeper {withdrawal.shopkeeper_id}",
        reference=f"withdrawal:{withdrawal.pk}",
        actor_id=actor_id,
    )


def _money_back(withdrawal: Withdrawal) -> list[PostingSpec]:
    uid, currency = withdrawal.shopkeeper_id, withdrawal.currency
    return [
        PostingSpec(shopkeeper_account(uid, "withdrawing"), withdrawal.amount, currency),
        PostingSpec(shopkeeper_account(uid, "available"), -withdrawal.amount, currency),
    ]


def withdrawal_request(*, user: Any, amount: int, idempotency_key: str) -> Withdrawal:
    """Ask for `amount` minor units of the available balance to be paid out.

    422 `below_minimum` under GRASSROOTS["WITHDRAWAL_MINIMUM"]; 422 `insufficient_balance` above the
    available balance minus any open receivable; 409 `withdrawal_in_flight` while another request
    is requested or approved. The same key with the same amount returns the first withdrawal;
    with another amount it is 422 `idempotency_key_reused`. Nothing is written when refused.
    """
    _signed_in(user)
    amount = _check_amount(amount)
    key = _stored_key(user.pk, idempotency_key)
    existing = Withdrawal.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return _replay(existing, amount)
    minimum = _minimum()
    currency = _currency()
    if amount < minimum:
        raise ValidationFailed(
            _("The minimum withdrawal is %(minimum)s.") % {"minimum": format_minor(minimum, currency)},
            code="below_minimum",
            fields={"amount": "below_minimum", "minimum": minimum},
        )
    with transaction.atomic():
        try:
            with transaction.atomic():
                # Claims the shopkeeper's one in-flight slot: a concurrent request waits here until
                # this transaction ends, then fails on the index (or proceeds if this rolled back).
                withdrawal = Withdrawal.objects.create(
                    shopkeeper_id=user.pk, amount=amount, currency=currency, idempotency_key=key
                )
        except IntegrityError:
            existing = Withdrawal.objects.filter(idempotency_key=key).first()
            if existing is not None:
                return _replay(existing, amount)
            raise _in_flight() from None
        sums = _balances(user.pk, currency)
        withdrawable = -sums["available"] - max(sums["receivable"], 0)
        if amount > withdrawable:
            raise _insufficient(max(withdrawable, 0))
        _post(
            withdrawal,
            kind=KIND_REQUEST,
            key="withdrawal-request",
            postings=[
                PostingSpec(shopkeeper_account(user.pk, "available"), amount, currency),
                PostingSpec(shopkeeper_account(user.pk, "withdrawing"), -amount, currency),
            ],
            actor_id=user.pk,
        )
        # Last line of defence against any other flow that debited the account meanwhile.
        if LedgerAccount.objects.filter(
            code=shopkeeper_account(user.pk, "available"), currency=currency, cached_balance__gt=0
        ).exists():
            raise _insufficient(0)
        WithdrawalStatusChange.objects.create(
            withdrawal=withdrawal, from_status="", to_status=S.REQUESTED, action="request", actor_id=user.pk
        )
    return withdrawal


def _move(withdrawal: Withdrawal, *, action: str, actor_id: int | None, note: str = "", **fields: Any) -> bool:
    """Apply `action` if the row is still in the status we read; False when someone else moved it
    first. Raises InvalidTransition when the action is not allowed from the current status."""
    target = WITHDRAWAL_MACHINE.next_state(withdrawal.status, action)
    moved = Withdrawal.objects.filter(pk=withdrawal.pk, status=withdrawal.status).update(status=target, **fields)
    if moved != 1:
        return False
    WithdrawalStatusChange.objects.create(
        withdrawal=withdrawal,
        from_status=withdrawal.status,
        to_status=target,
        action=action,
        actor_id=actor_id,
        note=note[:REASON_MAX_LENGTH],
    )
    withdrawal.status = target
    for name, value in fields.items():
        setattr(withdrawal, name, value)
    return True


def _locked(withdrawal_id: int) -> Withdrawal:
    """The current row, locked on PostgreSQL; SQLite's IMMEDIATE transaction already holds the lock."""
    withdrawal = Withdrawal.objects.select_for_update().filter(pk=withdrawal_id).first()
    if withdrawal is None:
        raise NotFound(_("Withdrawal not found."))
    return withdrawal


def withdrawal_approve(*, actor: Any, withdrawal: Withdrawal, provider: PayoutProvider | None = None) -> Withdrawal:
    """A curator approves; the money is then paid out through the payout provider.

    Paid: the withdrawal is `paid` with the provider's reference. Declined: `failed` with the
    reason, and the money is back in the shopkeeper's available balance. Approving again is safe:
    a paid, failed or approved-but-interrupted withdrawal is returned or finished, never paid twice
    (the ledger keys are per withdrawal and providers are idempotent per withdrawal). When the
    provider cannot be reached the withdrawal stays approved: 503 `payout_unavailable`, retry later.
    """
    _require_curator(actor)
    if withdrawal.shopkeeper_id == actor.pk:
        raise PermissionDenied(_("Another curator must approve your own withdrawal."), code="own_withdrawal")
    with transaction.atomic():
        current = _locked(withdrawal.pk)
        if current.status in (S.PAID, S.FAILED):
            return current
        if current.status != S.APPROVED and not _move(
            current, action="approve", actor_id=actor.pk, decided_by_id=actor.pk, decided_at=timezone.now()
        ):
            raise _in_flight_changed()
    return _pay_out(current.pk, actor_id=actor.pk, provider=provider or payout_provider())


def _in_flight_changed() -> Conflict:
    return Conflict(
        _("The withdrawal changed meanwhile; reload and try again."), code="withdrawal_changed", transient=True
    )


def _pay_out(withdrawal_id: int, *, actor_id: int | None, provider: PayoutProvider) -> Withdrawal:
    # The provider call is outside any transaction: it may be slow, and it must not hold locks.
    withdrawal = Withdrawal.objects.get(pk=withdrawal_id)
    if withdrawal.status != S.APPROVED:
        return withdrawal
    try:
        result: PayoutResult = provider.pay(withdrawal)
    except PayoutUnavailable:
        raise ServiceError(
            _("The payout provider could not be reached. The withdrawal stays approved; try again later."),
            code="payout_unavailable",
            status=503,
        ) from None
    with transaction.atomic():
        current = _locked(withdrawal_id)
        if current.status != S.APPROVED:
            return current  # a concurrent approval finished it
        now = timezone.now()
        if result.ok:
            if _move(
                current, action="pay", actor_id=actor_id, note=result.ref, payout_ref=result.ref[:80], paid_at=now
            ):
                _post(
                    current,
                    kind=KIND_PAID,
                    key="withdrawal-paid",
                    postings=[
                        PostingSpec(
                            shopkeeper_account(current.shopkeeper_id, "withdrawing"), current.amount, current.currency
                        ),
                        PostingSpec(GATEWAY_CASH, -current.amount, current.currency),
                    ],
                    actor_id=actor_id,
                )
        else:
            reason = (result.error or "payout_failed")[:REASON_MAX_LENGTH]
            if _move(current, action="fail", actor_id=actor_id, note=reason, failure_reason=reason):
                _post(
                    current, kind=KIND_FAILED, key="withdrawal-failed", postings=_money_back(current), actor_id=actor_id
                )
    # A lost race (impossible under the row lock, but never post on it) returns what the winner left.
    return current if current.status != S.APPROVED else Withdrawal.objects.get(pk=withdrawal_id)


def withdrawal_reject(*, actor: Any, withdrawal: Withdrawal, reason: str) -> Withdrawal:
    """A curator declines a requested withdrawal; the money goes back to the available balance.
    The reason is required and shown to the shopkeeper. Rejecting again returns the same row."""
    _require_curator(actor)
    cleaned = clean_plain_text(reason if isinstance(reason, str) else "", max_length=REASON_MAX_LENGTH)
    if not cleaned:
        raise ValidationFailed(
            _("Give the shopkeeper a reason."), code="reason_required", fields={"reason": "required"}
        )
    with transaction.atomic():
        current = _locked(withdrawal.pk)
        if current.status == S.REJECTED:
            return current
        if not _move(
            current,
            action="reject",
            actor_id=actor.pk,
            note=cleaned,
            failure_reason=cleaned,
            decided_by_id=actor.pk,
            decided_at=timezone.now(),
        ):
            raise _in_flight_changed()
        _post(current, kind=KIND_REJECTED, key="withdrawal-rejected", postings=_money_back(current), actor_id=actor.pk)
    return current
