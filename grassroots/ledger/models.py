from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class LedgerAccount(models.Model):
    """An account is named by a code, e.g. `platform:revenue`, `merchant:12:payable`.

    Balances are derived from postings; `cached_balance` is a convenience copy that
    ledger_verify checks against the replay.
    """

    class Kind(models.TextChoices):
        ASSET = "asset"
        LIABILITY = "liability"
        REVENUE = "revenue"
        EXPENSE = "expense"
        EQUITY = "equity"

    code = models.CharField(max_length=80)
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    cached_balance = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["code", "currency"], name="uniq_ledger_account")]

    def __str__(self) -> str:
        return f"{self.code} [{self.currency}]"


class JournalEntry(models.Model):
    """Immutable. Its postings sum to zero per currency. Corrections are new, reversing entries."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=40, db_index=True)
    memo = models.CharField(max_length=255, blank=True)
    reference = models.CharField(max_length=80, blank=True, db_index=True)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    # Who moved the money, when a person did (settlements); system flows leave it empty.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key}"


class Posting(models.Model):
    """Debit positive, credit negative, in minor units."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="postings")
    amount = models.BigIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="posting_nonzero")]
        # Statements page by id within an account and sum up to an id for the running balance.
        indexes = [models.Index(fields=["account", "id"], name="ledger_posting_account_id")]
