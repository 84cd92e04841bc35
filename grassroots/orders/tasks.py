"""Background work for orders. Tasks take ids or ISO timestamps and are idempotent, so a retry
or a duplicate enqueue does no harm."""

from __future__ import annotations

from datetime import datetime

from django.tasks import task
from django.utils import timezone

from grassroots.orders import services


def _when(now: str | None) -> datetime:
    return datetime.fromisoformat(now) if now else timezone.now()


@task()
def expire_checkout(checkout_id: int) -> bool:
    """Expire one checkout once its payment window has passed (enqueued with run_after)."""
    return services.checkout_expire(checkout_id=checkout_id)


@task()
def expire_checkouts(now: str | None = None) -> int:
    """Sweep every overdue unpaid checkout, then retry refunds of payments that came in too late."""
    expired = services.checkouts_expire(now=_when(now))
    services.unapplied_payments_refund()
    return expired


@task()
def complete_orders(now: str | None = None) -> int:
    """Shipped orders nobody confirmed count as received, then due delivered orders complete."""
    received = services.orders_auto_receive(now=_when(now))
    return received + services.orders_auto_complete(now=_when(now))
