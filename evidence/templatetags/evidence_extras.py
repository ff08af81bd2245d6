"""Small presentation filters for evidence pages."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..models import Case, Contacted, Flag, Incident, IncidentKind

register = template.Library()


@register.filter
def quote_offset(seconds) -> str:
    """133 → "02:13": where a quote is in its recording."""
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def _span(seconds: int) -> str:
    """6 hours 31 minutes; the two largest units, so a reader sees the size at a glance."""
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(ngettext("%(n)d day", "%(n)d days", days) % {"n": days})
    if hours:
        parts.append(ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours})
    if minutes and not days:
        parts.append(ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes})
    if not parts:
        return _("less than a minute")
    return " ".join(parts[:2])


@register.filter
def logged_after(logged_at, occurred_at) -> str:
    """ "logged 6 hours 31 minutes after it happened" (logged_at|logged_after:occurred_at)."""
    if not logged_at or not occurred_at:
        return ""
    seconds = int((logged_at - occurred_at).total_seconds())
    if seconds < 0:
        return _("logged %(span)s before the time given for it") % {"span": _span(-seconds)}
    if seconds < 60:
        return _("logged as it happened")
    return _("logged %(span)s after it happened") % {"span": _span(seconds)}


@register.simple_tag
def upload_limit() -> int:
    return settings.EVIDENCE_MAX_UPLOAD_BYTES


@register.simple_tag(takes_context=True)
def nav_case(context):
    """The case the bottom navigation points to: the page's own, else the one last written to."""
    case = context.get("case")
    if case is not None and getattr(case, "pk", None):
        return case
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    latest = (
        Incident.objects.filter(case__owner=user)
        .order_by("-logged_at")
        .values_list("case_id", flat=True)
        .first()
    )
    cases = Case.objects.for_owner(user)
    return (cases.filter(pk=latest).first() if latest else None) or cases.order_by("-created_at").first()


# --- a readable history -------------------------------------------------------------------------------


def _field_label(name: str) -> str:
    try:
        return str(Incident._meta.get_field(name).verbose_name)
    except Exception:  # noqa: BLE001 - a field recorded by an older version
        return name


def _local_time(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if timezone.is_naive(moment):
        return text
    return date_format(timezone.localtime(moment), "Y-m-d H:i:s")


def _value(field: str, value) -> str:
    if value is None or value == "" or value == []:
        return "—"
    choices = {"contacted": Contacted, "flags": Flag, "kind": IncidentKind}.get(field)
    if field == "occurred_at" and isinstance(value, str):
        return _local_time(value)
    if field == "answered" and isinstance(value, bool):
        return _("yes") if value else _("no")
    if field == "duration_seconds" and isinstance(value, int):
        return quote_offset(value)
    if field == "quotes" and isinstance(value, list):
        return "；".join(f"「{q.get('text', '')}」" for q in value if isinstance(q, dict))
    if choices is not None:
        items = value if isinstance(value, list) else [value]
        return "、".join(str(choices(v).label) if v in choices.values else str(v) for v in items)
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


@register.filter
def readable_changes(payload) -> list[dict]:
    """An amendment's before/after as [{"label", "before", "after"}] in the reader's language: field
    names from the model, choices by their labels, times in the local time zone."""
    if not isinstance(payload, dict):
        return []
    before, after = payload.get("before") or {}, payload.get("after") or {}
    rows = []
    for field in after:
        rows.append(
            {
                "label": _field_label(field),
                "before": _value(field, before.get(field)),
                "after": _value(field, after.get(field)),
            }
        )
    return rows


@register.filter
def readable_time(text) -> str:
    """An ISO time kept in an audit payload, in the local time zone."""
    return _local_time(text) if isinstance(text, str) else ""


@register.filter
def needs_110(incident) -> bool:
    """Threats, violence or someone entering the home: the page says to call 110."""
    return bool({"threat", "violence", "entered_home"} & set(getattr(incident, "flags", None) or []))
