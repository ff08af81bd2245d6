"""Reading the call and message logs phones export: SMS Backup & Restore calls.xml / sms.xml and the
iMazing call CSV (phone-formats.md).

Parsing is incremental (memory stays flat on years of history) and safe: defusedxml refuses DTDs,
entities and external references. Times come from the epoch field, never from readable_date. Emoji
written as surrogate-pair character references are merged into one code point before parsing.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .metadata import normalise_number


class PhoneLogError(ValueError):
    """A file that cannot be imported; the message says why, in the user's language. `unsupported`
    marks a file of another kind altogether (415), as opposed to a broken or hostile export (400)."""

    def __init__(self, message: str, *, unsupported: bool = False):
        super().__init__(message)
        self.unsupported = unsupported


# SMS Backup & Restore call types; unknown values are kept raw and imported as "other".
CALL_TYPES = {
    1: "incoming",
    2: "outgoing",
    3: "missed",
    4: "voicemail",
    5: "rejected",
    6: "blocked",
    7: "answered_elsewhere",
}
SMS_TYPES = {1: "received", 2: "sent", 3: "draft", 4: "outbox", 5: "failed", 6: "queued"}

# What a person chooses to import; outgoing calls and sent messages are their own, off by default.
IMPORT_KINDS = ("incoming", "missed", "rejected", "outgoing", "sms_received", "sms_sent")
DEFAULT_KINDS = ("incoming", "missed", "rejected", "sms_received")


@dataclass(slots=True)
class Entry:
    kind: str  # "call" or "sms"
    direction: str  # a value of CALL_TYPES / SMS_TYPES, or "other"
    type_code: int
    number: str
    at: datetime
    duration: int | None = None
    contact_name: str = ""
    body: str = ""
    position: int = 0
    images: list[tuple[str, str]] = field(default_factory=list)  # (content type, base64 data)

    @property
    def incident_kind(self) -> str:
        """The IncidentKind value the entry is logged as."""
        return "call" if self.kind == "call" else "sms"

    @property
    def import_kind(self) -> str:
        if self.kind == "sms":
            return "sms_sent" if self.direction in ("sent", "outbox", "queued", "failed") else "sms_received"
        if self.direction in ("incoming", "answered_elsewhere"):
            return "incoming"
        if self.direction in ("missed", "voicemail"):
            return "missed"
        if self.direction in ("rejected", "blocked"):
            return "rejected"
        return "outgoing" if self.direction == "outgoing" else "incoming"

    @property
    def answered(self) -> bool | None:
        if self.kind != "call":
            return None
        if self.direction in ("incoming", "outgoing", "answered_elsewhere"):
            return bool(self.duration)
        if self.direction in ("missed", "voicemail", "rejected", "blocked"):
            return False
        return None

    @property
    def key(self) -> str:
        """The same call or message in any later, overlapping backup gives the same key."""
        millis = int(self.at.timestamp() * 1000)
        body = hashlib.sha256(self.body.encode("utf-8")).hexdigest()[:16] if self.kind == "sms" else ""
        raw = f"{self.kind}|{self.number}|{millis}|{self.type_code}|{body}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:40]


# --- surrogate pairs -----------------------------------------------------------------------------

_REF = rb"&#(x[0-9a-fA-F]{1,6}|[0-9]{1,7});"
_PAIR = re.compile(_REF + _REF)
_SINGLE = re.compile(_REF)


def _code(raw: bytes) -> int:
    return int(raw[1:], 16) if raw[:1] in (b"x", b"X") else int(raw)


def _merge_pairs(data: bytes) -> bytes:
    def pair(match: re.Match) -> bytes:
        high, low = _code(match.group(1)), _code(match.group(2))
        if 0xD800 <= high <= 0xDBFF and 0xDC00 <= low <= 0xDFFF:
            return b"&#%d;" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        return match.group(0)

    def lone(match: re.Match) -> bytes:
        # A surrogate without its partner cannot be represented: the replacement character keeps
        # the rest of the message.
        return b"&#65533;" if 0xD800 <= _code(match.group(1)) <= 0xDFFF else match.group(0)

    return _SINGLE.sub(lone, _PAIR.sub(pair, data))


class SurrogateRepairingReader(io.RawIOBase):
    """Wraps a binary file; merges surrogate-pair character references as the bytes stream through."""

    def __init__(self, raw: IO[bytes], chunk: int = 1 << 16):
        self.raw, self.chunk, self.carry, self.out = raw, chunk, b"", b""

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        data = self.raw.read(self.chunk)
        if not data:
            if self.carry:
                self.out += _merge_pairs(self.carry)
                self.carry = b""
            return False
        data = self.carry + data
        # Keep a possibly unfinished reference pair (at most 2 x 11 bytes) for the next round.
        cut = data.rfind(b"&", max(len(data) - 24, 0))
        cut = cut if cut != -1 else len(data)
        self.out += _merge_pairs(data[:cut])
        self.carry = data[cut:]
        return True

    def readinto(self, buffer) -> int:
        while not self.out:
            if not self._fill():
                break
        size = min(len(buffer), len(self.out))
        buffer[:size] = self.out[:size]
        self.out = self.out[size:]
        return size


# --- detection -----------------------------------------------------------------------------------

IMAZING_COLUMNS = ("call type", "date", "duration", "number")


def detect_format(head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        if b"<calls" in head:
            return "calls_xml"
        if b"<smses" in head:
            return "sms_xml"
        return "xml"
    first_line = text.split(b"\n", 1)[0].decode("utf-8", "replace").lower()
    if all(column in first_line for column in IMAZING_COLUMNS):
        return "imazing_csv"
    if b"," in first_line.encode():
        return "csv"
    return "unknown"


# --- plausibility ---------------------------------------------------------------------------------
#
# Exports hold odd values: 0 or -1 for "unknown", years 0001 and 9999, milliseconds beyond any
# calendar, digits of other scripts ("１２３", which int() reads, and "²", which str.isdigit()
# accepts). Numbers are read from ASCII digits only. An entry whose time is unreadable, before
# 2000-01-01 (UTC) or more than a day ahead of the server's clock is skipped and counted
# (Entries.implausible): never stored as 1970, never a reason to refuse the whole file, unless no
# entry is left. An unreadable or implausible duration is imported as unknown.

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
LONGEST_CALL = 24 * 3600  # seconds

_ASCII_NUMBER = re.compile(r"[0-9]{1,18}")
_SECONDS_BELOW = 10**10  # ten digits or fewer: epoch seconds (as milliseconds, a day in 1970)
_LOCAL_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


def ascii_int(value: str | None) -> int | None:
    """A non-negative integer written in ASCII digits (at most 18 of them), else None."""
    return int(value) if value and _ASCII_NUMBER.fullmatch(value) else None


def _latest() -> datetime:
    return datetime.now(UTC) + FUTURE_SLACK


def _epoch(value: str | None, latest: datetime) -> datetime | None:
    """An epoch time in milliseconds (ten digits or fewer: seconds, as some exports write them), or
    None when it is unreadable or implausible."""
    number = ascii_int(value)
    if number is None:
        return None
    millis = number * 1000 if number < _SECONDS_BELOW else number
    if not EARLIEST.timestamp() * 1000 <= millis <= latest.timestamp() * 1000:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def _local_time(text: str, tz, latest: datetime) -> datetime | None:
    """`YYYY-MM-DD HH:MM:SS` in the phone's time zone, as UTC, or None when unreadable or implausible."""
    text = text.strip()
    if not _LOCAL_TIME.fullmatch(text):
        return None
    try:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):  # 2024-02-30; year 0001 or 9999 shifted out of range
        return None
    return moment if EARLIEST <= moment <= latest else None


def _duration(value: str | None) -> int | None:
    seconds = ascii_int(value)
    return seconds if seconds is not None and seconds <= LONGEST_CALL else None


def implausible_note(count: int) -> str:
    """What the preview and the import result say about the entries left out."""
    return ngettext(
        "%(n)d entry skipped: implausible date (before 2000, more than a day in the future, or unreadable).",
        "%(n)d entries skipped: implausible date (before 2000, more than a day in the future, or unreadable).",
        count,
    ) % {"n": count}


def nothing_plausible(count: int) -> PhoneLogError:
    return PhoneLogError(
        _("Nothing was imported: every entry has an impossible date. %(note)s")
        % {"note": implausible_note(count)}
    )


class Entries:
    """The entries of an export, one at a time. Those whose date is implausible are left out and
    counted in `implausible` (the parsers yield None for them)."""

    def __init__(self, items: Iterator[Entry | None]):
        self._items = items
        self.implausible = 0

    def __iter__(self) -> Entries:
        return self

    def __next__(self) -> Entry:
        while True:
            item = next(self._items)
            if item is not None:
                return item
            self.implausible += 1


# --- parsers -------------------------------------------------------------------------------------


def _attr(element, name: str) -> str:
    value = element.get(name) or ""
    return "" if value == "null" else value


def _number(raw: str) -> str:
    # Android writes hidden or unknown callers as -1, -2 or -3.
    return "" if raw.strip().startswith("-") else normalise_number(raw)


def _name(element) -> str:
    name = _attr(element, "contact_name")
    return "" if name in ("(Unknown)", "") else name


def iter_xml(fileobj: IO[bytes]) -> Entries:
    """Entries of calls.xml or sms.xml, one at a time. Raises PhoneLogError on anything unsafe,
    truncated or of another kind."""
    return Entries(_xml_items(fileobj))


def _xml_items(fileobj: IO[bytes]) -> Iterator[Entry | None]:
    fileobj.seek(0)
    latest = _latest()
    stream = io.BufferedReader(SurrogateRepairingReader(fileobj))
    root = None
    position = 0
    try:
        for event, element in iterparse(stream, events=("start", "end"), forbid_dtd=True):
            if event == "start":
                if root is None:
                    root = element
                    if element.tag not in ("calls", "smses"):
                        raise PhoneLogError(
                            _(
                                "This XML is not an SMS Backup & Restore calls.xml or sms.xml "
                                "(its root element is <%(tag)s>)."
                            )
                            % {"tag": element.tag}
                        )
                continue
            if element.tag == "call":
                position += 1
                code = ascii_int(_attr(element, "type")) or 0
                at = _epoch(_attr(element, "date"), latest)
                yield (
                    Entry(
                        kind="call",
                        direction=CALL_TYPES.get(code, "other"),
                        type_code=code,
                        number=_number(_attr(element, "number")),
                        at=at,
                        duration=_duration(_attr(element, "duration")),
                        contact_name=_name(element),
                        position=position,
                    )
                    if at
                    else None
                )
                root.clear()
            elif element.tag == "sms":
                position += 1
                code = ascii_int(_attr(element, "type")) or 0
                at = _epoch(_attr(element, "date"), latest)
                yield (
                    Entry(
                        kind="sms",
                        direction=SMS_TYPES.get(code, "other"),
                        type_code=code,
                        number=normalise_number(_attr(element, "address")),
                        at=at,
                        contact_name=_name(element),
                        body=_attr(element, "body"),
                        position=position,
                    )
                    if at
                    else None
                )
                root.clear()
            elif element.tag == "mms":
                position += 1
                code = ascii_int(_attr(element, "msg_box")) or 0
                texts, images = [], []
                for part in element.iter("part"):
                    content_type = _attr(part, "ct")
                    if content_type == "text/plain" and _attr(part, "text"):
                        texts.append(_attr(part, "text"))
                    elif content_type.startswith("image/") and _attr(part, "data"):
                        images.append((content_type, _attr(part, "data")))
                sender = ""
                for addr in element.iter("addr"):
                    if _attr(addr, "type") == "137":
                        sender = _attr(addr, "address")
                number = sender if code == 1 and sender else _attr(element, "address").split("~")[0]
                # MMS dates are often in seconds rather than milliseconds: _epoch reads both.
                at = _epoch(_attr(element, "date"), latest)
                yield (
                    Entry(
                        kind="sms",
                        direction={1: "received", 2: "sent"}.get(code, "other"),
                        type_code=code,
                        number=normalise_number(number),
                        at=at,
                        contact_name=_name(element),
                        body="\n".join(texts),
                        position=position,
                        images=images,
                    )
                    if at
                    else None
                )
                root.clear()
    except DefusedXmlException:
        raise PhoneLogError(
            _(
                "The file declares a DTD or entities, which phone backups never do; it was "
                "refused for safety. Nothing was imported."
            )
        ) from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise PhoneLogError(
            _(
                "The file is incomplete or not valid XML (line %(line)d, column %(column)d). "
                "Nothing was imported."
            )
            % {"line": line, "column": column}
        ) from None
    if root is None:
        raise PhoneLogError(_("The file is empty."))


def _hms(value: str) -> int | None:
    parts = value.strip().split(":")
    if len(parts) > 3 or not all(_ASCII_NUMBER.fullmatch(p) for p in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds if seconds <= LONGEST_CALL else None


IMAZING_TYPES = {
    "incoming": ("incoming", 1),
    "outgoing": ("outgoing", 2),
    "missed": ("missed", 3),
    "cancelled": ("missed", 3),
    "canceled": ("missed", 3),
    "blocked": ("blocked", 6),
    "rejected": ("rejected", 5),
    "declined": ("rejected", 5),
}


def _cell(row: list[str], columns: dict[str, int], name: str) -> str:
    """A row's value in the named column; "" when the row is shorter or the column absent."""
    index = columns.get(name)
    return row[index] if index is not None and index < len(row) else ""


def iter_imazing_csv(fileobj: IO[bytes], tz) -> Entries:
    return Entries(_csv_items(fileobj, tz))


def _csv_items(fileobj: IO[bytes], tz) -> Iterator[Entry | None]:
    fileobj.seek(0)
    latest = _latest()
    text = io.TextIOWrapper(fileobj, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if not header:
            raise PhoneLogError(_("The file is empty."))
        columns = {name.strip().lower(): index for index, name in enumerate(header)}
        missing = [c for c in IMAZING_COLUMNS if c not in columns]
        if missing:
            raise PhoneLogError(
                _(
                    "This CSV does not have iMazing's call columns (Call type, Date, Duration, Number); "
                    "missing: %(missing)s. Found: %(found)s."
                )
                % {"missing": ", ".join(missing), "found": ", ".join(h.strip() for h in header)}
            )
        for position, row in enumerate(reader, start=1):
            if not any(value.strip() for value in row):
                continue
            moment = _local_time(_cell(row, columns, "date"), tz, latest)
            if moment is None:
                yield None
                continue
            kind_text = _cell(row, columns, "call type").strip().lower()
            direction, code = IMAZING_TYPES.get(kind_text, ("other", 0))
            yield Entry(
                kind="call",
                direction=direction,
                type_code=code,
                number=normalise_number(_cell(row, columns, "number")),
                at=moment,
                duration=_hms(_cell(row, columns, "duration")),
                contact_name=_cell(row, columns, "contact").strip(),
                position=position,
            )
    except csv.Error:
        raise PhoneLogError(
            _("The CSV cannot be read (line %(line)d). Nothing was imported.") % {"line": reader.line_num}
        ) from None
    finally:
        text.detach()


def iter_entries(fileobj: IO[bytes], tz) -> tuple[str, Entries]:
    fileobj.seek(0)
    fmt = detect_format(fileobj.read(4096))
    fileobj.seek(0)
    if fmt in ("calls_xml", "sms_xml", "xml"):
        return fmt, iter_xml(fileobj)
    if fmt == "imazing_csv":
        return fmt, iter_imazing_csv(fileobj, tz)
    if fmt == "csv":
        return fmt, iter_imazing_csv(fileobj, tz)  # reports which columns are missing
    raise PhoneLogError(
        _("This is neither an SMS Backup & Restore XML (calls.xml, sms.xml) nor an iMazing call CSV."),
        unsupported=True,
    )


def decode_image(data: str) -> bytes | None:
    try:
        return base64.b64decode(data, validate=False)
    except (ValueError, TypeError):
        return None


# --- preview -------------------------------------------------------------------------------------


def summarise(fileobj: IO[bytes], *, tz, known_numbers: set[str]) -> dict:
    """What a person sees before importing: counts, date range, counterparts ranked by count, how
    many at night, and which are already known collectors of the case."""
    fmt, entries = iter_entries(fileobj, tz)
    calls = messages = 0
    first = last = None
    people: dict[str, dict] = {}
    for entry in entries:
        if entry.kind == "call":
            calls += 1
        else:
            messages += 1
        first = entry.at if first is None or entry.at < first else first
        last = entry.at if last is None or entry.at > last else last
        person = people.setdefault(
            entry.number,
            {"number": entry.number, "name": "", "calls": 0, "messages": 0, "night": 0, "kinds": {}},
        )
        person["name"] = person["name"] or entry.contact_name
        person["calls" if entry.kind == "call" else "messages"] += 1
        hour = entry.at.astimezone(tz).hour
        if hour >= 22 or hour < 8:
            person["night"] += 1
        person["kinds"][entry.import_kind] = person["kinds"].get(entry.import_kind, 0) + 1
    if calls + messages == 0:
        if entries.implausible:
            raise nothing_plausible(entries.implausible)
        raise PhoneLogError(_("The file holds no calls or messages."))
    known = {n[-8:] for n in known_numbers if n}
    ranked = sorted(people.values(), key=lambda p: (-(p["calls"] + p["messages"]), p["number"]))
    for person in ranked:
        person["known"] = bool(person["number"]) and person["number"][-8:] in known
    return {
        "format": fmt,
        "calls": calls,
        "messages": messages,
        "first": first.isoformat() if first else None,
        "last": last.isoformat() if last else None,
        "counterparts": ranked[:500],
        "counterpart_count": len(ranked),
        "implausible": entries.implausible,
    }
