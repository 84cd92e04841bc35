"""Forms only parse input; the services validate it and their errors are shown on the fields."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from grassroots.core.errors import ServiceError

MACHINE_CODE = re.compile(r"[a-z_]+")


class SignupForm(forms.Form):
    email = forms.CharField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    display_name = forms.CharField(
        label=_("Display name"), max_length=60, widget=forms.TextInput(attrs={"autocomplete": "nickname"})
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters, not a common password."),
    )
    invite_code = forms.CharField(label=_("Invite code (optional)"), max_length=32, required=False)


class LoginForm(forms.Form):
    email = forms.CharField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class ProfileForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=60)
    bio = forms.CharField(label=_("Bio"), max_length=280, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    # A plain FileField: the service judges the content (ImageField would trust Pillow's guess twice).
    avatar = forms.FileField(
        label=_("Avatar"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}),
    )


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Token name"), max_length=60, widget=forms.TextInput(attrs={"placeholder": _("e.g. my laptop")})
    )


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    new_password = forms.CharField(
        label=_("New password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    new_password_again = forms.CharField(
        label=_("New password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if cleaned.get("new_password") != cleaned.get("new_password_again"):
            self.add_error("new_password_again", _("The two passwords differ."))
        return cleaned


def show_service_error(form: forms.Form, exc: ServiceError) -> None:
    """Put a service's field errors on the matching form fields, the rest on the form."""
    placed = False
    for field, message in exc.fields.items():
        if field in form.fields:
            # Some core errors give a machine code per field (e.g. "not_an_image"); people get the message.
            text = str(message)
            form.add_error(field, exc.message if MACHINE_CODE.fullmatch(text) else text)
            placed = True
    if not placed:
        form.add_error(None, exc.message)
