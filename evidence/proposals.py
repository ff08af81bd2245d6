"""What a screenshot shows, proposed as incidents: the messages of an SMS thread or a chat, the rows
of a call log. The person ticks what to log on a preview page (templates/evidence/ocr_preview.html);
nothing is logged without that.

The kind of screen is told from its layout (screen_kind), never from one word. The layout is read
from the OCR lines and their boxes (evidence/recognition.py):
- an SMS thread: the sender in the header, centred time labels ("昨天 21:14", "星期二 10:32",
  "Yesterday 9:14 PM"), bubbles (received on the left, sent on the right) made of lines that follow
  each other closely; a tall (scrolling) screenshot is read the same way, measured in widths;
- a chat (WeChat, QQ): the same, with the bubbles set in from the edges by the avatars;
- a call log: one time or date on the right per row; the row's other lines are the number or name
  (a saved contact's name over its number), a count badge "(3)", a place or carrier, a direction
  word ("未接" / "呼出" as EMUI/ColorOS write) and a duration ("呼入 3分12秒"), and the ink of the
  main line (red: a missed call, as MIUI/HyperOS and iOS draw it).

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
    "未接来电": "missed",
    "missed": "missed",
    "declined": "rejected",
    "rejected": "rejected",
    "outgoing": "outgoing",
    "incoming": "incoming",
}


_DURATION_ZH = re.compile(
    r"(?:(?P<h>\d{1,2})\s*小时)?\s*(?:(?P<m>\d{1,3})\s*分钟?)?\s*(?:(?P<s>\d{1,2})\s*秒)?"
)
_DURATION_EN = re.compile(
    r"(?<![\w:])(?:(?P<h>\d{1,2})\s*h(?:rs?|ours?)?\b)?\s*(?:(?P<m>\d{1,3})\s*m(?:ins?|inutes?)?\b)?\s*"
    r"(?:(?P<s>\d{1,2})\s*s(?:ecs?|econds?)?\b)?",
    re.IGNORECASE,
)


def read_duration(text: str) -> int | None:
    """A call's duration as a call log writes it beside the direction ("呼入 3分12秒", "1小时2分",
    "45秒", "Incoming 3m 12s", "1 min 5 sec"), in seconds; None when the text holds none. A clock
    ("3:12") is never taken for a duration: call logs write times that way."""
    text = normalise_text(text)
    for pattern in (_DURATION_ZH, _DURATION_EN):
        for match in pattern.finditer(text):
            if not any(match.group(part) for part in ("h", "m", "s")):
                continue
            hours, minutes, seconds = (int(match.group(part) or 0) for part in ("h", "m", "s"))
            return hours * 3600 + minutes * 60 + seconds
    return None


def read_direction(text: str) -> str:
    """The direction a call log's word states ("未接", "呼出", "Incoming"), or ""."""
    lowered = normalise_text(text).strip().lower()
    for word, meaning in _DIRECTION_WORDS.items():
        if lowered.startswith(word):
            return meaning
    return ""


def _is_call_info(text: str) -> bool:
    """A line that states a call's direction or duration, not who called."""
    return bool(read_direction(text)) or read_duration(text) is not None


# The back arrow before a thread's sender is read as a character when it touches the name.
_BACK_ARROW = re.compile(r"^[<‹〈←＜«]\s*")


def read_who(text: str) -> dict:
    """A sender or call-log entry: {"number", "name", "count", "uncertain"}."""
    text = _BACK_ARROW.sub("", normalise_text(text).strip())
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


# What a messages screen writes in its input bar (MIUI, EMUI, ColorOS, OriginOS, iOS): the bar's
# placeholder is the only text below the last bubble, and is no message.
INPUT_PLACEHOLDERS = (
    "短信",
    "信息",
    "发送短信",
    "输入信息",
    "短信/彩信",
    "text message",
    "message",
    "imessage",
    "rcs",
)


# Drawn icons that recognition reads as a letter: the call button's ring ("O"), a back chevron.
_ICON_GLYPHS = set("OoCc0〇◯○<>くV")


def _is_icon(line: dict) -> bool:
    """A lone glyph in a square box: an icon, never a word."""
    x0, y0, x1, y1 = line["box"]
    square = 0.75 < (x1 - x0) / max(y1 - y0, 1) < 1.33
    return square and normalise_text(line["text"]).strip() in _ICON_GLYPHS


def _merge_fragments(lines: list[dict]) -> list[dict]:
    """Pieces of one line that detection cut apart at a space ("(805)" "448-8418" "(3)"), joined:
    on the same level, alike in height, less than a character's height apart."""
    merged: list[dict] = []
    # Left to right, so each piece meets the pieces before it on its level.
    for line in sorted(lines, key=lambda line: (line["box"][0], line["box"][1])):
        h = max(_height(line), 1)
        for index, other in enumerate(merged):
            ox0, oy0, ox1, oy1 = other["box"]
            oh = max(oy1 - oy0, 1)
            if (
                abs(_center(other)[1] - _center(line)[1]) < 0.3 * max(h, oh)
                and 0.6 < h / oh < 1.6
                and -0.5 * h < line["box"][0] - ox1 < 0.6 * h
            ):
                x0, y0, x1, y1 = line["box"]
                merged[index] = {
                    **other,
                    "text": _join([other["text"], line["text"]]),
                    "box": [min(ox0, x0), min(oy0, y0), max(ox1, x1), max(oy1, y1)],
                    "score": min(other["score"], line["score"]),
                }
                break
        else:
            merged.append(line)
    return sorted(merged, key=lambda line: (line["box"][1], line["box"][0]))


def _body_lines(lines: list[dict], width: int, height: int) -> list[dict]:
    """The lines between the status bar and the bottom bar. Measured in widths, not heights: a
    scrolling screenshot (1080×12000) has the same bars as a 1080×2400 one. The status bar is the
    first row of text when it sits at the very top (a photo of a screen has a margin above it)."""
    if not lines:
        return []
    lines = _merge_fragments([line for line in lines if not _is_icon(line)])
    if not lines:
        return []
    top = min(line["box"][1] for line in lines)
    first_row = min(lines, key=lambda line: line["box"][1])
    status = []
    if top < 0.2 * width:
        row_centre = _center(first_row)[1]
        status = [
            line
            for line in lines
            if abs(_center(line)[1] - row_centre) < 0.04 * width and len(normalise_text(line["text"])) <= 10
        ]
    body = [line for line in lines if line not in status]
    bottom = [
        line
        for line in body
        if line["box"][1] > height - 0.3 * width
        and normalise_text(line["text"]).strip().lower() in INPUT_PLACEHOLDERS
    ]
    return [line for line in body if line not in bottom and line["box"][3] < height - 0.05 * width]


def _header_bottom(lines: list[dict], width: int) -> float:
    """Where a screen's header (the sender beside a back arrow, or the title) ends: an eighth of the
    width below the first text under the status bar."""
    top = min((line["box"][1] for line in lines), default=0)
    return top + 0.12 * width


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


def _pairs(lines: list[dict], width: int) -> dict:
    """Rows of a left and a right line on the same level, counted by what the right one holds: a
    time ("昨天 21:14", a call log's), a call's direction or duration ("呼入 3分12秒"), or anything
    else (a bill's "罚息 123.45")."""
    counts = {"time": 0, "info": 0, "other": 0}
    left = [line for line in lines if line["box"][0] < 0.35 * width and line["box"][2] < 0.6 * width]
    for right in (line for line in lines if line["box"][0] > 0.5 * width and line["box"][2] > 0.75 * width):
        cy = _center(right)[1]
        level = max(_height(right), 1)
        if not any(abs(_center(other)[1] - cy) < 1.0 * max(level, _height(other)) for other in left):
            continue
        text = right["text"]
        if len(text) <= 24 and parse_when(text, None) is not None:
            counts["time"] += 1
        elif _is_call_info(text):
            counts["info"] += 1
        else:
            counts["other"] += 1
    return counts


def _message_lines(lines: list[dict], width: int) -> list[dict]:
    """The lines of bubbles: below the header, neither a centred time label nor a row's right side."""
    header = _header_bottom(lines, width)
    return [line for line in lines if line["box"][1] >= header and not _is_time_label(line, width)]


def _is_time_label(line: dict, width: int) -> bool:
    x0, _y0, x1, _y1 = line["box"]
    centred = abs(_center(line)[0] - width / 2) < 0.12 * width and x0 > 0.2 * width and x1 < 0.8 * width
    return centred and len(line["text"]) <= 24 and parse_when(line["text"], None) is not None


def screen_kind(lines: list[dict], width: int, height: int) -> str:
    """The kind of screen, from its layout rather than any one word: "calls" (rows whose right side
    is a time, beside a number or a name; two rows are enough), "sms" (bubbles against the screen's
    edges under centred time labels), "chat" (bubbles set in from the edges by the avatars, as
    WeChat and QQ draw them) or "other" (a bill's label–value rows, a page of text, nothing)."""
    body = _split_merged(_body_lines(lines, width, height), width)
    pairs = _pairs(body, width)
    if pairs["time"] >= 2 and pairs["time"] + pairs["info"] > pairs["other"]:
        return "calls"
    if pairs["other"] >= 2:
        return "other"
    messages = [line for line in _message_lines(body, width) if len(normalise_text(line["text"])) >= 2]
    if not messages:
        return "other"
    # A page of text runs from edge to edge; a bubble never does.
    spanning = [line for line in messages if line["box"][0] < 0.12 * width and line["box"][2] > 0.88 * width]
    if len(spanning) >= max(2, len(messages) // 2):
        return "other"
    inset = [line for line in messages if line["box"][0] >= 0.13 * width and line["box"][2] <= 0.87 * width]
    return "chat" if len(inset) >= 0.6 * len(messages) else "sms"


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


def read_sms(
    lines: list[dict], width: int, height: int, reference, keywords: dict, *, kind: str = "sms"
) -> dict:
    """The messages of an SMS thread, or of a chat (kind "chat": bubbles beside avatars, the title
    centred above them). A scrolling screenshot is read the same way, top to bottom."""
    body = _body_lines(lines, width, height)
    limit = _header_bottom(body, width)
    header = [line for line in body if line["box"][1] < limit]
    rest = [line for line in body if line["box"][1] >= limit]
    sender = {"number": "", "name": "", "count": 1, "uncertain": ""}
    if header:
        if kind == "chat":
            best = min(header, key=lambda line: abs(_center(line)[0] - width / 2))
        else:
            best = max(header, key=lambda line: (sum(c.isdigit() for c in line["text"]), -line["box"][1]))
        sender = read_who(best["text"])
    # Where received bubbles start and sent ones end: the screen's edges for SMS, set in by the
    # avatars for a chat.
    bubbles = [line for line in rest if not _is_time_label(line, width)]
    left_edge = min((line["box"][0] for line in bubbles), default=0)

    def side_of(line: dict) -> str:
        x0, _y0, x1, _y1 = line["box"]
        if kind == "chat":
            # The avatars set both sides in alike: sent bubbles end where received ones start, seen
            # from the right edge. A line belongs to the side whose edge it is nearer.
            inset_right = width - left_edge
            return "left" if x0 - left_edge < inset_right - x1 else "right"
        return "right" if (x1 > 0.85 * width and x0 > 0.12 * width) or x0 > 0.45 * width else "left"

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
                "kind": kind,
                "direction": "sent" if side == "right" else "received",
                "number": sender["number"],
                "name": sender["name"],
                "when_text": label["text"] if label else "",
                "at": when["at"] if when else None,
                "body": text,
                "count": 1,
                "duration": None,
                "flags": keyword_flags(text, keywords),
                "uncertain": reasons,
            }
        )
        bubble.clear()

    heights = sorted(_height(line) for line in rest) or [40]
    typical = heights[len(heights) // 2]
    for line in rest:
        x0 = line["box"][0]
        if _is_time_label(line, width):
            close()
            label = line
            continue
        line_side = side_of(line)
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
    return {"kind": kind, "sender": sender, "items": items}


def _call_row(lines: list[dict], time_line: dict, reference) -> dict | None:
    """One call-log row: its lines top to bottom (a name over a number, a place, a direction word,
    a duration), and its time. None when no line says who."""
    left = [line for line in lines if not _is_call_info(line["text"]) or line is lines[0]]
    main = left[0] if left else lines[0]
    numbers = [line for line in left if read_who(line["text"])["number"]]
    who = read_who(main["text"])
    if not who["number"] and numbers:
        # A saved contact: the name on top, the number under it.
        number = read_who(numbers[0]["text"])
        who = {**number, "name": who["name"], "count": who["count"]}
    if not who["number"] and not who["name"]:
        return None
    direction = "missed" if is_red(main.get("color", "")) else "unknown"
    duration = None
    for line in lines:
        said = read_direction(line["text"])
        if said and direction == "unknown":
            direction = said
        if duration is None:
            duration = read_duration(line["text"])
    if direction == "unknown" and read_direction(main["text"]):
        direction = read_direction(main["text"])
    rest = [line["text"] for line in lines if line is not main and not (numbers and line is numbers[0])]
    when = parse_when(time_line["text"], reference)
    reasons = []
    if when["uncertain"]:
        reasons.append(when["uncertain"])
    if who["uncertain"]:
        reasons.append(who["uncertain"])
    if min(main["score"], time_line["score"]) < 0.8:
        reasons.append(_("the number or the time was hard to read"))
    return {
        "kind": "call",
        "direction": direction,
        "number": who["number"],
        "name": who["name"],
        "when_text": normalise_text(time_line["text"]),
        "at": when["at"],
        "body": " ".join(rest),
        "count": who["count"],
        "duration": duration if direction not in ("missed", "rejected") else None,
        "flags": [],
        "uncertain": reasons,
    }


def read_call_log(lines: list[dict], width: int, height: int, reference) -> dict:
    """The rows of a call log. Each time on the right anchors a row; every other line belongs to
    the row whose time is nearest it, so a row keeps its name over its number and the direction and
    duration written under the time ("呼入 3分12秒")."""
    body = _body_lines(lines, width, height)
    body = _split_merged(body, width)
    times = sorted(_time_column(body, width), key=lambda line: _center(line)[1])
    others = [line for line in body if line not in times]
    centres = [_center(line)[1] for line in times]
    gaps = sorted(b - a for a, b in zip(centres, centres[1:], strict=False)) or [0.2 * width]
    pitch = gaps[len(gaps) // 2]
    rows: list[dict] = [{"time": line, "lines": []} for line in times]
    orphans: list[dict] = []
    for line in others:
        cy = _center(line)[1]
        nearest = min(rows, key=lambda row: abs(_center(row["time"])[1] - cy), default=None)
        if nearest is None or abs(_center(nearest["time"])[1] - cy) > 0.6 * pitch:
            orphans.append(line)
        else:
            nearest["lines"].append(line)
    items = []
    for row in rows:
        # Left lines first, top to bottom; the right side's (under the time) after them.
        row["lines"].sort(key=lambda line: (line["box"][0] >= 0.5 * width, line["box"][1]))
        if not row["lines"] or row["lines"][0]["box"][0] >= 0.5 * width:
            continue
        item = _call_row(row["lines"], row["time"], reference)
        if item is not None:
            items.append(item)
    for line in orphans:
        who = read_who(line["text"])
        if who["number"] and line["box"][1] > _header_bottom(body, width):
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
                    "duration": None,
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
    """The proposals read from one image: {"kind": "sms" | "calls" | "chat" | "other", "sender", "items",
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
    if kind in ("sms", "chat"):
        found = read_sms(row.lines, width, height, reference, keywords, kind=kind)
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
        kind = {"sms": IncidentKind.SMS, "chat": IncidentKind.APP_MESSAGE}.get(
            item["kind"], IncidentKind.CALL
        )
        duration = item.get("duration") if kind == IncidentKind.CALL else None
        source = {"kind": "ocr", "ref": f"{evidence.original_name[:150]} #{item['index']}"}
        answered = False if item["direction"] in ("missed", "rejected") else None
        existing = (
            merging.same_call(
                case=case, kind=kind, at=item["at"], duration=duration, number=item["number"], strict=False
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
                    "duration_seconds": duration,
                },
            )
            logged[item["key"]] = existing.pk
            counts["linked"] += 1
            continue
        description = item["body"] if kind in (IncidentKind.SMS, IncidentKind.APP_MESSAGE) else ""
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
            duration_seconds=duration,
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
