"""The dossier builder's form."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.dates import validate_supported_date

from .letters import (
    addressee_kind,
    default_requests,
    full_id_allowed,
    request_choices,
    requests_for,
    scope_warnings,
)
from .models import Addressee


class RequestsWidget(forms.CheckboxSelectMultiple):
    """Each request says which kinds of recipient it is for, and whether it is ticked by default, so
    the page shows the police only police requests (static/js/app.js)."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        kinds = [
            kind for kind in ("institution", "regulator", "police", "other") if value in requests_for(kind)
        ]
        option["attrs"]["data-for"] = " ".join(kinds)
        option["attrs"]["data-default"] = " ".join(k for k in kinds if value in default_requests(k))
        return option


class AddresseeWidget(forms.RadioSelect):
    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["attrs"]["data-kind"] = addressee_kind(value)
        option["attrs"]["data-full-id"] = "1" if full_id_allowed(value) else ""
        return option


class DossierForm(forms.Form):
    addressee = forms.ChoiceField(
        label=_("Send to"), choices=Addressee.choices, initial=Addressee.ALIPAY, widget=AddresseeWidget
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
    # The ISO value <input type="date"> requires, in every language (not the localised 2026/11/30).
    date_from = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[validate_supported_date],
    )
    date_to = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[validate_supported_date],
    )
    requests = forms.MultipleChoiceField(
        label=_("What you ask for"),
        required=False,
        initial=default_requests("institution"),
        widget=RequestsWidget,
    )
    # The complaint an escalation follows (a regulator asks what the institution did).
    earlier_date = forms.DateField(
        label=_("Date of your earlier complaint"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[validate_supported_date],
    )
    earlier_channel = forms.CharField(
        label=_("Where you complained (e.g. 95188 phone, Alipay chat)"), required=False, max_length=200
    )
    earlier_ticket = forms.CharField(
        label=_("Ticket number (工单号/受理编号)"), required=False, max_length=100
    )
    earlier_reply = forms.CharField(
        label=_("Their reply (leave empty if none)"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    full_id_number = forms.BooleanField(
        label=_("Print my full ID number (only the police and a written regulator complaint need it)"),
        required=False,
    )
    request_text = forms.CharField(
        label=_("Other requests"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    # Where the person lives: the police report states it, and a letter asking for a written reply
    # gives it as the address for that reply.
    contact_address = forms.CharField(
        label=_("Your address (for a written reply; the police report states it)"),
        required=False,
        max_length=300,
    )
    police_station = forms.CharField(
        label=_("Police station to report to (e.g. 渝北区公安分局龙溪派出所)"), required=False, max_length=200
    )
    harm = forms.CharField(
        label=_("How this has harmed you and your family (in your own words)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    # Everything in the period is included; ticking an incident leaves it out. (Sending the
    # excluded few rather than the included many keeps a 1,000-incident case under form limits.)
    exclude = forms.MultipleChoiceField(
        label=_("Leave out"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, incidents=(), language: str = settings.LANGUAGE_CODE, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["requests"].choices = request_choices(language)
        self.scope_warnings = scope_warnings(language)
        self.fields["exclude"].choices = [(str(pk), label) for pk, label in incidents]

    def earlier_complaint(self) -> dict:
        data = self.cleaned_data
        day = data.get("earlier_date")
        return {
            "date": day.isoformat() if day else "",
            "channel": data.get("earlier_channel", ""),
            "ticket": data.get("earlier_ticket", ""),
            "reply": data.get("earlier_reply", ""),
        }


class VerifyForm(forms.Form):
    file = forms.FileField(label=_("Dossier PDF or bundle (.zip)"))
