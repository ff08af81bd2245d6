"""The case page's follow-up panel (notice → complaints → replies → escalation, and the dossiers
built), drawn by this app into the evidence app's case page without the evidence app importing it."""

from __future__ import annotations

from django import template
from django.utils import timezone

from evidence.selectors import current_language

from ..followup import case_progress

register = template.Library()


@register.inclusion_tag("complaints/_case_followup.html", takes_context=True)
def case_followup(context, case):
    return {
        "case": case,
        # The page is the owner's: their time zone is the active one.
        "progress": case_progress(case=case, language=current_language(), tz=timezone.get_current_timezone()),
        "request": context.get("request"),
    }
