"""HTML forms: they shape the inputs; the services and the gateway decide what is valid."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from grassroots.core.errors import ServiceError


class CardForm(forms.Form):
    card_number = forms.CharField(
        label=_("Card number"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "cc-number"}),
    )


def add_service_error(form: forms.Form, error: ServiceError) -> None:
    if any(field in form.fields for field in error.fields):
        for field in error.fields:
            if field in form.fields:
                form.add_error(field, error.message)
    else:
        form.add_error(None, error.message)
