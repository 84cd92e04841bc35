"""`manage.py check --deploy`: the simulated gateway takes test cards, so it must not take orders
in production by accident."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register


@register(Tags.security, deploy=True)
def simulated_gateway_in_production(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    grassroots = getattr(settings, "GRASSROOTS", {})
    if grassroots.get("PAYMENT_GATEWAY", "simulated") == "simulated" and not grassroots.get("ALLOW_SIMULATED_PAYMENTS"):
        return [
            Error(
                "Payments use the simulated gateway: anyone can pay with a test card.",
                hint="Set GRASSROOTS['PAYMENT_GATEWAY'] to a real provider, or "
                "GRASSROOTS['ALLOW_SIMULATED_PAYMENTS'] = True for a demo site.",
                id="payments.E001",
            )
        ]
    return []
