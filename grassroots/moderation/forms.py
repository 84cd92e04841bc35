"""Plain HTML forms for reporting and for curators' decisions."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from grassroots.moderation.models import DETAILS_MAX_LENGTH, REASON_MAX_LENGTH, ModerationAction, Report


class ReportForm(forms.Form):
    reason = forms.ChoiceField(label=_("What is wrong?"), choices=Report.Reason.choices, widget=forms.RadioSelect)
    details = forms.CharField(
        label=_("Details (optional)"),
        required=False,
        max_length=DETAILS_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class DecisionForm(forms.Form):
    action = forms.ChoiceField(choices=ModerationAction.Action.choices)
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required to hide, remove or suspend; the author sees it."),
    )
