"""Small presentation filters for evidence pages."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..merging import source_shown
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
    """An ISO time ("2026-12-07T14:47:30+00:00") as a person reads it, in the local time zone. A time
    without an offset (read from a file name) is already the owner's local time and stays as read."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return human_datetime(moment if timezone.is_naive(moment) else timezone.localtime(moment))


def human_datetime(moment: datetime) -> str:
    """2026年12月7日 22:47:30 in Chinese, Dec. 7, 2026 22:47:30 in English: never the ISO form."""
    # Translators: a Django date format for a date and time shown to people; Chinese: Y年n月j日 H:i:s
    return date_format(moment, _("N j, Y H:i:s"))


@register.filter
def human_time(value) -> str:
    """A time kept as ISO text (EXIF, a file name) or a datetime, as people write it."""
    if isinstance(value, datetime):
        return human_datetime(timezone.localtime(value) if timezone.is_aware(value) else value)
    return _local_time(value) if isinstance(value, str) and value else ""


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
def source_words(source) -> str:
    """A source kept in an audit payload ({"kind", "ref"}) in words: 手机通话记录（来电）第1条."""
    if not isinstance(source, dict):
        return ""
    shown = source_shown(source)
    return shown["label"] if shown["file"] else shown["ref"] or shown["label"]


@register.filter
def needs_110(incident) -> bool:
    """Threats, violence or someone entering the home: the page says to call 110."""
    return bool({"threat", "violence", "entered_home"} & set(getattr(incident, "flags", None) or []))


@register.filter
def duration(seconds) -> str:
    """150 → "2分30秒" (2 min 30 s): a length a person reads at a glance, not a count of seconds."""
    try:
        seconds = max(0, int(seconds))
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return _("%(h)d h %(m)d min %(s)d s") % {"h": hours, "m": minutes, "s": seconds}
    if minutes and not seconds:
        return _("%(m)d min") % {"m": minutes}
    if minutes:
        return _("%(m)d min %(s)d s") % {"m": minutes, "s": seconds}
    return _("%(s)d s") % {"s": seconds}


CHINA_ZONES = ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "Asia/Urumqi", "PRC")


@register.filter
def zone_name(zone) -> str:
    """A time zone as a person says it: 北京时间 for China, else its UTC offset (never a raw name
    such as "Africa/Abidjan")."""
    name = str(zone)
    if name in CHINA_ZONES:
        return _("Beijing time")
    try:
        raw = datetime.now(ZoneInfo(name)).strftime("%z")
    except (ValueError, KeyError, ZoneInfoNotFoundError):
        return name
    return f"UTC{raw[:3]}:{raw[3:]}" if raw not in ("+0000", "") else "UTC"


@register.filter
def file_type(content_type) -> str:
    """ "audio/wav" → 录音（WAV）: the kind of file in words, its format as people know it."""
    major, _slash, minor = str(content_type or "").partition("/")
    fmt = minor.split(";")[0].removeprefix("x-").removeprefix("vnd.").upper()
    kind = {"audio": _("Recording"), "image": _("Image"), "video": _("Video"), "text": _("Text")}.get(major)
    if kind is None:
        return fmt or _("File")
    return _("%(kind)s (%(format)s)") % {"kind": kind, "format": fmt} if fmt else kind


@register.filter
def in_parens(text) -> str:
    """Parentheses of the page's language: full-width （…） in Chinese, (…) in English."""
    return _("(%(text)s)") % {"text": text} if text else ""
