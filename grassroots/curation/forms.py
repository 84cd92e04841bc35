"""Plain HTML forms for the curator pages; files are read from request.FILES by the views."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from grassroots.curation.models import ProductReport, StageDecision


class DecisionForm(forms.Form):
    stage_code = forms.CharField(widget=forms.HiddenInput, max_length=40)
    decision = forms.ChoiceField(label=_("Decision"), choices=StageDecision.Decision.choices, widget=forms.RadioSelect)
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Required to request changes or reject; the merchant sees them."),
    )


class SuspendForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class ResolveForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[(ProductReport.State.DISMISSED, _("Dismiss")), (ProductReport.State.ACTIONED, _("Actioned"))],
        widget=forms.RadioSelect,
    )
    resolution = forms.CharField(label=_("Resolution"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class ReportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What is wrong?"), choices=ProductReport.Kind.choices, widget=forms.RadioSelect)
    description = forms.CharField(
        label=_("Describe the problem"), max_length=2000, widget=forms.Textarea(attrs={"rows": 5})
    )


class StageCreateForm(forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=40)
    name_en = forms.CharField(label=_("Name (English)"), max_length=80)
    name_zh = forms.CharField(label=_("Name (Chinese)"), max_length=80, required=False)
    description = forms.CharField(label=_("Description"), max_length=1000, required=False)


class StageUpdateForm(forms.Form):
    name_en = forms.CharField(label=_("Name (English)"), max_length=80)
    name_zh = forms.CharField(label=_("Name (Chinese)"), max_length=80, required=False)
    description = forms.CharField(label=_("Description"), max_length=1000, required=False)
    is_active = forms.BooleanField(label=_("Active"), required=False)
