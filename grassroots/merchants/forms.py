"""HTML forms: they shape the inputs; the services decide what is valid."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from grassroots.merchants.models import MerchantMember

DOCUMENT_ACCEPT = {"accept": "application/pdf,image/jpeg,image/png,image/webp,image/gif"}


class ApplicationForm(forms.Form):
    name = forms.CharField(label=_("Company or brand name"), max_length=120)
    brand_names = forms.CharField(
        label=_("Brands you sell"), max_length=255, required=False, help_text=_("Separate several with commas.")
    )
    contact_email = forms.EmailField(label=_("Contact email"))
    description = forms.CharField(
        label=_("About your business"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    business_licence = forms.FileField(
        label=_("Business licence (PDF or image)"), widget=forms.ClearableFileInput(attrs=DOCUMENT_ACCEPT)
    )
    brand_authorisation = forms.FileField(
        label=_("Brand authorisation (PDF or image)"), widget=forms.ClearableFileInput(attrs=DOCUMENT_ACCEPT)
    )


class ResubmitForm(forms.Form):
    business_licence = ApplicationForm.base_fields["business_licence"]
    brand_authorisation = ApplicationForm.base_fields["brand_authorisation"]
    note = forms.CharField(
        label=_("What changed (optional)"), widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000
    )


class MemberForm(forms.Form):
    email = forms.EmailField(label=_("Email of a registered user"))
    role = forms.ChoiceField(label=_("Role"), choices=MerchantMember.Role.choices, initial=MerchantMember.Role.STAFF)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000
    )
