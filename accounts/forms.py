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


def time_zone_groups():
    known = {name for name, _label in time_zone_choices()}
    common = [(zone, f"{label} · {_offset(zone)}") for zone, label in COMMON_ZONES if zone in known]
    chosen = {zone for zone, _label in common}
    rest = [(name, name) for name, _label in time_zone_choices() if name not in chosen]
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
        fields = ["display_name", "phone", "id_number", "time_zone", "language"]


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("Where you will use it, e.g. “Android HTTP Shortcuts”.")
    )
