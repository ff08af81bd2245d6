"""Forms for people. clean_<field> returns domain types, so views get clean data."""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime

from django import forms
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from core.dates import validate_supported_date

from .carrier import clean_mapping
from .models import Case, Contacted, Creditor, Flag, Incident, IncidentKind
from .phone_logs import DEFAULT_KINDS, sample_reading
from .rules import available_packs
from .selectors import current_language

# The values <input type="date"> and <input type="datetime-local"> require, whatever the language: a
# localised value ("2026/11/30 06:11" in Chinese) is shown as empty, and saving the form loses it.
DATE_FORMAT = "%Y-%m-%d"
DATETIME_LOCAL_FORMAT = "%Y-%m-%dT%H:%M:%S"

# The hidden one-time token of a create form: the same form posted twice (Back + Save, a double
# tap) saves once (accounts.idempotency.form_once).
ONCE_FIELD = "once"
_ONCE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def date_input(**attrs) -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date", **attrs}, format=DATE_FORMAT)


class OneTimeTokenMixin:
    """Adds the hidden one-time token; it never reaches cleaned_data."""

    def add_once_token(self) -> None:
        self.fields[ONCE_FIELD] = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
        self.initial.setdefault(ONCE_FIELD, secrets.token_urlsafe(16))

    @property
    def once_token(self) -> str:
        """The token posted with the form ("" without one, or with one this page never makes)."""
        if ONCE_FIELD not in self.fields or not self.is_bound:
            return ""
        token = (self.data.get(ONCE_FIELD) or "").strip()
        return token if _ONCE_TOKEN.match(token) else ""

    def clean(self):
        data = super().clean()
        data.pop(ONCE_FIELD, None)
        return data


def rule_pack_choices():
    language = current_language()
    return [(pack.id, pack.name[language]) for pack in available_packs().values()]


class CaseForm(OneTimeTokenMixin, forms.ModelForm):
    rule_pack = forms.ChoiceField(
        label=_("Rules to check against"),
        choices=rule_pack_choices,
        required=False,
        initial="cn",
        help_text=_("The jurisdiction whose collection rules are checked."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # "Please choose" rather than Django's "---------" as the creditor list's empty entry.
        self.fields["creditor"].choices = [("", _("Please choose")), *Creditor.choices]
        if self.instance.pk is None:
            self.add_once_token()

    def clean_rule_pack(self) -> str:
        return self.cleaned_data.get("rule_pack") or "cn"

    class Meta:
        model = Case
        fields = [
            "title",
            "creditor",
            "period_start",
            "lender_name",
            "account_hint",
            "collectors",
            "rule_pack",
            "notes",
        ]
        help_texts = {
            "period_start": _(
                "The day the debt began (the first bill or loan). Imports leave out entries before it, "
                "and a dossier starts there."
            )
        }
        widgets = {
            "period_start": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "collectors": forms.Textarea(attrs={"rows": 3}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }


# Which fields each kind of incident asks for, and which "what they did" flags make sense for it.
# Data, not branches: a new kind is a new entry here.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    IncidentKind.CALL: (
        "occurred_at",
        "duration",
        "answered",
        "counterpart_number",
        "counterpart_name",
        "agency",
        "contacted",
        "flags",
        "description",
        "quotes",
    ),
    IncidentKind.SMS: (
        "occurred_at",
        "counterpart_number",
        "counterpart_name",
        "agency",
        "contacted",
        "flags",
        "description",
    ),
    IncidentKind.VISIT: (
        "occurred_at",
        "duration",
        "visitors",
        "place",
        "location",
        "counterpart_name",
        "agency",
        "contacted",
        "flags",
        "description",
        "quotes",
    ),
    IncidentKind.THIRD_PARTY: (
        "occurred_at",
        "contacted",
        "counterpart_number",
        "counterpart_name",
        "agency",
        "flags",
        "description",
        "quotes",
    ),
    IncidentKind.LETTER: ("occurred_at", "counterpart_name", "agency", "flags", "description"),
    IncidentKind.APP_MESSAGE: (
        "occurred_at",
        "counterpart_name",
        "agency",
        "contacted",
        "flags",
        "description",
    ),
    IncidentKind.OTHER: (
        "occurred_at",
        "duration",
        "counterpart_number",
        "counterpart_name",
        "agency",
        "contacted",
        "flags",
        "description",
        "quotes",
    ),
}
KIND_FLAGS: dict[str, tuple[str, ...]] = {
    IncidentKind.VISIT: tuple(Flag.values),
}
DEFAULT_FLAGS = tuple(f for f in Flag.values if f not in (Flag.ENTERED_HOME,))

_DURATION = re.compile(r"^(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>[0-5]?\d)$")
_QUOTE = re.compile(
    r"^\s*(?:(?:(?P<h>[0-9]{1,2}):)?(?P<m>[0-9]{1,3}):(?P<s>[0-5][0-9])\s+)?(?P<text>.+?)\s*$"
)


def parse_quotes(raw: str) -> list[dict]:
    """ "02:13 明天去你单位" lines → [{"at": 133, "text": "明天去你单位"}]; a line without a time has at None."""
    quotes = []
    for line in raw.splitlines():
        match = _QUOTE.match(line)
        if not match or not match["text"].strip():
            continue
        at = None
        if match["m"] is not None:
            at = int(match["h"] or 0) * 3600 + int(match["m"]) * 60 + int(match["s"])
        quotes.append({"at": at, "text": match["text"].strip().strip('「」“”"')})
    return quotes


def format_quotes(quotes: list[dict]) -> str:
    return "\n".join(
        (f"{q['at'] // 60:02d}:{q['at'] % 60:02d} " if q.get("at") is not None else "") + q["text"]
        for q in quotes or []
    )


class IncidentForm(OneTimeTokenMixin, forms.Form):
    occurred_at = forms.DateTimeField(
        label=_("When"),
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "step": "1"}, format=DATETIME_LOCAL_FORMAT
        ),
        input_formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"],
        help_text=_("Your local time."),
        validators=[validate_supported_date],
    )
    duration = forms.CharField(
        label=_("How long"),
        required=False,
        max_length=12,
        help_text=_("Seconds, or minutes:seconds such as 3:25."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "3:25"}),
    )
    answered = forms.NullBooleanField(
        label=_("Did you answer?"), required=False, widget=forms.NullBooleanSelect
    )
    visitors = forms.IntegerField(label=_("How many people came"), required=False, min_value=0, max_value=99)
    counterpart_number = forms.CharField(
        label=_("Their number"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
    )
    counterpart_name = forms.CharField(label=_("Name they gave"), required=False, max_length=100)
    agency = forms.CharField(label=_("Agency or company"), required=False, max_length=200)
    contacted = forms.MultipleChoiceField(
        label=_("Who was contacted"),
        required=False,
        choices=Contacted.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    flags = forms.MultipleChoiceField(
        label=_("What they did"), required=False, choices=Flag.choices, widget=forms.CheckboxSelectMultiple
    )
    description = forms.CharField(
        label=_("What happened"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Their words as exactly as you remember them."),
    )

    quotes = forms.CharField(
        label=_("Their exact words, with where they are in the recording"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "02:13 明天去你单位"}),
        help_text=_("One quote a line; start with the minute:second in the recording if there is one."),
    )

    # Where a visit happened: typed, and the phone's position when the person allows it (the visit
    # page's "Add my location" button, static/js/location.js); neither is ever required.
    place = forms.CharField(
        label=_("Where it happened"),
        required=False,
        max_length=300,
        help_text=_("The address, as exactly as you can (building, unit, room)."),
    )
    location = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    # Only on the log form (attach=True): kept as evidence of the new incident when it is saved.
    attachment = forms.FileField(
        label=_("Recording or screenshot"),
        required=False,
        widget=forms.FileInput,
        help_text=_("Optional. Kept with its SHA-256 when you save; the time in it can be used above."),
    )

    def __init__(self, *args, kind: str, attach: bool = False, **kwargs):
        """`attach`: a new entry, with the optional file and the one-time token."""
        super().__init__(*args, **kwargs)
        self.kind = kind
        wanted = KIND_FIELDS[kind]
        if attach:  # the file right under "When", whose value its time can replace
            at = wanted.index("occurred_at") + 1 if "occurred_at" in wanted else 0
            wanted = (*wanted[:at], "attachment", *wanted[at:])
        for name in list(self.fields):
            if name not in wanted:
                del self.fields[name]
        if "flags" in self.fields:
            allowed = KIND_FLAGS.get(kind, DEFAULT_FLAGS)
            self.fields["flags"].choices = [(v, label) for v, label in Flag.choices if v in allowed]
        if "answered" in self.fields:
            self.fields["answered"].widget.choices = [
                ("unknown", _("Not stated")),
                ("true", _("Answered")),
                ("false", _("Not answered")),
            ]
        if kind == IncidentKind.THIRD_PARTY:
            self.fields["contacted"].label = _("Whom did they contact")
        self.order_fields(wanted)
        if attach:
            self.add_once_token()

    def clean_occurred_at(self):
        """An untouched time stays exactly as it was: the input shows whole seconds, a stored time
        may carry microseconds (from the API or a phone's clock)."""
        value = self.cleaned_data.get("occurred_at")
        before = self.initial.get("occurred_at")
        if value is None or not isinstance(before, datetime):
            return value
        if timezone.is_naive(before):
            try:
                before = timezone.make_aware(before)
            except ValueError:  # a local time a clock change skips or repeats
                return value
        return before if value == before.replace(microsecond=0) else value

    def clean_duration(self) -> int | None:
        raw = (self.cleaned_data.get("duration") or "").strip()
        if not raw:
            return None
        if raw.isdigit():
            return int(raw)
        match = _DURATION.match(raw)
        if not match:
            raise forms.ValidationError(_("Write seconds (95) or minutes:seconds (1:35)."))
        return int(match["h"] or 0) * 3600 + int(match["m"]) * 60 + int(match["s"])

    def clean_quotes(self) -> list[dict]:
        return parse_quotes(self.cleaned_data.get("quotes") or "")

    def clean_location(self) -> dict | None:
        """The hidden field's JSON ({"lat", "lon", "accuracy_m"}) as a dict; the service checks it."""
        raw = (self.cleaned_data.get("location") or "").strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise forms.ValidationError(
                _("The location could not be read. Add it again, or type the address.")
            )
        return value

    def incident_fields(self) -> dict:
        """Cleaned data named as the Incident model names it."""
        data = dict(self.cleaned_data)
        data.pop("attachment", None)
        if "duration" in data:
            data["duration_seconds"] = data.pop("duration")
        return data

    @classmethod
    def initial_from(cls, incident: Incident) -> dict:
        data = {
            name: getattr(incident, name)
            for name in (
                "occurred_at",
                "answered",
                "visitors",
                "counterpart_number",
                "counterpart_name",
                "agency",
                "contacted",
                "flags",
                "description",
            )
        }
        # Aware, so that clean_occurred_at can tell an untouched time to the microsecond; the field
        # shows it in the current time zone.
        # A time not yet known stays empty: the person must set it, nothing is guessed.
        data["occurred_at"] = timezone.localtime(incident.occurred_at) if incident.occurred_at else None
        data["duration"] = str(incident.duration_seconds) if incident.duration_seconds is not None else ""
        data["quotes"] = format_quotes(incident.quotes)
        data["place"] = incident.place
        data["location"] = json.dumps(incident.location) if incident.location else ""
        return data


class TimelineFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All kinds"))] + list(IncidentKind.choices)
    )
    violations = forms.BooleanField(label=_("Suspected violations only"), required=False)
    rule = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=date_input(), validators=[validate_supported_date]
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=date_input(), validators=[validate_supported_date]
    )
    q = forms.CharField(
        label=_("Words"),
        required=False,
        max_length=100,
        help_text=_("Also found in the text read from screenshots."),
        widget=forms.TextInput(attrs={"type": "search"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Call or message log export"),
        help_text=_(
            "calls.xml or sms.xml from SMS Backup & Restore (Android), an iMazing call CSV (iPhone), or "
            "your carrier's call-detail record (通话详单, .xlsx or .csv)."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".xml,.csv,.xlsx,text/xml,text/csv"}),
    )


class ImportChoiceForm(forms.Form):
    numbers = forms.MultipleChoiceField(
        label=_("Numbers to import"), required=False, widget=forms.CheckboxSelectMultiple
    )
    kinds = forms.MultipleChoiceField(
        label=_("Kinds to import"), required=True, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, summary: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["numbers"].choices = [
            (p["number"], p["number"] or _("(hidden number)")) for p in summary["counterparts"]
        ]
        self.fields["kinds"].choices = IMPORT_KIND_LABELS
        if not self.is_bound:
            self.initial["numbers"] = [p["number"] for p in summary["counterparts"] if p["known"]]
            self.initial["kinds"] = list(DEFAULT_KINDS)
        # Dates such as 02/06/17 read either way: the person says which, the detected order first.
        order = summary.get("date_order") or {}
        if order.get("ambiguous"):
            self.fields["date_order"] = forms.ChoiceField(
                label=_("Dates in this file"),
                choices=[
                    (
                        "mdy",
                        _("Month first (US): %(sample)s is %(reading)s") % _readings(order["sample"], "mdy"),
                    ),
                    ("dmy", _("Day first: %(sample)s is %(reading)s") % _readings(order["sample"], "dmy")),
                ],
                initial=order["order"],
                help_text=_(
                    "No date in this file shows whether the day or the month comes first. Pick the "
                    "order your phone writes dates in."
                ),
            )

    def clean_numbers(self):
        numbers = self.cleaned_data["numbers"]
        if not numbers:
            raise forms.ValidationError(_("Pick at least one number to import."))
        return numbers


def _readings(sample: str, order: str) -> dict:
    """The sample date of an ambiguous export, and what it means in `order`."""
    day = sample_reading(sample, order)
    return {"sample": sample, "reading": date_format(day, "DATE_FORMAT") if day else "?"}


IMPORT_KIND_LABELS = [
    ("incoming", _("Incoming calls")),
    ("missed", _("Missed calls")),
    ("rejected", _("Rejected or blocked calls")),
    ("outgoing", _("Calls I made")),
    ("sms_received", _("Messages received")),
    ("sms_sent", _("Messages I sent")),
]


class CarrierMappingForm(forms.Form):
    """Which column of a carrier's call record holds what: one choice per column header, asked once
    for columns that were not recognised and remembered for files with the same columns."""

    FIELD_CHOICES = [
        ("ignore", _("(not used)")),
        ("number", _("Their number")),
        ("start", _("Start time")),
        ("duration", _("Duration")),
        ("direction", _("Direction (主叫/被叫)")),
        ("type", _("Call type")),
    ]

    def __init__(self, *args, headers: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = [h for h in headers if h]
        for index, header in enumerate(self.headers):
            self.fields[f"column_{index}"] = forms.ChoiceField(
                label=header, choices=self.FIELD_CHOICES, required=False, initial="ignore"
            )

    def clean(self):
        data = super().clean()
        raw = {header: data.get(f"column_{i}") or "ignore" for i, header in enumerate(self.headers)}
        try:
            data["mapping"] = clean_mapping(raw)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        if not {"number", "start"} <= set(data["mapping"].values()):
            raise forms.ValidationError(
                _("Choose at least the column of their number and of the start time.")
            )
        return data


class ProposalForm(forms.Form):
    """The entries read from a screenshot, each with a tick, the flags suggested for it, and a time
    to set when none could be read for sure."""

    def __init__(self, *args, items: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.items = items
        flag_choices = [(value, label) for value, label in Flag.choices]
        for item in items:
            index = item["index"]
            self.fields[f"pick_{index}"] = forms.BooleanField(
                required=False,
                initial=not item["logged"]
                and not item["uncertain"]
                and item["direction"] not in ("sent", "outgoing"),
                disabled=bool(item["logged"]),
            )
            self.fields[f"flags_{index}"] = forms.MultipleChoiceField(
                required=False,
                choices=flag_choices,
                initial=item["flags"],
                widget=forms.CheckboxSelectMultiple,
            )
            self.fields[f"at_{index}"] = forms.DateTimeField(
                required=False,
                initial=item["at"],
                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                validators=[validate_supported_date],
            )

    def rows(self):
        return [
            (item, self[f"pick_{item['index']}"], self[f"flags_{item['index']}"], self[f"at_{item['index']}"])
            for item in self.items
        ]

    def chosen(self) -> list[dict]:
        """The ticked items as the person confirmed them."""
        picked = []
        for item in self.items:
            index = item["index"]
            if item["logged"] or not self.cleaned_data.get(f"pick_{index}"):
                continue
            at = self.cleaned_data.get(f"at_{index}") or item["at"]
            picked.append({**item, "flags": self.cleaned_data.get(f"flags_{index}") or [], "at": at})
        return picked
