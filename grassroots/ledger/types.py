"""Value types shared by the ledger's services and flow helpers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PostingSpec:
    account: str  # account code, see grassroots.ledger.codes
    amount: int  # minor units; debit > 0, credit < 0
    currency: str
