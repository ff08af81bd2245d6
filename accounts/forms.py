"""Forms for accounts. They parse and map; the services validate."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from .models import Profile, time_zone_choices

# The zones most users of this site live in, first and in words; every other IANA zone follows, and
# the page's script adds a search box over them all (static/js/app.js, select[data-search]).
COMMON_ZONES = (
    ("Asia/Shanghai", _("Mainland China (Beijing time)")),
    ("Asia/Hong_Kong", _("Hong Kong")),
    ("Asia/Macau", _("Macao")),
    ("Asia/Taipei", _("Taiwan")),
    ("Asia/Singapore", _("Singapore")),
    ("Asia/Kuala_Lumpur", _("Malaysia")),
    ("Asia/Tokyo", _("Japan")),
    ("Asia/Seoul", _("South Korea")),
    ("Europe/London", _("United Kingdom")),
    ("America/New_York", _("US Eastern time")),
    ("America/Los_Angeles", _("US Pacific time")),
    ("Australia/Sydney", _("Sydney")),
    ("UTC", "UTC"),
)


def _offset(zone: str) -> str:
    raw = datetime.now(ZoneInfo(zone)).strftime("%z")
    return f"UTC{raw[:3]}:{raw[3:]}" if raw not in ("+0000", "") else "UTC"


# The first part of an IANA name, in words; the place after it is a city people can search for.
ZONE_REGIONS = {
    "Africa": _("Africa"),
    "America": _("Americas"),
    "Antarctica": _("Antarctica"),
    "Arctic": _("Arctic"),
    "Asia": _("Asia"),
    "Atlantic": _("Atlantic Ocean"),
    "Australia": _("Australia"),
    "Europe": _("Europe"),
    "Indian": _("Indian Ocean"),
    "Pacific": _("Pacific Ocean"),
}


def zone_label(zone: str) -> str:
    """ "Africa/Abidjan" → "Abidjan（非洲）· UTC+00:00": the place, its region in words and the offset,
    never the raw name alone."""
    region, _slash, place = zone.partition("/")
    if region in ZONE_REGIONS and place:
        words = place.replace("/", " / ").replace("_", " ")
        text = _("%(place)s (%(region)s)") % {"place": words, "region": ZONE_REGIONS[region]}
    else:
        text = zone.replace("_", " ")
    return f"{text} · {_offset(zone)}"


def time_zone_groups():
    known = {name for name, _label in time_zone_choices()}
    common = [(zone, f"{label} · {_offset(zone)}") for zone, label in COMMON_ZONES if zone in known]
    chosen = {zone for zone, _label in common}
    rest = [(name, zone_label(name)) for name, _label in time_zone_choices() if name not in chosen]
    return [(_("Common"), common), (_("All time zones"), rest)]


class SignupForm(UserCreationForm):
    email = forms.EmailField(label=_("E-mail (for password reset)"), required=False)
    invite_code = forms.CharField(
        label=_("Invite code"),
        max_length=40,
        help_text=_("The code you were given by the organisation running this site."),
    )

    def __init__(self, *args, invite: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not invite:
            del self.fields["invite_code"]

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")


class ProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        label=_("time zone"),
        choices=time_zone_groups,
        widget=forms.Select(attrs={"data-search": _("Search, e.g. Shanghai or 8")}),
        help_text=_("Times you enter and see are in this zone."),
    )

    class Meta:
        model = Profile
        fields = [
            "display_name",
            "phone",
            "id_number",
            "time_zone",
            "language",
            "reminders_by_email",
            "discreet",
        ]


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("Where you will use it, e.g. “Android HTTP Shortcuts”.")
    )


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        if self.user is None or not self.user.check_password(password):
            raise forms.ValidationError(_("The password is not correct."))
        return password


class RecoverForm(forms.Form):
    username = forms.CharField(
        label=_("Username"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"})
    )
    code = forms.CharField(
        label=_("Recovery code"),
        max_length=64,
        help_text=_("One of the codes you saved when you signed up, e.g. 7K2M-Q9XD-4HTP-WB3N."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize": "characters"}),
    )
    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label=_("New password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("new_password1") and data.get("new_password1") != data.get("new_password2"):
            self.add_error("new_password2", _("The two passwords differ."))
        return data


class EmailChangeForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail"), help_text=_("We send a link to this address; it is used once you open the link.")
    )


class PinForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    pin = forms.CharField(
        label=_("PIN (4 to 8 digits)"),
        max_length=8,
        required=False,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=_("Leave empty and save to turn the lock off."),
    )
    lock_minutes = forms.IntegerField(
        label=_("Ask for it after this many minutes away"), min_value=1, max_value=240
    )
