"""Commission on attributed sales, and shopkeeper withdrawals.

Money itself lives in the ledger. Shopkeeper accounts (user id of the shopkeeper):
  shopkeeper:<id>:pending     earned on a paid line, inside the return window
  shopkeeper:<id>:held        suspected self-referral, waiting for an operator
  shopkeeper:<id>:available   the return window closed without a return: withdrawable
  shopkeeper:<id>:withdrawing requested, approved or being paid out
  shopkeeper:<id>:receivable  clawed back after a refund of money already withdrawn; netted first
These rows record which line earned what, so every cent can be traced to an order line.

The flows (built in grassroots.commissions.services):
  order paid       Dr buyer:clearing / Cr merchant:<m>:payable / Cr platform:revenue
                   / Cr shopkeeper:<s>:pending (commission) / Cr shopkeeper:<inviter>:pending (override)
                   (…:held instead of …:pending for both while a line is held for review)
  release          Dr shopkeeper:<x>:held / Cr shopkeeper:<x>:pending
  reject           Dr shopkeeper:<x>:held / Cr merchant:<m>:payable (commission), Cr platform:revenue (override)
  refund           Dr shopkeeper:<x>:pending|held|available (+ Dr …:receivable for what was withdrawn)
                   / Cr buyer:clearing, in the order's refund entry
  settlement       Dr shopkeeper:<x>:pending / Cr shopkeeper:<x>:receivable (netted first) / Cr …:available
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class CommissionLine(models.Model):
    """The reward split of one paid order line: a direct commission and at most one override."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        HELD = "held", _("Held for review")
        AVAILABLE = "available", _("Available")
        REVERSED = "reversed", _("Reversed")
        # An operator found a held line to be self-referral: commission back to the merchant,
        # override back to the platform (they then carry that part of any later refund).
        REJECTED = "rejected", _("Rejected")

    order_line = models.OneToOneField("orders.OrderLine", on_delete=models.PROTECT, related_name="commission")
    # A copy of order_line.order for the settlement's join on the order's status; the order_line
    # reference is the constraint (a second check of the same order per booked line only cost time).
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="commission_lines", db_constraint=False
    )
    shop = models.ForeignKey("shops.Shop", on_delete=models.PROTECT, related_name="commission_lines")
    # Indexed by commission_by_shopkeeper (its prefix), not alone.
    shopkeeper = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="commission_lines", db_index=False
    )
    # The inviter of the shopkeeper, one level up; never further. Partial index (most lines have none).
    override_beneficiary = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="override_lines",
        db_index=False,
    )
    rule = models.CharField(max_length=20)  # last_click | binding
    rate_bps = models.PositiveIntegerField()
    # The other rates of the split at capture; a refund re-runs split_line with all three, so
    # refunding every unit gives back exactly what was booked.
    platform_fee_bps = models.PositiveIntegerField(default=0)
    override_bps = models.PositiveIntegerField(default=0)  # of the platform fee; 0 without an override
    # No database constraint and no index: the click log is append-only (no code path deletes a click),
    # so the check (a FOR KEY SHARE lock on the click per booked line) bought nothing but cost, and no
    # query looks lines up by click (docs/adr/0009-set-based-settlement.md).
    click = models.ForeignKey(
        "attribution.Click",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    source = models.CharField(max_length=40, blank=True)  # e.g. "shop", "post:<id>", "live:<id>"
    currency = models.CharField(max_length=3)
    paid_amount = models.BigIntegerField()
    # What the merchant keeps of the line (split_line's merchant part, before any refund).
    merchant_amount = models.BigIntegerField(default=0)
    commission_amount = models.BigIntegerField()
    override_amount = models.BigIntegerField(default=0)
    commission_reversed = models.BigIntegerField(default=0)
    override_reversed = models.BigIntegerField(default=0)
    # Indexed only while pending or held (commission_open), the states queries look for.
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    hold_reason = models.CharField(max_length=200, blank=True)
    # When the line became withdrawable (the settlement run that moved it), as settled_at.
    available_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    settlement = models.ForeignKey(
        "CommissionSettlement", null=True, blank=True, on_delete=models.PROTECT, related_name="lines", db_index=False
    )
    # The operator who released or rejected a held line.
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Every index costs each new row version (a booked line, a claimed one) an entry: no LIKE-only
        # copies, and the nullable references and the status only where a query looks for them.
        indexes = [
            models.Index(fields=["shopkeeper", "-created_at"], name="commission_by_shopkeeper"),
            models.Index(fields=["status"], condition=Q(status__in=["pending", "held"]), name="commission_open"),
            models.Index(
                fields=["override_beneficiary"],
                condition=Q(override_beneficiary__isnull=False),
                name="commission_override",
            ),
            models.Index(fields=["settlement"], condition=Q(settlement__isnull=False), name="commission_settlement"),
            models.Index(fields=["decided_by"], condition=Q(decided_by__isnull=False), name="commission_decided_by"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(commission_amount__gte=0)
                & Q(override_amount__gte=0)
                & Q(commission_reversed__gte=0)
                & Q(override_reversed__gte=0)
                & Q(commission_reversed__lte=models.F("commission_amount"))
                & Q(override_reversed__lte=models.F("override_amount")),
                name="commission_amounts_sane",
            )
        ]


class CommissionSettlement(models.Model):
    """One chunk of a settlement run: the lines it claimed (CommissionLine.settlement) and one ledger
    entry per beneficiary and currency, keyed `commission-settle:<id>:<user id>:<currency>`."""

    created_at = models.DateTimeField()
    line_count = models.PositiveIntegerField(default=0)
    # Moved from pending to available (and to receivables) in all currencies, in minor units.
    amount_total = models.BigIntegerField(default=0)


class Withdrawal(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")
        REJECTED = "rejected", _("Rejected")

    shopkeeper = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED, db_index=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    payout_ref = models.CharField(max_length=80, blank=True)
    failure_reason = models.CharField(max_length=200, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="withdrawal_positive"),
            # At most one request in flight per shopkeeper, enforced by the database.
            models.UniqueConstraint(
                fields=["shopkeeper"],
                condition=Q(status__in=["requested", "approved"]),
                name="one_withdrawal_in_flight",
            ),
        ]


class WithdrawalStatusChange(models.Model):
    withdrawal = models.ForeignKey(Withdrawal, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=12)
    to_status = models.CharField(max_length=12)
    action = models.CharField(max_length=20)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
