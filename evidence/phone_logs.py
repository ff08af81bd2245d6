"""Reading the call and message logs phones export: SMS Backup & Restore calls.xml / sms.xml (and Call
Logs Backup & Restore, which writes the same <calls>), OPPO/ColorOS's own call log (<CallLog>), the
<SMSRecord> message backup of some Chinese phones, and the iMazing call CSV (phone-formats.md).

Parsing is incremental (memory stays flat on years of history) and safe: defusedxml refuses DTDs,
entities and external references. Times come from the epoch field, never from readable_date. Emoji
written as surrogate-pair character references are merged into one code point before parsing.
"""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import timezone as dt_timezone
from typing import IO
from xml.etree.ElementTree import ParseError, TreeBuilder
from xml.parsers import expat

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import iterparse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import carrier
from .metadata import HANDLE_LENGTH, normalise_number


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
    # The app an iMazing call went through (WhatsApp Audio, Signal Audio, FaceTime Audio…), "" for
    # the phone. An app call is imported as a call; its description names the app, and its
    # counterpart is the app's handle as written when that is no phone number.
    service: str = ""
    # How the merge names this entry's source (evidence.merging.SOURCE_KINDS): "carrier" for a
    # carrier's call-detail record, the strongest record of a call.
    source_kind: str = "import"

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
IMAZING_OPTIONAL = ("contact", "location", "service")

# The first element of an XML file, past <?xml …?>, a stylesheet instruction and a DOCTYPE.
_FIRST_ELEMENT = re.compile(rb"<([A-Za-z_][\w.:-]*)")
XML_ROOTS = {
    "calls": "calls_xml",
    "smses": "sms_xml",
    "calllog": "oppo_calls_xml",
    "smsrecord": "smsrecord_xml",
}


def detect_format(head: bytes) -> str:
    """calls_xml, sms_xml (SMS Backup & Restore), oppo_calls_xml (OPPO/ColorOS <CallLog>),
    smsrecord_xml (<SMSRecord>), imazing_csv (with or without its header row); "xml" and "csv" for
    others of those kinds, whose parser says what is wrong; else "unknown"."""
    if carrier.is_xlsx(head):
        return "carrier_xlsx"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        match = _FIRST_ELEMENT.search(text)
        return XML_ROOTS.get(match.group(1).decode("ascii", "replace").lower(), "xml") if match else "xml"
    first_line = text.split(b"\n", 1)[0].decode("utf-8", "replace").strip("\r")
    if all(column in first_line.lower() for column in IMAZING_COLUMNS):
        return "imazing_csv"
    if _headerless_layout(list(csv.reader([first_line]))):
        return "imazing_csv"
    if carrier.csv_has_carrier_header(head):
        return "carrier_csv"
    if "," in first_line:
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


def ascii_int(value: str | None) -> int | None:
    """A non-negative integer written in ASCII digits (at most 18 of them), else None."""
    return int(value) if value and _ASCII_NUMBER.fullmatch(value) else None


def _latest() -> datetime:
    return datetime.now(UTC) + FUTURE_SLACK


def _epoch(value: str | None, latest: datetime) -> datetime | None:
    """An epoch time in milliseconds (ten digits or fewer: seconds, as some exports write them in
    <sms> and <mms>), or None when it is unreadable or implausible."""
    number = ascii_int((value or "").strip())
    if number is None:
        return None
    millis = number * 1000 if number < _SECONDS_BELOW else number
    if not EARLIEST.timestamp() * 1000 <= millis <= latest.timestamp() * 1000:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


# --- local date strings (iMazing CSV, <SMSRecord>) -------------------------------------------------
#
# Year first (2024-03-15 14:30:22, 2024/03/15 14:30) is unambiguous. Day and month written first
# (15/03/2024, 03/15/2024, 02/06/17 09:45 with a two-digit year) are told apart from the whole
# file: a first number above 12 can only be a day, a second above 12 only a day too. A file showing
# both is refused (two orders in one file cannot be read without guessing); a file showing neither
# is ambiguous: the preview shows the choice, with the format's usual order as the default.

DAY_FIRST, MONTH_FIRST = "dmy", "mdy"
DATE_ORDERS = (DAY_FIRST, MONTH_FIRST)
_TIME = r"(?:[ T,]+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,]\d{1,9})?)?(?:\s*(?P<ampm>[AaPp])\.?[Mm]\.?)?)"
# re.ASCII: \d is 0-9 only, so full-width or superscript digits are never read as a date.
_YEAR_FIRST = re.compile(
    r"(?P<y>\d{4})[-/.](?P<a>\d{1,2})[-/.](?P<b>\d{1,2})" + _TIME + r"(?P<zone>Z|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)
_SLASHED = re.compile(r"(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<y>\d{4}|\d{2})" + _TIME, re.ASCII)


def _slashed_parts(text: str) -> tuple[int, int] | None:
    match = _SLASHED.fullmatch(text.strip())
    return (int(match["a"]), int(match["b"])) if match else None


def settle_date_order(values, *, default: str, chosen: str | None = None) -> dict | None:
    """Which order the day/month dates of a file are in, from all of them.

    Returns None when no date has its day and month first; else {"order", "ambiguous", "sample"}:
    the order the file shows, or (ambiguous) `chosen`, else `default`. Raises PhoneLogError when
    the file shows both orders."""
    if chosen not in (None, "", *DATE_ORDERS):
        raise PhoneLogError(_("Unknown date order “%(order)s”: use dmy or mdy.") % {"order": chosen})
    day_first = month_first = sample = ""
    for value in values:
        parts = _slashed_parts(value or "")
        if parts is None:
            continue
        sample = sample or value.strip()
        first, second = parts
        if first > 12 >= second:
            day_first = day_first or value.strip()
        elif second > 12 >= first:
            month_first = month_first or value.strip()
    if day_first and month_first:
        raise PhoneLogError(
            _(
                "The dates in this file are written in two orders: “%(day_first)s” can only be day/month, "
                "“%(month_first)s” only month/day. It cannot be read without guessing, so nothing was "
                "imported. Export it again with one date format."
            )
            % {"day_first": day_first, "month_first": month_first}
        )
    if not sample:
        return None
    if day_first or month_first:
        return {
            "order": DAY_FIRST if day_first else MONTH_FIRST,
            "ambiguous": False,
            "sample": day_first or month_first,
        }
    return {"order": chosen or default, "ambiguous": True, "sample": sample}


def _local_time(text: str, tz, latest: datetime, order: str | None = None) -> datetime | None:
    """A local date and time string in the phone's time zone, as UTC, or None when unreadable or
    implausible. Day/month strings need `order` (settle_date_order)."""
    text = (text or "").strip()
    match = _YEAR_FIRST.fullmatch(text)
    if match:
        month, day = int(match["a"]), int(match["b"])
    else:
        match = _SLASHED.fullmatch(text)
        if not match or order not in DATE_ORDERS:
            return None
        first, second = int(match["a"]), int(match["b"])
        day, month = (first, second) if order == DAY_FIRST else (second, first)
    year = int(match["y"]) + (2000 if len(match["y"]) == 2 else 0)
    hour, minute, second_ = int(match["h"]), int(match["mi"]), int(match["s"] or 0)
    if match["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match["ampm"] in "Pp" else 0)
    zone = match.groupdict().get("zone")
    if zone:  # an ISO time that states its offset is read with it
        sign, digits = (1 if zone[0] == "+" else -1), zone[1:].replace(":", "")
        tz = (
            UTC
            if zone == "Z"
            else dt_timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        )
    try:
        moment = datetime(year, month, day, hour, minute, second_, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):  # 2024-02-30; year 0001 or 9999 shifted out of range
        return None
    return moment if EARLIEST <= moment <= latest else None


def sample_reading(sample: str, order: str) -> date | None:
    """The calendar day a day/month date string stands for in `order` (the preview's choice)."""
    moment = _local_time(sample, UTC, datetime.max.replace(tzinfo=UTC), order)
    return moment.date() if moment else None


def _duration(value: str | None) -> int | None:
    seconds = ascii_int((value or "").strip())
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
    counted in `implausible` (the parsers yield None for them). `date_order` is what
    settle_date_order found for a file of local day/month dates (None otherwise)."""

    def __init__(self, items: Iterator[Entry | None], date_order: dict | None = None):
        self._items = items
        self.implausible = 0
        self.date_order = date_order

    def __iter__(self) -> Entries:
        return self

    def __next__(self) -> Entry:
        while True:
            item = next(self._items)
            if item is not None:
                return item
            self.implausible += 1


# --- counterparts --------------------------------------------------------------------------------

# What Android and some exports write for a caller who withheld the number.
_HIDDEN = {"", "unknown", "private", "private number", "restricted", "anonymous", "withheld", "unavailable"}


# An export repeats a few hundred numbers across 100,000 entries: each distinct spelling is
# normalised once (a bounded cache, so a file of all-different numbers costs no more than before).
@functools.lru_cache(maxsize=8192)
def counterpart(raw: str | None) -> str:
    """The other party as stored: a phone number normalised (digits, leading +), a sender that is
    no phone number (e-mail address, short code written with letters, alphanumeric sender, an
    app's handle) kept as written and at most 64 characters (metadata.normalise_number), "" for a
    withheld number (-1, -2, -3, "Private", "Unknown")."""
    text = " ".join((raw or "").split())
    if text.lower() in _HIDDEN or text.startswith("-") or text == "null":
        return ""
    return normalise_number(text)


# --- XML parsers ---------------------------------------------------------------------------------


def _attr(element, name: str) -> str:
    value = element.get(name) or ""
    return "" if value == "null" else value


def _name(element, attribute: str = "contact_name") -> str:
    name = _attr(element, attribute).strip()
    return "" if name in ("(Unknown)", "") else name


def _children(element) -> dict[str, str]:
    """An element's child elements as {lower-case tag: text}."""
    return {child.tag.lower(): (child.text or "") for child in element}


def _call_number(element) -> str:
    # presentation 2 restricted, 3 unknown, 4 payphone, 5 unavailable: no number to keep.
    if ascii_int(_attr(element, "presentation")) in (2, 3, 5):
        return ""
    return counterpart(_attr(element, "number"))


def iter_xml(fileobj: IO[bytes], tz=UTC, date_order: dict | None = None) -> Entries:
    """Entries of calls.xml, sms.xml, an OPPO <CallLog> or an <SMSRecord> backup, one at a time.
    Raises PhoneLogError on anything unsafe, truncated or of another kind."""
    order = date_order["order"] if date_order else None
    return Entries(_xml_items(fileobj, tz, order), date_order)


def _xml_events(fileobj: IO[bytes]):
    fileobj.seek(0)
    stream = io.BufferedReader(SurrogateRepairingReader(fileobj))
    try:
        yield from iterparse(stream, events=("start", "end"), forbid_dtd=True)
    except DefusedXmlException:
        raise _refused() from None
    except ParseError as exc:
        raise _not_valid(*getattr(exc, "position", (0, 0))) from None


def _refused() -> PhoneLogError:
    return PhoneLogError(
        _(
            "The file declares a DTD or entities, which phone backups never do; it was "
            "refused for safety. Nothing was imported."
        )
    )


def _not_valid(line: int, column: int) -> PhoneLogError:
    return PhoneLogError(
        _("The file is incomplete or not valid XML (line %(line)d, column %(column)d). Nothing was imported.")
        % {"line": line, "column": column}
    )


def _root_kind(tag: str) -> str:
    # SMS Backup & Restore writes its roots in lower case; the phones' own backups vary.
    kind = {"calls": "calls_xml", "smses": "sms_xml"}.get(tag) or {
        "calllog": "oppo_calls_xml",
        "smsrecord": "smsrecord_xml",
    }.get(tag.lower())
    if kind is None:
        raise PhoneLogError(
            _(
                "This XML is not a call or message export we can read (its root element is <%(tag)s>). "
                "Expected SMS Backup & Restore calls.xml or sms.xml (<calls>, <smses>), an OPPO/ColorOS "
                "call log (<CallLog>) or an <SMSRecord> message backup."
            )
            % {"tag": tag}
        )
    return kind


def smsrecord_dates(fileobj: IO[bytes]) -> Iterator[str]:
    """The <Date> texts of an <SMSRecord> backup, for settle_date_order."""
    root = None
    for event, element in _xml_events(fileobj):
        if event == "start":
            root = root if root is not None else element
            continue
        if element.tag.lower() == "sms" and element is not root:
            yield _children(element).get("date", "")
            root.clear()


def _call_entry(element, kind: str, position: int, latest: datetime) -> Entry | None:
    """An SMS Backup & Restore <call> or OPPO/ColorOS <CALL_RECORDS>: the same Android fields."""
    code = ascii_int(_attr(element, "type").strip()) or 0
    at = _epoch(_attr(element, "date"), latest)
    if not at:
        return None
    return Entry(
        kind="call",
        direction=CALL_TYPES.get(code, "other"),
        type_code=code,
        number=_call_number(element),
        at=at,
        duration=_duration(_attr(element, "duration")),
        contact_name=_name(element, "contact_name" if kind == "calls_xml" else "name"),
        position=position,
    )


def _sms_entry(element, position: int, latest: datetime) -> Entry | None:
    code = ascii_int(_attr(element, "type").strip()) or 0
    at = _epoch(_attr(element, "date"), latest)  # milliseconds, or seconds in some files
    if not at:
        return None
    return Entry(
        kind="sms",
        direction=SMS_TYPES.get(code, "other"),
        type_code=code,
        number=counterpart(_attr(element, "address")),
        at=at,
        contact_name=_name(element),
        body=_attr(element, "body"),
        position=position,
    )


def _is_call(kind: str, tag: str) -> bool:
    return kind == "calls_xml" and tag == "call" or kind == "oppo_calls_xml" and tag.lower() == "call_records"


class _TreeNeeded(Exception):
    """An <SMSRecord> backup keeps its fields in child elements: read with the element tree."""


def _refuse_dtd(name, sysid, pubid, _internal_subset):
    raise DTDForbidden(name, sysid, pubid)


def _refuse_entity(name, _is_parameter, value, base, sysid, pubid, notation):
    raise EntitiesForbidden(name, value, base, sysid, pubid, notation)


def _refuse_unparsed_entity(name, base, sysid, pubid, notation):
    raise EntitiesForbidden(name, None, base, sysid, pubid, notation)


def _refuse_external(context, base, sysid, pubid):
    raise ExternalReferenceForbidden(context, base, sysid, pubid)


def _xml_items(fileobj: IO[bytes], tz, order: str | None) -> Iterator[Entry | None]:
    """The entries of an XML export, read straight from expat's callbacks.

    A <call> or <sms> is a single element whose attributes are the whole entry: building an element
    tree for each (what iterparse does) cost more than reading the entry, so the attributes are
    taken as expat hands them over; only an <mms> (parts and addresses in child elements) is built
    as a small tree. The parser keeps defusedxml's guarantees: a DTD, an entity declaration or an
    external reference stops it (DTDForbidden...), so no entity is ever expanded. An <SMSRecord>
    backup is read by the element-tree parser (`_tree_items`)."""
    latest = _latest()
    fileobj.seek(0)
    stream = io.BufferedReader(SurrogateRepairingReader(fileobj))
    # "}" as namespace separator, as ElementTree's parser: a namespaced tag reads "{uri}tag" alike.
    parser = expat.ParserCreate(None, "}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_entity
    parser.UnparsedEntityDeclHandler = _refuse_unparsed_entity
    parser.ExternalEntityRefHandler = _refuse_external
    ended: list[tuple[str, object]] = []  # (tag, attributes or element) in the order they closed
    open_attributes: list[dict] = []
    state = {"kind": None, "tree": None, "depth": 0}

    def start(tag, attributes):
        if "}" in tag:
            tag = "{" + tag
        if state["tree"] is not None:  # inside an <mms>
            state["tree"].start(tag, attributes)
            state["depth"] += 1
            return
        if state["kind"] is None:
            state["kind"] = _root_kind(tag)
            if state["kind"] == "smsrecord_xml":
                raise _TreeNeeded
        elif state["kind"] == "sms_xml" and tag == "mms":
            state["tree"] = TreeBuilder()
            state["tree"].start(tag, attributes)
            state["depth"] = 1
            return
        open_attributes.append(attributes)

    def end(tag):
        if "}" in tag:
            tag = "{" + tag
        tree = state["tree"]
        if tree is not None:
            tree.end(tag)
            state["depth"] -= 1
            if not state["depth"]:
                ended.append((tag, tree.close()))
                state["tree"] = None
            return
        ended.append((tag, open_attributes.pop()))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    position = 0
    try:
        while True:
            data = stream.read(1 << 16)
            parser.Parse(data, not data)
            kind = state["kind"]
            for tag, element in ended:
                if _is_call(kind, tag):
                    position += 1
                    yield _call_entry(element, kind, position, latest)
                elif kind == "sms_xml" and tag == "sms":
                    position += 1
                    yield _sms_entry(element, position, latest)
                elif kind == "sms_xml" and tag == "mms":
                    position += 1
                    yield _mms_entry(element, position, latest)
            ended.clear()
            if not data:
                break
    except _TreeNeeded:
        yield from _tree_items(fileobj, tz, order)
    except DefusedXmlException:
        raise _refused() from None
    except expat.ExpatError as exc:
        raise _not_valid(exc.lineno, exc.offset) from None
    if state["kind"] is None:
        raise PhoneLogError(_("The file is empty."))


def _tree_items(fileobj: IO[bytes], tz, order: str | None) -> Iterator[Entry | None]:
    """The entries of an export read through an element tree (iterparse, pruned as it goes)."""
    latest = _latest()
    root = kind = None
    position = 0
    for event, element in _xml_events(fileobj):
        if event == "start":
            if root is None:
                root, kind = element, _root_kind(element.tag)
            continue
        tag = element.tag
        if _is_call(kind, tag):
            position += 1
            yield _call_entry(element, kind, position, latest)
            root.clear()
        elif kind == "sms_xml" and tag == "sms":
            position += 1
            yield _sms_entry(element, position, latest)
            root.clear()
        elif kind == "sms_xml" and tag == "mms":
            position += 1
            yield _mms_entry(element, position, latest)
            root.clear()
        elif kind == "smsrecord_xml" and tag.lower() == "sms" and element is not root:
            position += 1
            fields = _children(element)
            code = ascii_int(fields.get("type", "").strip()) or 0
            at = _local_time(fields.get("date", ""), tz, latest, order)
            yield (
                Entry(
                    kind="sms",
                    direction=SMS_TYPES.get(code, "other"),
                    type_code=code,
                    number=counterpart(fields.get("address")),
                    at=at,
                    contact_name=(fields.get("name") or fields.get("contactname") or "").strip(),
                    body=fields.get("body", ""),
                    position=position,
                )
                if at
                else None
            )
            root.clear()
    if root is None:
        raise PhoneLogError(_("The file is empty."))


def _mms_entry(element, position: int, latest: datetime) -> Entry | None:
    code = ascii_int(_attr(element, "msg_box").strip()) or 0
    texts, images = [], []
    for part in element.iter("part"):
        content_type = _attr(part, "ct")
        if content_type == "text/plain" and _attr(part, "text"):
            texts.append(_attr(part, "text"))
        elif content_type.startswith("image/") and _attr(part, "data"):
            images.append((content_type, _attr(part, "data")))
    sender = recipient = ""
    for addr in element.iter("addr"):
        if _attr(addr, "type") == "137" and not sender:
            sender = _attr(addr, "address")
        elif _attr(addr, "type") == "151" and not recipient:
            recipient = _attr(addr, "address")
    # A group MMS lists several addresses (<addrs>, and "~"-joined in address): the sender of a
    # received one, else the first recipient. An address may be an e-mail address or a short code.
    listed = _attr(element, "address").split("~")[0]
    number = (sender if code == 1 and sender else recipient if code == 2 and recipient else "") or listed
    at = _epoch(_attr(element, "date"), latest)  # MMS dates are often in seconds
    if not at:
        return None
    return Entry(
        kind="sms",
        direction={1: "received", 2: "sent"}.get(code, "other"),
        type_code=code,
        number=counterpart(number),
        at=at,
        contact_name=_name(element),
        body="\n".join(texts),
        position=position,
        images=images,
    )


# --- iMazing call CSV ----------------------------------------------------------------------------


def _hms(value: str) -> int | None:
    """h:mm:ss, m:ss or plain seconds; None when unreadable or longer than a day."""
    parts = (value or "").strip().split(":")
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
    "unanswered": ("missed", 3),
    "cancelled": ("missed", 3),
    "canceled": ("missed", 3),
    "voicemail": ("voicemail", 4),
    "blocked": ("blocked", 6),
    "rejected": ("rejected", 5),
    "declined": ("rejected", 5),
}

# Service values that are the phone itself ("Phone", "Phone: +1234567890", "iPhone"); any other
# (FaceTime Audio, WhatsApp Audio/Video, Signal Audio, Teams Audio…) is an app call.
_PHONE_SERVICES = {"", "phone", "iphone", "cellular", "mobile", "telephone", "sim", "carrier"}
_PHONE_TEXT = re.compile(r"\+?[\d\s().\-/]*")  # what a phone number may be written with
_DURATION_TEXT = re.compile(r"\d{1,3}:\d{2}(?::\d{2})?|\d{1,5}", re.ASCII)


def app_service(service: str) -> str:
    """The app an iMazing call went through ("" for a phone call)."""
    service = (service or "").strip()
    return "" if service.split(":", 1)[0].strip().lower() in _PHONE_SERVICES else service


def _cell(row: list[str], columns: dict[str, int], name: str) -> str:
    """A row's value in the named column; "" when the row is shorter or the column absent."""
    index = columns.get(name)
    return row[index] if index is not None and index < len(row) else ""


def _headerless_layout(rows: list[list[str]]) -> dict[str, int] | None:
    """The columns of an iMazing export written without its header row (iMazing 2), found from the
    values: the call type, the date and the duration where they are; the other columns, in order,
    are number, contact, location and service (iMazing's own order). None when it does not look
    like one."""
    rows = [row for row in rows if any(value.strip() for value in row)]
    if not rows:
        return None
    width = min(len(row) for row in rows)

    def column(test, taken) -> int | None:
        for index in range(width):
            if index not in taken and all(test(row[index].strip()) for row in rows):
                return index
        return None

    type_col = column(lambda v: v.lower() in IMAZING_TYPES, set())
    if type_col is None:
        return None
    date_col = column(lambda v: bool(_YEAR_FIRST.fullmatch(v) or _SLASHED.fullmatch(v)), {type_col})
    if date_col is None:
        return None
    layout = {"call type": type_col, "date": date_col}
    duration_col = column(lambda v: bool(_DURATION_TEXT.fullmatch(v)), {type_col, date_col})
    if duration_col is not None:
        layout["duration"] = duration_col
    rest = [index for index in range(max(len(row) for row in rows)) if index not in layout.values()]
    layout.update(zip(("number", *IMAZING_OPTIONAL), rest, strict=False))
    return layout


class _CsvFile:
    """An iMazing CSV opened for one pass: its layout (from the header row, or from the values when
    it has none) and its data rows. Raises PhoneLogError when it is neither."""

    def __init__(self, fileobj: IO[bytes]):
        fileobj.seek(0)
        self.text = io.TextIOWrapper(fileobj, encoding="utf-8-sig", errors="replace", newline="")
        self.reader = csv.reader(self.text)
        try:
            first = next(self.reader, None)
            while first is not None and not any(value.strip() for value in first):
                first = next(self.reader, None)
            if not first:
                raise PhoneLogError(_("The file is empty."))
            columns = {name.strip().lower(): index for index, name in enumerate(first)}
            self.head: list[list[str]] = []
            if all(c in columns for c in IMAZING_COLUMNS):
                self.columns = columns
                return
            self.head = [first, *itertools.islice(self.reader, 19)]
            layout = _headerless_layout(self.head)
            if layout is None:
                missing = [c for c in IMAZING_COLUMNS if c not in columns]
                raise PhoneLogError(
                    _(
                        "This CSV does not have iMazing's call columns (Call type, Date, Duration, Number); "
                        "missing: %(missing)s. Found: %(found)s."
                    )
                    % {"missing": ", ".join(missing), "found": ", ".join(h.strip() for h in first)}
                )
            self.columns = layout
        except BaseException:
            self.close()
            raise

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        try:
            for row in itertools.chain(self.head, self.reader):
                if any(value.strip() for value in row):
                    yield self.reader.line_num, row
        except csv.Error:
            raise PhoneLogError(
                _("The CSV cannot be read (line %(line)d). Nothing was imported.")
                % {"line": self.reader.line_num}
            ) from None

    def close(self) -> None:
        self.text.detach()


def imazing_dates(fileobj: IO[bytes]) -> Iterator[str]:
    """The Date values of an iMazing CSV, for settle_date_order."""
    source = _CsvFile(fileobj)
    try:
        for _line, row in source.rows():
            yield _cell(row, source.columns, "date")
    finally:
        source.close()


def iter_imazing_csv(fileobj: IO[bytes], tz, date_order: dict | None = None) -> Entries:
    order = date_order["order"] if date_order else None
    return Entries(_csv_items(fileobj, tz, order), date_order)


def _csv_items(fileobj: IO[bytes], tz, order: str | None) -> Iterator[Entry | None]:
    latest = _latest()
    source = _CsvFile(fileobj)
    columns = source.columns
    try:
        for position, (_line, row) in enumerate(source.rows(), start=1):
            moment = _local_time(_cell(row, columns, "date"), tz, latest, order)
            if moment is None:
                yield None
                continue
            kind_text = _cell(row, columns, "call type").strip().lower()
            direction, code = IMAZING_TYPES.get(kind_text, ("other", 0))
            service = app_service(_cell(row, columns, "service"))
            raw_number = _cell(row, columns, "number")
            contact = _cell(row, columns, "contact").strip()
            if service and not _PHONE_TEXT.fullmatch(raw_number.strip()):
                # An app call's "number" may be a UUID (Signal) or a meeting name (Teams): kept as
                # written, never turned into digits.
                number = " ".join(raw_number.split())[:HANDLE_LENGTH]
            else:
                number = counterpart(raw_number)
            yield Entry(
                kind="call",
                direction=direction,
                type_code=code,
                number=number,
                at=moment,
                duration=_hms(_cell(row, columns, "duration")),
                contact_name=contact,
                body=_("Call via %(service)s") % {"service": service} if service else "",
                position=position,
                service=service,
            )
    finally:
        source.close()


# Formats whose dates are local strings, with the order assumed when the file does not show it:
# iMazing is US software (month first); <SMSRecord> backups come from Chinese phones, which write
# the year first, and otherwise day first.
LOCAL_DATE_FORMATS = {
    "imazing_csv": (MONTH_FIRST, imazing_dates),
    "smsrecord_xml": (DAY_FIRST, smsrecord_dates),
}


def iter_entries(
    fileobj: IO[bytes], tz, date_order: str | None = None, mapping: dict | None = None
) -> tuple[str, Entries]:
    """The format of an export and its entries. `date_order` ("dmy" or "mdy") is the person's
    choice for a file whose day/month order is ambiguous; it is ignored when the file shows its
    order. `mapping` ({column header: field}) reads a CSV or spreadsheet as a carrier's call
    record with those columns (evidence/carrier.py)."""
    fileobj.seek(0)
    fmt = detect_format(fileobj.read(4096))
    fileobj.seek(0)
    if fmt in CARRIER_FORMATS or (mapping and fmt == "csv"):
        fmt = "carrier_xlsx" if fmt == "carrier_xlsx" else "carrier_csv"
        return fmt, iter_carrier(fileobj, tz, fmt, mapping)
    if fmt in ("csv", "imazing_csv") or fmt in LOCAL_DATE_FORMATS:
        default, dates = LOCAL_DATE_FORMATS.get(fmt, LOCAL_DATE_FORMATS["imazing_csv"])
        settled = settle_date_order(dates(fileobj), default=default, chosen=date_order)
        fileobj.seek(0)
        if fmt == "smsrecord_xml":
            return fmt, iter_xml(fileobj, tz, settled)
        return fmt, iter_imazing_csv(fileobj, tz, settled)
    if fmt in ("calls_xml", "sms_xml", "oppo_calls_xml", "xml"):
        return fmt, iter_xml(fileobj, tz)
    raise PhoneLogError(
        _(
            "This is neither an SMS Backup & Restore XML (calls.xml, sms.xml), an OPPO/ColorOS call log, "
            "an <SMSRecord> message backup nor an iMazing call CSV."
        ),
        unsupported=True,
    )


# --- carriers' call-detail records ---------------------------------------------------------------

CARRIER_FORMATS = ("carrier_xlsx", "carrier_csv")


class MappingNeeded(PhoneLogError):
    """A carrier's record whose columns were not recognised: `headers` are offered for mapping."""

    def __init__(self, message: str, headers: list[str]):
        super().__init__(message)
        self.headers = headers


def iter_carrier(fileobj: IO[bytes], tz, fmt: str, mapping: dict | None = None) -> Entries:
    try:
        rows = carrier.iter_rows(fileobj, fmt, tz, mapping)
    except carrier.CarrierError as exc:
        if exc.headers is not None:
            raise MappingNeeded(str(exc), exc.headers) from None
        raise PhoneLogError(str(exc)) from None
    return Entries(_carrier_items(rows))


def _carrier_items(rows) -> Iterator[Entry | None]:
    latest = _latest()
    codes = {"incoming": 1, "outgoing": 2}
    try:
        for row in rows:
            moment = row["at"]
            if moment is None or not (EARLIEST <= moment.astimezone(UTC) <= latest):
                yield None
                continue
            details = " · ".join(part for part in (row["type"], row["location"]) if part)
            yield Entry(
                kind="call",
                direction=row["direction"],
                type_code=codes.get(row["direction"], 0),
                number=counterpart(row["number"]),
                at=moment.astimezone(UTC),
                duration=row["duration"]
                if row["duration"] is not None and row["duration"] <= LONGEST_CALL
                else None,
                body=_("Carrier's call record: %(details)s") % {"details": details}
                if details
                else _("Carrier's call record"),
                position=row["position"],
                source_kind="carrier",
            )
    except carrier.CarrierError as exc:
        raise PhoneLogError(str(exc)) from None


def decode_image(data: str) -> bytes | None:
    try:
        return base64.b64decode(data, validate=False)
    except (ValueError, TypeError):
        return None


# --- preview -------------------------------------------------------------------------------------


def summarise(
    fileobj: IO[bytes],
    *,
    tz,
    known_numbers: set[str],
    date_order: str | None = None,
    mapping: dict | None = None,
) -> dict:
    """What a person sees before importing: counts, date range, counterparts ranked by count, how
    many at night, and which are already known collectors of the case. An entry the export repeats
    verbatim is counted once (`repeated` says how many were). `date_order` is settle_date_order's
    finding for files of local day/month dates: when "ambiguous", the page offers the choice."""
    fmt, entries = iter_entries(fileobj, tz, date_order, mapping)
    calls = messages = repeated = 0
    first = last = None
    people: dict[str, dict] = {}
    seen: set[str] = set()
    for entry in entries:
        key = entry.key
        if key in seen:
            repeated += 1
            continue
        seen.add(key)
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
        "repeated": repeated,
        "date_order": entries.date_order,
        **({"mapping": mapping} if mapping else {}),
    }
