"""Forms of the follow-up pages: the notice, marking it sent, complaints sent, replies, deadlines."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.dates import validate_supported_date
from evidence.forms import OneTimeTokenMixin

from .deadlines import deadline_for
from .models import Addressee, AllowedChannel, Channel, Outcome

DATETIME_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
INPUT_FORMATS = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]


def local_datetime(label) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL_FORMAT),
        input_formats=INPUT_FORMATS,
        help_text=_("Your local time."),
        validators=[validate_supported_date],
    )


class NoticeForm(forms.Form):
    allowed_channel = forms.ChoiceField(
        label=_("The only way they may contact you"),
        choices=AllowedChannel.choices,
        initial=AllowedChannel.APP_MESSAGE,
    )
    hours_from = forms.TimeField(
        label=_("From"), initial="09:00", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    hours_until = forms.TimeField(
        label=_("Until"), initial="20:00", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    language = forms.ChoiceField(label=_("Language of the notice"), choices=settings.LANGUAGES)


class NoticeSentForm(OneTimeTokenMixin, forms.Form):
    """With a one-time token: the same form sent twice (a double tap, the offline outbox sending it
    when the network is back) is answered as already saved."""

    sent_at = local_datetime(_("When you sent it"))
    channel = forms.ChoiceField(
        label=_("How you sent it"), choices=Channel.choices, initial=Channel.ONLINE_CHAT
    )
    proof = forms.FileField(
        label=_("Screenshot or recording that shows it was sent"),
        required=False,
        help_text=_("Kept as evidence of the notice, with its SHA-256."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_once_token()


class ComplaintForm(OneTimeTokenMixin, forms.Form):
    addressee = forms.ChoiceField(
        label=_("Complained to"), choices=Addressee.choices, initial=Addressee.ALIPAY
    )
    addressee_name = forms.CharField(
        label=_("Recipient's name (another recipient)"), required=False, max_length=200
    )
    channel = forms.ChoiceField(label=_("How"), choices=Channel.choices, initial=Channel.PHONE)
    sent_at = local_datetime(_("When"))
    ticket_number = forms.CharField(
        label=_("Ticket number (工单号/受理编号)"),
        required=False,
        max_length=100,
        help_text=_("Ask for it on the phone; it is what a regulator asks for first."),
    )
    dossier = forms.TypedChoiceField(
        label=_("Dossier sent with it"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args, dossiers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dossier"].choices = [("", "—")] + [
            (d.pk, f"{d.number} · {d.get_addressee_display()}") for d in dossiers
        ]
        self.add_once_token()


class ReplyForm(OneTimeTokenMixin, forms.Form):
    received_at = local_datetime(_("When the reply came"))
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Outcome.choices)
    text = forms.CharField(
        label=_("What they replied"), widget=forms.Textarea(attrs={"rows": 4}), max_length=10_000
    )
    evidence = forms.FileField(
        label=_("Screenshot of the reply or recording of the call back"), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_once_token()


class DeadlineForm(forms.Form):
    deadline = forms.ChoiceField(label=_("Reply deadline"))

    def __init__(self, *args, addressee: str, language: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["deadline"].choices = [
            (o.code, o.label[language]) for o in deadline_for(addressee).options
        ]
