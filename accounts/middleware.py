"""Activate each user's language and time zone: their profile when logged in, else the cookie.

Chinese is the default. The browser's Accept-Language is not consulted: a shared or borrowed phone
should not decide the language of a complaint tool; the switch in the header does.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone, translation

from .models import language_codes
from .services import profile_for


class UserPreferencesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if request.user.is_authenticated:
            profile = profile_for(request.user)
            language = profile.language
            timezone.activate(profile.tz)
        else:
            timezone.deactivate()
        if language not in language_codes():
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response
