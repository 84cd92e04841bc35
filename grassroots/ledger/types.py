"""Value types shared by the ledger's services and flow helpers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PostingSpec:
    account: str  # account code, see grassroots.ledger.codes
    amount: int  # minor units; debit > 0, credit < 0
    currency: str


@dataclass(frozen=True, slots=True)
class EntrySpec:
    """One balanced entry for `journal_entries_post_many`, as the arguments of journal_entry_post."""

    idempotency_key: str
    kind: str
    postings: tuple[PostingSpec, ...] | list[PostingSpec]
    memo: str = ""
    reference: str = ""
    actor_id: int | None = None
