"""The time complaint deadlines are measured against."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime


def now() -> datetime:
    """The real time, unless FOLLOWUP_NOW (an aware datetime or ISO string; a Django setting, never
    read from the environment) stands in for it: tests and demonstrations that move the clock past
    a reply deadline set it. Only deadlines, reminders and the follow-up facts a dossier states read
    it; nothing else in the app does."""
    fixed = getattr(settings, "FOLLOWUP_NOW", None)
    if fixed:
        moment = parse_datetime(fixed) if isinstance(fixed, str) else fixed
        if moment is not None and timezone.is_aware(moment):
            return moment
    return timezone.now()
