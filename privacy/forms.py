from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class HoldForm(forms.Form):
    reason = forms.CharField(
        label=_("Why"),
        max_length=200,
        help_text=_("For example: lawsuit pending at the district court."),
    )
