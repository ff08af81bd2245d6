"""Activate each user's language and time zone: their profile when logged in, else the cookie.

Chinese is the default. The browser's Accept-Language is not consulted: a shared or borrowed phone
should not decide the language of a complaint tool; the switch in the header does.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone, translation

from .app_manifest import DISCREET_COOKIE, DISCREET_VALUE, remember_discreet
from .models import language_codes
from .services import profile_for


class UserPreferencesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        # Discreet mode: the profile's choice when logged in; else what this device last saw, so the
        # login page of a phone in discreet mode says "Notes" too (accounts/app_manifest.py).
        remembered = request.COOKIES.get(DISCREET_COOKIE) == DISCREET_VALUE
        request.discreet = remembered
        if request.user.is_authenticated:
            profile = profile_for(request.user)
            language = profile.language
            timezone.activate(profile.tz)
            request.discreet = profile.discreet
        else:
            timezone.deactivate()
        if language not in language_codes():
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        if request.discreet != remembered:
            remember_discreet(response, on=request.discreet, secure=request.is_secure())
        return response
