"""The console's coupon form: it only parses (major units, percent); the service validates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from grassroots.core.money import CURRENCY_EXPONENT
from grassroots.coupons.models import Coupon


class CouponForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=40, help_text=_("3-40 letters, digits, - or _."))
    kind = forms.ChoiceField(label=_("Type"), choices=Coupon.Kind.choices)
    amount = forms.DecimalField(
        label=_("Amount off (fixed)"), min_value=Decimal("0.01"), max_digits=14, decimal_places=2, required=False
    )
    percent = forms.DecimalField(
        label=_("Percent off"), min_value=Decimal("0.01"), max_value=100, max_digits=5, decimal_places=2, required=False
    )
    max_discount = forms.DecimalField(
        label=_("At most (percent; empty for no cap)"),
        min_value=Decimal("0.01"),
        max_digits=14,
        decimal_places=2,
        required=False,
    )
    min_spend = forms.DecimalField(
        label=_("Minimum spend on the goods it applies to"),
        min_value=0,
        max_digits=14,
        decimal_places=2,
        required=False,
    )
    valid_from = forms.DateTimeField(
        label=_("Valid from (empty for now)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    valid_until = forms.DateTimeField(
        label=_("Valid until"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    total_limit = forms.IntegerField(
        label=_("Uses in all (0 for unlimited)"), min_value=0, max_value=10**9, initial=0, required=False
    )
    per_user_limit = forms.IntegerField(
        label=_("Uses per buyer (0 for unlimited)"), min_value=0, max_value=10**9, initial=1, required=False
    )

    def minor(self, name: str, currency: str) -> int | None:
        value = self.cleaned_data.get(name)
        if value is None:
            return None
        return int(value * 10 ** CURRENCY_EXPONENT.get(currency, 2))

    def service_kwargs(self, currency: str) -> dict[str, Any]:
        """The other kind's fields are ignored (the form shows both)."""
        data = self.cleaned_data
        fixed = data["kind"] == Coupon.Kind.FIXED
        percent = data.get("percent")
        return {
            "code": data["code"],
            "kind": data["kind"],
            "amount": (self.minor("amount", currency) or 0) if fixed else 0,
            "percent_bps": int(percent * 100) if percent is not None and not fixed else 0,
            "max_discount": None if fixed else self.minor("max_discount", currency),
            "min_spend": self.minor("min_spend", currency) or 0,
            "currency": currency,
            "valid_from": data.get("valid_from"),
            "valid_until": data["valid_until"],
            "total_limit": data.get("total_limit") or 0,
            "per_user_limit": 1 if data.get("per_user_limit") is None else data["per_user_limit"],
        }
