"""Forms for accounts. They parse and map; the services validate."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from .models import Profile, time_zone_choices


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
    time_zone = forms.ChoiceField(label=_("time zone"), choices=time_zone_choices)

    class Meta:
        model = Profile
        fields = ["display_name", "phone", "id_number", "time_zone", "language"]


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("Where you will use it, e.g. “Android HTTP Shortcuts”.")
    )
