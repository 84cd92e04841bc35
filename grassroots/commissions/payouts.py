"""Payout providers: how an approved withdrawal's money leaves the platform.

A provider implements `PayoutProvider` and is registered by name:

    payout_provider_register("alipay", lambda: AlipayPayoutProvider(app_id=..., private_key=...))

`GRASSROOTS["PAYOUT_PROVIDER"]` names the one in use (default "simulated").

The contract:
- `pay(withdrawal)` sends `withdrawal.amount` minor units of `withdrawal.currency` to the
  shopkeeper and returns a `PayoutResult`: `ok=True` with the provider's reference, or `ok=False`
  with a short machine-readable `error` when the provider refused (the money did not leave).
- It must be idempotent per withdrawal: real providers take `payout_idempotency_key(withdrawal)` as
  their idempotency key (Alipay `out_biz_no`, WeChat Pay `out_batch_no`, Stripe `Idempotency-Key`),
  because an interrupted approval is retried by calling `pay()` again.
- When the outcome is unknown (timeout, network), raise `PayoutUnavailable`: the withdrawal stays
  approved and is retried; it is never marked failed, since the money may have left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django.conf import settings

if TYPE_CHECKING:
    from grassroots.commissions.models import Withdrawal

DEFAULT_PROVIDER = "simulated"
# The simulated provider refuses amounts whose last two digits of minor units are 13 (e.g. 10.13),
# so the failure path can be tried by hand and in tests without a switch.
SIMULATED_FAILING_CENTS = 13
SIMULATED_ERROR = "simulated_declined"


@dataclass(frozen=True, slots=True)
class PayoutResult:
    ok: bool
    ref: str = ""
    error: str = ""


class PayoutUnavailable(Exception):
    """The provider could not be reached or did not answer: the outcome is unknown."""


class PayoutProvider(Protocol):
    name: str

    def pay(self, withdrawal: Withdrawal) -> PayoutResult:
        """Send the money; see the module docstring for the contract."""
        ...


def payout_idempotency_key(withdrawal: Withdrawal) -> str:
    return f"withdrawal-payout:{withdrawal.pk}"


class SimulatedPayoutProvider:
    """Pays instantly and deterministically, so retries agree with the first call.

    - An amount ending in 13 minor units (e.g. 10.13, 250.13) is declined: `simulated_declined`.
    - `GRASSROOTS["PAYOUT_SIMULATE_FAILURE"] = True` declines every payout (to demo failures).
    - Everything else succeeds with reference `sim-<withdrawal id>`.
    """

    name = "simulated"

    def pay(self, withdrawal: Withdrawal) -> PayoutResult:
        declines_all = bool(settings.GRASSROOTS.get("PAYOUT_SIMULATE_FAILURE", False))
        if declines_all or withdrawal.amount % 100 == SIMULATED_FAILING_CENTS:
            return PayoutResult(ok=False, error=SIMULATED_ERROR)
        return PayoutResult(ok=True, ref=f"sim-{withdrawal.pk}")


_registry: dict[str, Callable[[], PayoutProvider]] = {DEFAULT_PROVIDER: SimulatedPayoutProvider}


def payout_provider_register(name: str, factory: Callable[[], PayoutProvider]) -> None:
    """Registering a name again replaces it (reloads and tests do this)."""
    if not name or len(name) > 40:
        raise ValueError("A payout provider name is 1 to 40 characters.")
    _registry[name] = factory


def payout_provider_unregister(name: str) -> None:
    if name != DEFAULT_PROVIDER:
        _registry.pop(name, None)


def payout_provider(name: str | None = None) -> PayoutProvider:
    """The provider named (or configured). An unknown name is a configuration error, so it raises
    at the first approval instead of silently paying through another provider."""
    chosen = name or str(settings.GRASSROOTS.get("PAYOUT_PROVIDER", DEFAULT_PROVIDER))
    try:
        factory = _registry[chosen]
    except KeyError:
        raise LookupError(f"No payout provider named {chosen!r} is registered.") from None
    return factory()
