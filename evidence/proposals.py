"""What a screenshot shows, proposed as incidents: the messages of an SMS thread, the rows of a call
log. The person ticks what to log on a preview page (templates/evidence/ocr_preview.html); nothing
is logged without that.

The layout is read from the OCR lines and their boxes (evidence/recognition.py):
- an SMS thread: the sender in the header, centred time labels ("昨天 21:14", "星期二 10:32",
  "Yesterday 9:14 PM"), bubbles (received on the left, sent on the right) made of lines that follow
  each other closely;
- a call log: one time or date on the right per row; beside it the number or name, a count badge
  "(3)", a second line (place, carrier, or a direction word "未接" / "呼出" as EMUI/ColorOS write),
  and the ink of the main line (red: a missed call, as MIUI/HyperOS and iOS draw it).

Relative dates are resolved against the screenshot's own time (its file name, else EXIF). Whatever
cannot be read for sure (no screenshot time for "昨天", only a date, a number with too few digits,
a low OCR score) marks the proposal uncertain with the reason: it is never silently guessed.
Suggested flags come from the rule pack's [keywords] tables, for the person to confirm.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from . import merging
from .findings import case_violations_refresh
from .metadata import normalise_number, suggested_time
from .models import Case, EvidenceFile, Flag, IncidentKind, RecognizedText, Source, TextStatus
from .rules import available_packs
from .services import incident_create

# --- times ---------------------------------------------------------------------------------------

_WEEKDAYS_ZH = "一二三四五六日"
_WEEKDAYS_EN = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTHS_EN = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_PERIOD = r"(?P<period>上午|下午|中午|晚上|凌晨|早上|傍晚|夜里|夜间)?"
_CLOCK = re.compile(
    _PERIOD + r"\s*(?P<h>\d{1,2})\s*[:：]\s*(?P<m>\d{2})(?:\s*(?P<ampm>[AaPp])\.?\s*[Mm]\.?)?"
)
_FULL_DATE = re.compile(r"(?P<y>20\d{2})\s*[年/.\-]\s*(?P<mo>\d{1,2})\s*[月/.\-]\s*(?P<d>\d{1,2})\s*日?")
_CN_DATE = re.compile(r"(?P<mo>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日")
_NUMERIC_DATE = re.compile(
    r"(?<![\d:])(?P<a>\d{1,2})\s*[/\-]\s*(?P<b>\d{1,2})(?:\s*[/\-]\s*(?P<y>\d{2,4}))?(?![\d:])"
)
_EN_MONTH_DATE = re.compile(r"\b(?P<mon>[A-Za-z]{3})[a-z]*\.?\s+(?P<d>\d{1,2})(?:,?\s+(?P<y>20\d{2}))?\b")
_ZH_WEEKDAY = re.compile(r"(?:星期|周|礼拜)(?P<w>[一二三四五六日天])")
_EN_WEEKDAY = re.compile(r"\b(?P<w>mon|tue|wed|thu|fri|sat|sun)[a-z]*\b", re.IGNORECASE)


def normalise_text(text: str) -> str:
    """OCR text in a comparable form: full-width forms folded (NFKC), the dash OCR reads for 一 in
    weekday names put back."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"(星期|周|礼拜)\s*[—\-–一_]", r"\g<1>一", text)


def parse_when(text: str, reference: datetime | None) -> dict | None:
    """A time label or call-log time read against the screenshot's local time `reference`.

    Returns None when the text holds no date or time, else {"at": aware datetime or None, "date":
    date or None, "uncertain": reason or ""}."""
    text = normalise_text(text)
    lowered = text.lower()
    clock = _CLOCK.search(text)
    day: date | None = None
    relative = False
    needs_year = False
    ref_day = reference.date() if reference else None
    full = _FULL_DATE.search(text)
    if full:
        day = _safe_date(int(full["y"]), int(full["mo"]), int(full["d"]))
    elif match := _CN_DATE.search(text):
        day, needs_year = _year_for(int(match["mo"]), int(match["d"]), ref_day), True
    elif "今天" in text or "today" in lowered:
        day, relative = ref_day, True
    elif "前天" in text:
        day, relative = (ref_day - timedelta(days=2)) if ref_day else None, True
    elif "昨天" in text or "yesterday" in lowered:
        day, relative = (ref_day - timedelta(days=1)) if ref_day else None, True
    elif match := _ZH_WEEKDAY.search(text):
        day, relative = _last_weekday(_WEEKDAYS_ZH.index(match["w"].replace("天", "日")), ref_day), True
    elif match := _EN_MONTH_DATE.search(text):
        if match["mon"].lower() in _MONTHS_EN:
            month = _MONTHS_EN.index(match["mon"].lower()) + 1
            if match["y"]:
                day = _safe_date(int(match["y"]), month, int(match["d"]))
            else:
                day, needs_year = _year_for(month, int(match["d"]), ref_day), True
        elif weekday := _EN_WEEKDAY.search(text):
            day, relative = _last_weekday(_WEEKDAYS_EN.index(weekday["w"].lower()[:3]), ref_day), True
    elif match := _EN_WEEKDAY.search(text):
        day, relative = _last_weekday(_WEEKDAYS_EN.index(match["w"].lower()[:3]), ref_day), True
    elif match := _NUMERIC_DATE.search(text):
        a, b, year = int(match["a"]), int(match["b"]), match["y"]
        if year:  # 3/12/24: month first, as the US phones that write it
            day = _safe_date(2000 + int(year) % 100 if len(year) <= 2 else int(year), a, b)
        else:  # 03-10: month and day, as Chinese call logs write it
            day, needs_year = _year_for(a, b, ref_day), True
    if clock is None and day is None and not relative:
        return None
    uncertain = ""
    if (relative or needs_year) and reference is None:
        uncertain = _("the screenshot's own time is unknown, so “%(text)s” cannot be dated") % {"text": text}
        return {"at": None, "date": None, "uncertain": uncertain}
    if day is None and clock is not None:
        if reference is None:
            return {
                "at": None,
                "date": None,
                "uncertain": _("the screenshot's own time is unknown, so the day of “%(text)s” is unknown")
                % {"text": text},
            }
        day = ref_day
    if day is None:
        return {"at": None, "date": None, "uncertain": _("“%(text)s” is not a date") % {"text": text}}
    if clock is None:
        return {"at": None, "date": day, "uncertain": _("only the date is shown (%(day)s)") % {"day": day}}
    hour, minute = int(clock["h"]), int(clock["m"])
    hour = _24_hour(hour, clock["period"], clock["ampm"])
    if hour is None or minute > 59:
        return {"at": None, "date": day, "uncertain": _("“%(text)s” is not a time") % {"text": text}}
    tz = reference.tzinfo if reference else None
    if tz is None:
        return {"at": None, "date": day, "uncertain": _("the time zone is unknown")}
    at = datetime.combine(day, time(hour, minute), tzinfo=tz)
    if reference is not None and at > reference + timedelta(minutes=1):
        uncertain = _("“%(text)s” is later than the screenshot was taken") % {"text": text}
        return {"at": None, "date": day, "uncertain": uncertain}
    return {"at": at, "date": day, "uncertain": ""}


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _year_for(month: int, day: int, ref_day: date | None) -> date | None:
    """A month and day without a year: the latest such day not after the screenshot."""
    if ref_day is None:
        return None
    found = _safe_date(ref_day.year, month, day)
    if found is not None and found > ref_day:
        found = _safe_date(ref_day.year - 1, month, day)
    return found


def _last_weekday(weekday: int, ref_day: date | None) -> date | None:
    """The last day before the screenshot's day with this weekday (phones write weekday names for
    the past week, never for today)."""
    if ref_day is None:
        return None
    back = (ref_day.weekday() - weekday) % 7 or 7
    return ref_day - timedelta(days=back)


def _24_hour(hour: int, period: str | None, ampm: str | None) -> int | None:
    if ampm:
        if not 1 <= hour <= 12:
            return None
        return hour % 12 + (12 if ampm.lower() == "p" else 0)
    if period in ("下午", "晚上", "傍晚", "夜里", "夜间") and hour < 12:
        hour += 12
    elif period == "中午" and hour < 11:
        hour += 12
    elif period == "凌晨" and hour == 12:
        hour = 0
    return hour if 0 <= hour <= 23 else None


# --- who ------------------------------------------------------------------------------------------

_BADGE = re.compile(r"\s*[(（]\s*(\d{1,3})\s*[)）]\s*$")
_NUMBER_CHARS = re.compile(r"^[+\d\s()\-.]+$")
_DIRECTION_WORDS = {
    "未接": "missed",
    "响铃": "missed",
    "已拒接": "rejected",
    "拒接": "rejected",
    "呼出": "outgoing",
    "已拨": "outgoing",
    "呼入": "incoming",
    "已接": "incoming",
    "missed": "missed",
    "declined": "rejected",
    "outgoing": "outgoing",
    "incoming": "incoming",
}


def read_who(text: str) -> dict:
    """A sender or call-log entry: {"number", "name", "count", "uncertain"}."""
    text = normalise_text(text).strip()
    count = 1
    badge = _BADGE.search(text)
    if badge:
        count = int(badge.group(1))
        text = text[: badge.start()].strip()
    uncertain = ""
    if _NUMBER_CHARS.match(text) and sum(c.isdigit() for c in text) >= 3:
        number = normalise_number(text)
        digits = number.lstrip("+")
        if digits.startswith("86") and len(digits) == 13:
            digits = digits[2:]
        if digits.startswith("1") and len(digits) in (9, 10, 12) and not digits.startswith(("10", "12")):
            uncertain = _("the number “%(text)s” has %(n)d digits; a mobile number has 11") % {
                "text": text,
                "n": len(digits),
            }
        return {"number": number, "name": "", "count": count, "uncertain": uncertain}
    return {"number": "", "name": text[:100], "count": count, "uncertain": uncertain}


def is_red(color: str) -> bool:
    if not re.fullmatch(r"#[0-9a-f]{6}", color or ""):
        return False
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return red >= 150 and red - max(green, blue) >= 80


# --- layout ---------------------------------------------------------------------------------------


def _size(lines: list[dict], metadata: dict) -> tuple[int, int]:
    width = metadata.get("width") or max((line["box"][2] for line in lines), default=1)
    height = metadata.get("height") or max((line["box"][3] for line in lines), default=1)
    return int(width), int(height)


def _center(line: dict) -> tuple[float, float]:
    x0, y0, x1, y1 = line["box"]
    return (x0 + x1) / 2, (y0 + y1) / 2


def _height(line: dict) -> int:
    return line["box"][3] - line["box"][1]


def _join(parts: list[str]) -> str:
    text = ""
    for part in parts:
        if text and text[-1].isascii() and text[-1] not in " " and part[:1].isascii() and part[:1].isalnum():
            text += " "
        text += part
    return text


def _body_lines(lines: list[dict], width: int, height: int) -> list[dict]:
    """The lines between the status bar and the bottom bar."""
    return [line for line in lines if line["box"][1] > 0.045 * height and line["box"][3] < 0.93 * height]


_TRAILING_WHEN = re.compile(
    r"(?P<when>(?:(?:昨天|前天|今天|(?:星期|周)\S|\d{1,2}月\d{1,2}日|\d{1,2}[-/]\d{1,2}(?:[-/]\d{2,4})?|yesterday|"
    r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*|[a-z]{3}\s\d{1,2})\s*)?(?:上午|下午|晚上|凌晨|中午|早上)?\s*"
    r"\d{1,2}[:：]\d{2}(?:\s*[ap]\.?m\.?)?)\s*$",
    re.IGNORECASE,
)


def _split_merged(lines: list[dict], width: int) -> list[dict]:
    """The detector sometimes takes a call-log row's name and its time on the right as one line
    ("+86 184 9618 4154 (2)3月12日 20:11"): split the time off into a line of its own."""
    out = []
    for line in lines:
        x0, y0, x1, y1 = line["box"]
        match = (
            _TRAILING_WHEN.search(normalise_text(line["text"]))
            if x0 < 0.5 * width < 0.6 * width < x1
            else None
        )
        if match is None or match.start() == 0:
            out.append(line)
            continue
        head = normalise_text(line["text"])[: match.start()].strip()
        share = len(head) / max(1, len(head) + len(match["when"]))
        out.append({**line, "text": head, "box": [x0, y0, int(x0 + (x1 - x0) * share), y1]})
        out.append(
            {**line, "text": match["when"].strip(), "box": [max(int(0.55 * width), x1 - 250), y0, x1, y1]}
        )
    return out


def _time_column(lines: list[dict], width: int) -> list[dict]:
    return [
        line
        for line in lines
        if line["box"][0] > 0.5 * width
        and parse_when(line["text"], None) is not None
        and len(line["text"]) <= 24
    ]


def screen_kind(lines: list[dict], width: int, height: int) -> str:
    """The kind of screen: "calls", "sms" or "other"."""
    body = _split_merged(_body_lines(lines, width, height), width)
    if len(_time_column(body, width)) >= 3:
        return "calls"
    if any(line["box"][1] > 0.12 * height for line in body):
        return "sms"
    return "other"


def keyword_flags(text: str, keywords: dict) -> list[str]:
    """The flags whose phrases (any language of the pack) occur in the text."""
    lowered = normalise_text(text).lower()
    found = []
    for flag, languages in keywords.items():
        if flag not in Flag.values:
            continue
        if any(phrase.lower() in lowered for phrases in languages.values() for phrase in phrases):
            found.append(flag)
    return [flag for flag in Flag.values if flag in found]


def read_sms(lines: list[dict], width: int, height: int, reference, keywords: dict) -> dict:
    body = _body_lines(lines, width, height)
    header = [line for line in body if line["box"][1] < 0.12 * height]
    rest = [line for line in body if line["box"][1] >= 0.12 * height]
    sender = {"number": "", "name": "", "count": 1, "uncertain": ""}
    if header:
        best = max(header, key=lambda line: (sum(c.isdigit() for c in line["text"]), -line["box"][1]))
        sender = read_who(best["text"])
    items: list[dict] = []
    label: dict | None = None
    bubble: list[dict] = []
    side = ""

    def close():
        if not bubble:
            return
        text = _join([line["text"] for line in bubble])
        when = parse_when(label["text"], reference) if label else None
        reasons = []
        if when is None:
            reasons.append(_("no time is shown above this message"))
        elif when["uncertain"]:
            reasons.append(when["uncertain"])
        if sender["uncertain"]:
            reasons.append(sender["uncertain"])
        if min(line["score"] for line in bubble) < 0.8:
            reasons.append(_("parts of the text were hard to read"))
        items.append(
            {
                "kind": "sms",
                "direction": "sent" if side == "right" else "received",
                "number": sender["number"],
                "name": sender["name"],
                "when_text": label["text"] if label else "",
                "at": when["at"] if when else None,
                "body": text,
                "count": 1,
                "flags": keyword_flags(text, keywords),
                "uncertain": reasons,
            }
        )
        bubble.clear()

    heights = sorted(_height(line) for line in rest) or [40]
    typical = heights[len(heights) // 2]
    for line in rest:
        x0, _y0, x1, _y1 = line["box"]
        cx, _cy = _center(line)
        centred = abs(cx - width / 2) < 0.12 * width and x0 > 0.2 * width and x1 < 0.8 * width
        if centred and len(line["text"]) <= 24 and parse_when(line["text"], None) is not None:
            close()
            label = line
            continue
        line_side = "right" if (x1 > 0.85 * width and x0 > 0.12 * width) or x0 > 0.45 * width else "left"
        near = bool(bubble) and line["box"][1] - bubble[-1]["box"][3] <= 0.9 * typical
        # A bubble's last line is often short: it starts where the line above it started.
        if near and abs(x0 - bubble[-1]["box"][0]) < 0.03 * width:
            bubble.append(line)
            continue
        if bubble and (line_side != side or not near):
            close()
        side = line_side
        bubble.append(line)
    close()
    return {"kind": "sms", "sender": sender, "items": items}


def read_call_log(lines: list[dict], width: int, height: int, reference) -> dict:
    body = [line for line in _body_lines(lines, width, height) if line["box"][1] >= 0.1 * height]
    body = _split_merged(body, width)
    times = sorted(_time_column(body, width), key=lambda line: _center(line)[1])
    left = [line for line in body if line not in times and line["box"][0] < 0.5 * width]
    centres = [_center(line)[1] for line in times]
    gaps = sorted(b - a for a, b in zip(centres, centres[1:], strict=False)) or [height / 10]
    pitch = gaps[len(gaps) // 2]
    rows: list[dict] = [{"time": line, "left": []} for line in times]
    orphans: list[dict] = []
    for line in left:
        cy = _center(line)[1]
        nearest = min(rows, key=lambda row: abs(_center(row["time"])[1] - cy), default=None)
        if nearest is None or abs(_center(nearest["time"])[1] - cy) > 0.6 * pitch:
            orphans.append(line)
        else:
            nearest["left"].append(line)
    items = []
    for row in rows:
        row["left"].sort(key=lambda line: line["box"][1])
        if not row["left"]:
            continue
        main, *others = row["left"]
        who = read_who(main["text"])
        direction = "missed" if is_red(main.get("color", "")) else "unknown"
        second = " ".join(line["text"] for line in others)
        for word, meaning in _DIRECTION_WORDS.items():
            if (
                normalise_text(second).lower().startswith(word)
                or normalise_text(main["text"]).lower() == word
            ):
                direction = meaning
                break
        when = parse_when(row["time"]["text"], reference)
        reasons = []
        if when["uncertain"]:
            reasons.append(when["uncertain"])
        if who["uncertain"]:
            reasons.append(who["uncertain"])
        if min(main["score"], row["time"]["score"]) < 0.8:
            reasons.append(_("the number or the time was hard to read"))
        items.append(
            {
                "kind": "call",
                "direction": direction,
                "number": who["number"],
                "name": who["name"],
                "when_text": normalise_text(row["time"]["text"]),
                "at": when["at"],
                "body": second,
                "count": who["count"],
                "flags": [],
                "uncertain": reasons,
            }
        )
    for line in orphans:
        who = read_who(line["text"])
        if who["number"]:
            items.append(
                {
                    "kind": "call",
                    "direction": "unknown",
                    "number": who["number"],
                    "name": "",
                    "when_text": "",
                    "at": None,
                    "body": "",
                    "count": who["count"],
                    "flags": [],
                    "uncertain": [_("no time could be read for this row")],
                }
            )
    items.sort(key=lambda item: (item["at"] is None, -(item["at"].timestamp() if item["at"] else 0)))
    return {"kind": "calls", "sender": None, "items": items}


def screenshot_reference(evidence: EvidenceFile, tz) -> tuple[datetime | None, str]:
    """When the screenshot was taken, in the owner's zone, and where that was read: "name" (the
    time in its file name, e.g. MIUI's Screenshot_2026-12-07-11-05-09-312_com.android.mms.png or
    EMUI's Screenshot_20261207_091244_com.huawei.contacts.png), else "exif", else (None, "").

    Read from the metadata stored when the file was received (evidence.metadata.extract), so a
    file kept before a name pattern was added is read as it was then. The upload time is never
    used: a screenshot uploaded days later would date "昨天" wrong."""
    metadata = evidence.metadata or {}
    for source, key in (("name", "from_name"), ("exif", "exif_time")):
        moment = suggested_time({key: metadata.get(key)})
        if moment is not None:
            return moment.astimezone(tz), source
    return None, ""


def screenshot_time(evidence: EvidenceFile, tz) -> datetime | None:
    """When the screenshot was taken, in the owner's zone: its name first, then EXIF."""
    return screenshot_reference(evidence, tz)[0]


def propose(*, evidence: EvidenceFile, tz, pack_id: str = "cn") -> dict:
    """The proposals read from one image: {"kind": "sms" | "calls" | "other", "sender", "items",
    "reference", "reference_source"}; "reference" is the screenshot's own time that relative dates
    ("昨天 22:05") are read against, "reference_source" where it came from ("name", "exif" or "").
    Each item has a stable "key" and a "logged" incident id once logged."""
    row = RecognizedText.objects.filter(evidence=evidence, status=TextStatus.DONE).first()
    if row is None:
        return {
            "kind": "other",
            "sender": None,
            "items": [],
            "reference": None,
            "reference_source": "",
            "status": "none",
        }
    reference, reference_source = screenshot_reference(evidence, tz)
    width, height = _size(row.lines, evidence.metadata or {})
    kind = screen_kind(row.lines, width, height)
    pack = available_packs().get(pack_id)
    keywords = pack.keywords if pack else {}
    if kind == "sms":
        found = read_sms(row.lines, width, height, reference, keywords)
    elif kind == "calls":
        found = read_call_log(row.lines, width, height, reference)
    else:
        found = {"kind": "other", "sender": None, "items": []}
    for index, item in enumerate(found["items"], start=1):
        item["index"] = index
        item["key"] = proposal_key(evidence, item)
        item["logged"] = row.logged.get(item["key"])
    return {**found, "reference": reference, "reference_source": reference_source, "status": row.status}


def proposal_key(evidence: EvidenceFile, item: dict) -> str:
    raw = "|".join(
        [evidence.sha256, item["kind"], item["number"], item["name"], item["when_text"], item["body"]]
    )
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]


@transaction.atomic
def proposals_log(*, evidence: EvidenceFile, case: Case, choices: list[dict]) -> dict:
    """Log the chosen proposals: `choices` are the proposal items as the person confirmed them
    (flags, and a time they set for an uncertain one). The same real event already logged (a call
    log import, a call typed by hand) gains this screenshot as a source instead of a second row
    (evidence.merging); a proposal already logged from this screenshot is not logged again.
    Returns {"created", "linked", "already"}."""
    row = RecognizedText.objects.select_for_update().get(evidence=evidence)
    counts = {"created": 0, "linked": 0, "already": 0}
    logged = dict(row.logged)
    for item in choices:
        if item["key"] in logged:
            counts["already"] += 1
            continue
        kind = IncidentKind.SMS if item["kind"] == "sms" else IncidentKind.CALL
        source = {"kind": "ocr", "ref": f"{evidence.original_name[:150]} #{item['index']}"}
        answered = False if item["direction"] in ("missed", "rejected") else None
        existing = (
            merging.same_call(
                case=case, kind=kind, at=item["at"], duration=None, number=item["number"], strict=False
            )
            if item["at"] is not None
            else None
        )
        if existing is not None:
            merging.incident_join(
                incident=existing,
                source=source,
                facts={
                    "counterpart_number": item["number"],
                    "counterpart_name": item["name"],
                    "answered": answered,
                },
            )
            logged[item["key"]] = existing.pk
            counts["linked"] += 1
            continue
        description = item["body"] if kind == IncidentKind.SMS else ""
        if kind == IncidentKind.CALL and item["count"] > 1:
            description = _(
                "The call log groups %(count)d calls here; only the latest one's time is shown."
            ) % {"count": item["count"]}
        incident = incident_create(
            case=case,
            kind=kind,
            occurred_at=item["at"],
            time_unknown_ok=True,
            source=Source.MANUAL,
            refresh=False,
            counterpart_number=item["number"],
            counterpart_name=item["name"],
            answered=answered,
            description=description,
            flags=[flag for flag in item["flags"] if flag in Flag.values],
            contacted=["self"],
            sources=[source],
            source_evidence=evidence,
        )
        logged[item["key"]] = incident.pk
        counts["created"] += 1
    row.logged = logged
    row.save(update_fields=["logged"])
    if counts["created"] or counts["linked"]:
        case_violations_refresh(case=case)
    return counts
