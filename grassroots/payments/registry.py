"""What can be paid for. Apps that sell something register a handler for their kind of payable.

The orders app registers "checkout" in its AppConfig.ready(); group buys register their own kind.
Payments never reads another app's models: it asks the handler what is due and tells it what
happened.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from django.utils.translation import gettext as _

from grassroots.core.errors import NotFound


class PayableInfo(NamedTuple):
    amount: int  # minor units due now
    currency: str
    owner_id: int  # the user who may pay it
    payable: bool  # whether it can be paid now (e.g. False for a cancelled order)
    reason: str  # why not, for people, when payable is False
    return_url: str  # where the buyer goes after paying


class PayableHandler(Protocol):
    def describe(self, payable_id: int) -> PayableInfo:
        """Raise core.errors.NotFound when there is no such payable."""
        ...

    def on_captured(self, payable_id: int, intent_id: int) -> None:
        """Called once, inside the capture transaction: an error rolls the capture back."""
        ...

    def on_failed(self, payable_id: int, intent_id: int) -> None:
        """Called inside the transaction that marks the intent failed; the buyer may retry."""
        ...


_handlers: dict[str, PayableHandler] = {}


def register_payable(kind: str, handler: PayableHandler) -> None:
    """Registering the same kind again replaces the handler (reloads and tests do this)."""
    if not kind or len(kind) > 30:
        raise ValueError("A payable kind is 1 to 30 characters.")
    _handlers[kind] = handler


def unregister_payable(kind: str) -> None:
    _handlers.pop(kind, None)


def get_payable(kind: str) -> PayableHandler:
    try:
        return _handlers[kind]
    except KeyError:
        raise NotFound(_("Nothing of this kind can be paid for."), code="unknown_payable_kind") from None


def payable_kinds() -> list[str]:
    return sorted(_handlers)
