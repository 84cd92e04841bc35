"""Plain HTML forms; they only parse. The services validate and decide."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from grassroots.core.errors import ServiceError
from grassroots.core.money import CURRENCY_EXPONENT
from grassroots.orders.services import MAX_QUANTITY, AddressInput


class QuantityForm(forms.Form):
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=MAX_QUANTITY)


class AddToCartForm(QuantityForm):
    sku_id = forms.IntegerField(min_value=1, max_value=2**62)


class AddressForm(forms.Form):
    name = forms.CharField(label=_("Recipient"), max_length=60)
    phone = forms.CharField(label=_("Phone"), max_length=20)
    region = forms.CharField(label=_("Province / region"), max_length=60)
    city = forms.CharField(label=_("City"), max_length=60)
    line1 = forms.CharField(label=_("Address"), max_length=200)
    postcode = forms.CharField(label=_("Postcode"), max_length=12, required=False)
    is_default = forms.BooleanField(label=_("Use as my default address"), required=False)

    def address_input(self) -> AddressInput:
        data = self.cleaned_data
        return AddressInput(
            name=data["name"],
            phone=data["phone"],
            region=data["region"],
            city=data["city"],
            line1=data["line1"],
            postcode=data.get("postcode") or "",
        )


class ShipForm(forms.Form):
    carrier = forms.CharField(label=_("Carrier"), max_length=40)
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=40)


class ShippingRuleForm(forms.Form):
    """Amounts in major units (e.g. 8.00); the view converts them to minor units."""

    flat_fee = forms.DecimalField(label=_("Shipping fee per order"), min_value=0, max_digits=12, decimal_places=2)
    free_over = forms.DecimalField(
        label=_("Free shipping from (goods total; empty for never)"),
        min_value=Decimal("0.01"),
        max_digits=14,
        decimal_places=2,
        required=False,
    )

    def minor(self, name: str, currency: str) -> int | None:
        value = self.cleaned_data.get(name)
        if value is None:
            return None
        return int(value * 10 ** CURRENCY_EXPONENT.get(currency, 2))


def add_service_error(form: forms.Form, error: ServiceError) -> None:
    """Put a service's field errors next to the fields, the rest at the top."""
    placed = False
    for field, reason in error.fields.items():
        if field in form.fields:
            form.add_error(field, f"{error.message} ({reason})")
            placed = True
    if not placed:
        form.add_error(None, error.message)


class ReturnRequestForm(forms.Form):
    """One line of an order: how many units to return or have refunded."""

    line_id = forms.IntegerField(min_value=1, max_value=2**62)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=MAX_QUANTITY)
    kind = forms.ChoiceField(choices=[("return", _("Return")), ("refund_only", _("Refund"))])
    reason = forms.CharField(label=_("Reason (optional)"), max_length=500, required=False)
    form_token = forms.CharField(max_length=64, required=False)


class RejectReturnForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)
