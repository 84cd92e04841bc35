"""Writes for coupons: create, deactivate, quote, redeem, release.

Limits hold under concurrency. `coupon_redeem` takes a use with ONE conditional UPDATE

    UPDATE coupon SET used_count = used_count + 1
    WHERE id = ? AND is_active AND valid_from <= now < valid_until
      AND (total_limit = 0 OR used_count < total_limit)

and checks the row count, then counts the buyer's active redemptions of the coupon in the same
transaction. That count is safe because the UPDATE has already serialised every redeemer of the
coupon until commit:
- PostgreSQL (READ COMMITTED, Django's default): the UPDATE takes the coupon's row lock; a second
  redeemer's UPDATE waits for it, then re-checks its WHERE against the committed row. Once it holds
  the lock, every earlier redeemer has committed or rolled back, and the count (a new statement, so
  a new snapshot) sees their redemption rows.
- SQLite: transactions are IMMEDIATE (settings), so the write lock is taken at BEGIN and whole
  transactions run one at a time.
A release only ever lowers the count, so racing one makes a redeemer stricter, never looser.
Lock order is always SKU rows (stock) before the coupon row, in checkout and in release alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.core.errors import NotFound, PermissionDenied, ValidationFailed
from grassroots.core.money import CURRENCY_EXPONENT
from grassroots.coupons.models import Coupon, CouponRedemption
from grassroots.coupons.selectors import coupon_for_manager, is_curator, is_member
from grassroots.ledger.splits import BPS, allocate_proportionally

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,39}$")
MAX_AMOUNT = 10**12
MAX_LIMIT = 10**9

# Error codes a buyer can meet (all 422, fields={"coupon_code": <code>}).
INVALID = "invalid_coupon"
EXPIRED = "coupon_expired"
NOT_STARTED = "coupon_not_started"
EXHAUSTED = "coupon_exhausted"
USER_LIMIT = "coupon_user_limit"
MIN_SPEND = "coupon_min_spend"
NOT_APPLICABLE = "coupon_not_applicable"


def _refuse(code: str, **fields: Any) -> ValidationFailed:
    messages = {
        INVALID: _("This coupon is not valid."),
        EXPIRED: _("This coupon has expired."),
        NOT_STARTED: _("This coupon cannot be used yet."),
        EXHAUSTED: _("This coupon has been used up."),
        USER_LIMIT: _("You have already used this coupon."),
        MIN_SPEND: _("Spend a little more to use this coupon."),
        NOT_APPLICABLE: _("This coupon does not apply to these items."),
    }
    return ValidationFailed(messages[code], code=code, fields={"coupon_code": code, **fields})


def normalise_code(code: Any) -> str | None:
    """A code as stored (upper-case), or None when it cannot be a code at all."""
    if not isinstance(code, str):
        return None
    code = code.strip().upper()
    return code if CODE_RE.match(code) else None


# --- pure money --------------------------------------------------------------------------------


def discount_amount(*, coupon: Coupon, eligible_total: int, eligible_amounts: Sequence[int]) -> int:
    """What the coupon takes off `eligible_total` (the goods it applies to).

    Percent rounds down to a whole minor unit. It never exceeds the eligible goods less one minor unit per line: every line keeps something to pay, so
    every order has a positive total, which payments and the ledger's allocation require.
    """
    if coupon.kind == Coupon.Kind.FIXED:
        wanted = coupon.amount
    else:
        wanted = eligible_total * coupon.percent_bps // BPS
        if coupon.max_discount is not None:
            wanted = min(wanted, coupon.max_discount)
    ceiling = sum(max(0, amount - 1) for amount in eligible_amounts)
    return max(0, min(wanted, ceiling))


def discount_allocate(discount: int, amounts: Sequence[int]) -> list[int]:
    """Spread `discount` over line amounts, proportional to them and summing exactly to it, with
    every share at most its amount - 1. Needs discount <= sum(amount - 1).

    Proportional to the amounts themselves whenever that keeps a unit on every line; else (a coupon
    near 100%) proportional to amount - 1, where largest remainder can never give a share more than
    the ceiling of its exact part, which is at most amount - 1.
    """
    if discount == 0:
        return [0] * len(amounts)
    shares = allocate_proportionally(discount, list(amounts))
    if all(share <= amount - 1 for share, amount in zip(shares, amounts, strict=True)):
        return shares
    return allocate_proportionally(discount, [max(0, amount - 1) for amount in amounts])


# --- quote -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CouponQuote:
    """What a coupon does to a set of lines. Lines are (key, goods amount) per merchant; the key is
    the caller's (checkout uses the SKU id, unique within a checkout)."""

    coupon: Coupon
    currency: str
    goods_total: int
    eligible_total: int
    discount_total: int
    line_discounts: dict[int, int] = field(default_factory=dict)
    merchant_discounts: dict[int, int] = field(default_factory=dict)


def _coupon_by_code(code: Any) -> Coupon:
    normalised = normalise_code(code)
    coupon = Coupon.objects.filter(code=normalised).first() if normalised else None
    if coupon is None:
        raise _refuse(INVALID)
    return coupon


def _check_usable(coupon: Coupon, now: datetime) -> None:
    """Active, within its window, uses left: the same conditions coupon_redeem's UPDATE checks."""
    if not coupon.is_active:
        raise _refuse(INVALID)
    if now < coupon.valid_from:
        raise _refuse(NOT_STARTED)
    if now >= coupon.valid_until:
        raise _refuse(EXPIRED)
    if coupon.total_limit and coupon.used_count >= coupon.total_limit:
        raise _refuse(EXHAUSTED)


def _user_uses(coupon: Coupon, buyer: Any) -> int:
    return CouponRedemption.objects.filter(
        coupon_id=coupon.pk, user_id=buyer.pk, status=CouponRedemption.Status.ACTIVE
    ).count()


def coupon_quote(
    *,
    code: Any,
    buyer: Any,
    lines_by_merchant: Mapping[int, Sequence[tuple[int, int]]],
    currency: str,
    now: datetime | None = None,
) -> CouponQuote:
    """The discount `code` gives `buyer` on these lines, allocated to them; reads only (1 query,
    2 with a per-user limit). Raises 422 with one of the coupon error codes.

    A platform coupon applies to all goods, a merchant coupon to that merchant's goods only; the
    minimum spend is measured on those goods, shipping never counts and is never discounted.
    """
    now = now or timezone.now()
    coupon = _coupon_by_code(code)
    _check_usable(coupon, now)
    if coupon.currency != currency:
        raise _refuse(NOT_APPLICABLE)
    eligible = [
        (merchant_id, key, amount)
        for merchant_id, lines in lines_by_merchant.items()
        if coupon.scope == Coupon.Scope.PLATFORM or merchant_id == coupon.merchant_id
        for key, amount in lines
    ]
    if not eligible:
        raise _refuse(NOT_APPLICABLE)
    amounts = [amount for _merchant, _key, amount in eligible]
    eligible_total = sum(amounts)
    if eligible_total < coupon.min_spend:
        raise _refuse(MIN_SPEND, min_spend=coupon.min_spend, eligible_total=eligible_total)
    if coupon.per_user_limit and _user_uses(coupon, buyer) >= coupon.per_user_limit:
        raise _refuse(USER_LIMIT)
    discount = discount_amount(coupon=coupon, eligible_total=eligible_total, eligible_amounts=amounts)
    if discount <= 0:
        raise _refuse(NOT_APPLICABLE)
    shares = discount_allocate(discount, amounts)
    line_discounts = {key: 0 for lines in lines_by_merchant.values() for key, _amount in lines}
    merchant_discounts = dict.fromkeys(lines_by_merchant, 0)
    for (merchant_id, key, _amount), share in zip(eligible, shares, strict=True):
        line_discounts[key] = share
        merchant_discounts[merchant_id] += share
    return CouponQuote(
        coupon=coupon,
        currency=currency,
        goods_total=sum(amount for lines in lines_by_merchant.values() for _key, amount in lines),
        eligible_total=eligible_total,
        discount_total=discount,
        line_discounts=line_discounts,
        merchant_discounts=merchant_discounts,
    )


# --- redeem and release ------------------------------------------------------------------------


def _why_refused(coupon_id: int, now: datetime) -> ValidationFailed:
    """The conditional UPDATE matched nothing: say why from the row as it is now."""
    coupon = Coupon.objects.filter(pk=coupon_id).first()
    if coupon is None:
        return _refuse(INVALID)
    try:
        _check_usable(coupon, now)
    except ValidationFailed as error:
        return error
    return _refuse(EXHAUSTED)


def coupon_redeem(
    *, coupon: Coupon, buyer: Any, checkout_id: int, amount: int, now: datetime | None = None
) -> CouponRedemption:
    """Take one use of `coupon` for `buyer`'s checkout (see the module docstring for why this is
    race-safe). Run it inside the checkout's transaction: on failure it raises and the caller's
    block rolls everything back (no savepoint of its own, so it costs 3 queries, 2 without a
    per-user limit)."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValueError("a redemption takes a positive amount of minor units")
    now = now or timezone.now()
    with transaction.atomic(savepoint=False):
        taken = (
            Coupon.objects.filter(pk=coupon.pk, is_active=True, valid_from__lte=now, valid_until__gt=now)
            .filter(Q(total_limit=0) | Q(used_count__lt=F("total_limit")))
            .update(used_count=F("used_count") + 1)
        )
        if taken != 1:
            raise _why_refused(coupon.pk, now)
        # per_user_limit never changes after creation, so the in-memory value is the row's.
        if coupon.per_user_limit and _user_uses(coupon, buyer) >= coupon.per_user_limit:
            raise _refuse(USER_LIMIT)
        return CouponRedemption.objects.create(coupon_id=coupon.pk, user=buyer, checkout_id=checkout_id, amount=amount)


def coupon_release(*, checkout_id: int, now: datetime | None = None) -> bool:
    """Give the use back when an unpaid checkout is cancelled or expires. Idempotent: only the call
    that moves the redemption from active to released decrements the count. False when there was
    nothing to release."""
    now = now or timezone.now()
    with transaction.atomic(savepoint=False):
        row = (
            CouponRedemption.objects.filter(checkout_id=checkout_id, status=CouponRedemption.Status.ACTIVE)
            .values_list("pk", "coupon_id")
            .first()
        )
        if row is None:
            return False
        redemption_id, coupon_id = row
        released = CouponRedemption.objects.filter(pk=redemption_id, status=CouponRedemption.Status.ACTIVE).update(
            status=CouponRedemption.Status.RELEASED, released_at=now
        )
        if released != 1:
            return False
        Coupon.objects.filter(pk=coupon_id, used_count__gt=0).update(used_count=F("used_count") - 1)
    return True


# --- create and deactivate ---------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _aware(value: Any) -> datetime | None:
    """An aware date-time in the years 2000-2199, else None: the extremes a client may send (year
    9999 at UTC-14 is past year 10000 in UTC) overflow when converted or stored."""
    if not isinstance(value, datetime) or not 2000 <= value.year <= 2199:
        return None
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def _validate_kind(errors: dict[str, str], *, kind: Any, amount: Any, percent_bps: Any, max_discount: Any) -> None:
    if kind == Coupon.Kind.FIXED:
        if not _is_int(amount) or not 0 < amount <= MAX_AMOUNT:
            errors["amount"] = "out_of_range"
        if percent_bps not in (0, None):
            errors["percent_bps"] = "not_allowed"
        if max_discount is not None:
            errors["max_discount"] = "not_allowed"
    elif kind == Coupon.Kind.PERCENT:
        if not _is_int(percent_bps) or not 1 <= percent_bps <= BPS:
            errors["percent_bps"] = "out_of_range"
        if amount not in (0, None):
            errors["amount"] = "not_allowed"
        if max_discount is not None and (not _is_int(max_discount) or not 0 < max_discount <= MAX_AMOUNT):
            errors["max_discount"] = "out_of_range"
    else:
        errors["kind"] = "invalid"


def coupon_create(
    *,
    actor: Any,
    code: Any,
    kind: Any,
    currency: Any,
    valid_until: Any,
    valid_from: Any = None,
    amount: Any = 0,
    percent_bps: Any = 0,
    max_discount: Any = None,
    min_spend: Any = 0,
    total_limit: Any = 0,
    per_user_limit: Any = 1,
    merchant_id: int | None = None,
    now: datetime | None = None,
) -> Coupon:
    """A platform coupon (merchant_id None; curators only, else 403) or a coupon for one merchant's
    goods (its members only; anyone else gets a 404). Bad values are a 422 with `fields`.

    fixed: `amount` minor units off (> 0). percent: `percent_bps` 1..10000 (0.01%..100%), with an
    optional `max_discount`. `valid_until` must be after `valid_from` (default now) and in the future.
    """
    now = now or timezone.now()
    if merchant_id is None:
        if not is_curator(actor):
            raise PermissionDenied(_("Only curators create platform coupons."), code="not_a_curator")
    elif not _is_int(merchant_id) or not is_member(actor, merchant_id):
        raise NotFound(_("Merchant not found."))

    errors: dict[str, str] = {}
    normalised = normalise_code(code)
    if normalised is None:
        errors["code"] = "invalid"
    _validate_kind(errors, kind=kind, amount=amount, percent_bps=percent_bps, max_discount=max_discount)
    if currency not in CURRENCY_EXPONENT:
        errors["currency"] = "invalid"
    if not _is_int(min_spend) or not 0 <= min_spend <= MAX_AMOUNT:
        errors["min_spend"] = "out_of_range"
    if not _is_int(total_limit) or not 0 <= total_limit <= MAX_LIMIT:
        errors["total_limit"] = "out_of_range"
    if not _is_int(per_user_limit) or not 0 <= per_user_limit <= MAX_LIMIT:
        errors["per_user_limit"] = "out_of_range"
    start = now if valid_from is None else _aware(valid_from)
    end = _aware(valid_until)
    if start is None:
        errors["valid_from"] = "invalid"
    if end is None:
        errors["valid_until"] = "invalid"
    elif end <= now:
        errors["valid_until"] = "in_the_past"
    elif start is not None and end <= start:
        errors["valid_until"] = "not_after_valid_from"
    if errors or normalised is None or start is None or end is None:
        raise ValidationFailed(_("Please check the coupon."), fields=errors)

    is_fixed = kind == Coupon.Kind.FIXED
    try:
        with transaction.atomic():
            return Coupon.objects.create(
                code=normalised,
                scope=Coupon.Scope.PLATFORM if merchant_id is None else Coupon.Scope.MERCHANT,
                merchant_id=merchant_id,
                kind=kind,
                amount=amount if is_fixed else 0,
                percent_bps=0 if is_fixed else percent_bps,
                max_discount=None if is_fixed else max_discount,
                min_spend=min_spend,
                currency=currency,
                valid_from=start,
                valid_until=end,
                total_limit=total_limit,
                per_user_limit=per_user_limit,
                created_by=actor,
            )
    except IntegrityError:
        # Codes are unique whatever their case; a parallel create of the same code lands here too.
        raise ValidationFailed(
            _("This code is already taken."), code="coupon_code_taken", fields={"code": "taken"}
        ) from None


def coupon_deactivate(*, actor: Any, coupon_id: int, now: datetime | None = None) -> Coupon:
    """Stop new uses now; checkouts that already hold a use keep their discount. Idempotent."""
    coupon = coupon_for_manager(actor=actor, coupon_id=coupon_id)
    Coupon.objects.filter(pk=coupon.pk, is_active=True).update(is_active=False, deactivated_at=now or timezone.now())
    coupon.refresh_from_db()
    return coupon
