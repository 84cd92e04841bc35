"""Form helpers shared by the apps' pages and admin: services decide what is valid, forms show it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms

from grassroots.core.errors import ServiceError, ValidationFailed


def add_service_error(form: forms.BaseForm, error: ServiceError) -> None:
    """Show a service's error next to the fields it names, or above the form."""
    placed = False
    for field in error.fields:
        if field in form.fields:
            form.add_error(field, error.message)
            placed = True
    if not placed:
        form.add_error(None, error.message)


class ServiceCleanedModelForm(forms.ModelForm):
    """An admin form whose editable fields the owning app's service cleans, so staff edits follow
    the owners' rules. Subclasses return the values to store from `clean_with_service`."""

    def clean_with_service(self, data: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        super().clean()
        if not self.errors:  # the fields' own errors first
            try:
                self.cleaned_data.update(self.clean_with_service(self.cleaned_data))
            except ValidationFailed as exc:
                add_service_error(self, exc)
        return self.cleaned_data
