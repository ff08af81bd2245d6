"""The dossier builder's form."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .letters import request_choices
from .models import Addressee

DEFAULT_REQUESTS = ["stop_harassment", "stop_third_party", "identify_collector", "reply_in_writing"]


class DossierForm(forms.Form):
    addressee = forms.ChoiceField(
        label=_("Send to"), choices=Addressee.choices, initial=Addressee.ALIPAY, widget=forms.RadioSelect
    )
    addressee_name = forms.CharField(
        label=_("Recipient's name (for “Another recipient”)"), required=False, max_length=200
    )
    language = forms.ChoiceField(
        label=_("Language of the dossier"),
        initial=settings.LANGUAGE_CODE,
        widget=forms.RadioSelect,
        choices=settings.LANGUAGES,
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    requests = forms.MultipleChoiceField(
        label=_("What you ask for"),
        required=False,
        initial=DEFAULT_REQUESTS,
        widget=forms.CheckboxSelectMultiple,
    )
    request_text = forms.CharField(
        label=_("Other requests"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    # Everything in the period is included; ticking an incident leaves it out. (Sending the
    # excluded few rather than the included many keeps a 1,000-incident case under form limits.)
    exclude = forms.MultipleChoiceField(
        label=_("Leave out"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, incidents=(), language: str = settings.LANGUAGE_CODE, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["requests"].choices = request_choices(language)
        self.fields["exclude"].choices = [(str(pk), label) for pk, label in incidents]


class VerifyForm(forms.Form):
    file = forms.FileField(label=_("Dossier PDF or bundle (.zip)"))
