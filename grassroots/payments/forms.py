"""HTML forms: they shape the inputs; the services and the gateway decide what is valid."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class CardForm(forms.Form):
    card_number = forms.CharField(
        label=_("Card number"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "cc-number"}),
    )
