"""Carriers' call-detail records (通话详单): the spreadsheets (.xlsx) and CSV files that the 中国移动 /
中国联通 / 中国电信 apps and business halls export, one row per connected call.

The header row is found among the first rows (a title, the phone number and the period often come
first) by its column names: 起始时间 / 通话起始时间, 对方号码, 通话时长, 呼叫类型 or 通信方式 (主叫 /
被叫), 通话地点, 通话类型. A file whose columns are not recognised is not guessed at: the person maps
each column once (number, start, duration, direction, type), and the mapping is remembered for that
header row (CarrierMapping, keyed by owner and the header's signature), so next month's file imports
at once. A carrier's record is the strongest evidence of a call a court sees: imported entries carry
the source kind "carrier".
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import IO

from django.conf import settings
from django.utils.translation import gettext as _

from .archives import ArchiveRefused, MiB, XmlLimits, ZipLimits, open_zip, scan_xml
from .models import CarrierMapping

# What a column may be mapped to (the API's `mapping` values), and "location" (detected only).
FIELDS = ("number", "start", "duration", "direction", "type")
HEADER_WORDS = {
    "start": (
        "起始时间",
        "通话起始时间",
        "通信起始时间",
        "开始时间",
        "通话开始时间",
        "呼叫时间",
        "通话时间",
        "起始日期",
        "start time",
        "call start",
        "date/time",
        "date and time",
        "call time",
    ),
    "number": (
        "对方号码",
        "对端号码",
        "对方电话",
        "通话号码",
        "对方手机号",
        "other party",
        "other number",
        "called/calling number",
    ),
    "duration": ("通话时长", "通信时长", "时长", "通话时长(秒)", "duration", "call duration"),
    "direction": ("呼叫类型", "通信方式", "呼叫方式", "主被叫", "主叫/被叫", "direction", "call direction"),
    "type": ("通话类型", "通信类型", "业务类型", "call type"),
    "location": ("通话地点", "通信地点", "本机通话地", "通话地", "location"),
}
DIRECTIONS = {
    "主叫": "outgoing",
    "被叫": "incoming",
    "呼出": "outgoing",
    "呼入": "incoming",
    "outgoing": "outgoing",
    "incoming": "incoming",
    "mo": "outgoing",
    "mt": "incoming",
}
HEADER_SCAN_ROWS = 30
# Rows and columns read from one sheet or CSV; a file with more rows is refused with a message
# naming the limit (a carrier's record of a year holds a few thousand), columns beyond are ignored.
MAX_ROWS = 500_000
MAX_COLUMNS = 256


class CarrierError(ValueError):
    """A carrier file that cannot be read; `headers` is set when its columns need mapping."""

    def __init__(self, message: str, headers: list[str] | None = None):
        super().__init__(message)
        self.headers = headers


def _normal(header) -> str:
    text = re.sub(r"\s+", "", str(header or "")).lower()
    return text.replace("（", "(").replace("）", ")")


def detect_columns(headers: list) -> dict[str, int]:
    """Column index per field, for the headers recognised."""
    found: dict[str, int] = {}
    for index, header in enumerate(headers):
        text = _normal(header)
        if not text:
            continue
        bare = re.sub(r"\(.*?\)", "", text)
        for field, words in HEADER_WORDS.items():
            if field in found:
                continue
            if any(text == _normal(w) or bare == _normal(w) for w in words):
                found[field] = index
                break
    return found


def signature(headers: list) -> str:
    return hashlib.sha256("\x1f".join(_normal(h) for h in headers).encode("utf-8")).hexdigest()


def is_xlsx(head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04")


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace")


def csv_has_carrier_header(head: bytes) -> bool:
    """Does the start of a CSV hold a row with a carrier's time and number columns?"""
    text = _decode(head)
    rows = list(csv.reader(io.StringIO(text.rsplit("\n", 1)[0] if "\n" in text else text)))
    return any({"start", "number"} <= detect_columns(row).keys() for row in rows[:HEADER_SCAN_ROWS])


# --- a spreadsheet, sized up before openpyxl sees it -----------------------------------------------
#
# An .xlsx is a zip of XML parts. openpyxl inflates and parses them as told, so a 1.5 MB file whose
# sheet inflates to gigabytes, or a sheet of a few megabytes with millions of cells in one row, is
# refused first (evidence.archives): members by count, declared size and ratio, then every XML part
# walked once without a tree. The limits are settings (XLSX_MAX_*), for the rare installation that
# needs more.


def xlsx_limits() -> ZipLimits:
    parts = int(getattr(settings, "XLSX_MAX_PART_BYTES", 16 * MiB))
    strings = int(getattr(settings, "XLSX_MAX_STRINGS_BYTES", 32 * MiB))

    def member_cap(name: str) -> int | None:
        # Sheets are read as a stream and share the total; the shared strings are held as a list,
        # and every other XML part (workbook, styles, relations) is parsed whole.
        if name.startswith("xl/worksheets/") and name.endswith(".xml"):
            return None
        if name.endswith("sharedStrings.xml"):
            return strings
        if name.endswith((".xml", ".rels")):
            return parts
        return None  # pictures, printer settings: never read

    return ZipLimits(
        entries=int(getattr(settings, "XLSX_MAX_ENTRIES", 1000)),
        unpacked_bytes=int(getattr(settings, "XLSX_MAX_UNPACKED_BYTES", 256 * MiB)),
        ratio=int(getattr(settings, "XLSX_MAX_RATIO", 100)),
        member_cap=member_cap,
    )


def _xml_limits(name: str) -> XmlLimits:
    if name.endswith("sharedStrings.xml"):
        return XmlLimits(
            group_tags=frozenset({"si"}),
            per_group=4096,
            groups=500_000,
            per_group_message=_(
                "Shared string %(position)d of the spreadsheet holds more than %(limit)d parts; it was not read."
            ),
            groups_message=_("The spreadsheet holds more than %(limit)d different texts; it was not read."),
        )
    return XmlLimits(
        group_tags=frozenset({"row"}),
        per_group=16 * MAX_COLUMNS,
        groups=MAX_ROWS,
        per_group_message=_(
            "Row %(position)d of the spreadsheet holds more than %(limit)d cells and values; a call record has a "
            "few dozen columns. It was not read."
        ),
        groups_message=_(
            "The spreadsheet has more than %(limit)d rows, the most one import may hold; split it and import "
            "the parts."
        ),
    )


def size_up_xlsx(fileobj: IO[bytes]) -> None:
    """Raise ArchiveRefused for a spreadsheet that would cost more to read than any real one, and
    CarrierError for one that is no spreadsheet. Checked once per file object."""
    if getattr(fileobj, "xlsx_sized_up", False):
        return
    fileobj.seek(0)
    try:
        with open_zip(fileobj, xlsx_limits()) as archive:
            for info in archive.infolist():
                if info.filename.endswith((".xml", ".rels")) and not info.is_dir():
                    with archive.open(info) as stream:
                        scan_xml(stream, info.filename, _xml_limits(info.filename))
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CarrierError(
            _("This is not a spreadsheet that can be read (%(error)s).") % {"error": exc}
        ) from None
    finally:
        fileobj.seek(0)
    # Marked, so reading the rows does not size the same upload up again; a file object that takes
    # no attributes is simply sized up again.
    with contextlib.suppress(AttributeError):
        fileobj.xlsx_sized_up = True


def _rows(fileobj: IO[bytes], fmt: str) -> Iterator[list]:
    fileobj.seek(0)
    if fmt == "carrier_xlsx":
        size_up_xlsx(fileobj)
        # openpyxl (with numpy and lxml under it, some 35 MB) loads with the first spreadsheet
        # imported, not with every web and worker process.
        from openpyxl import load_workbook  # noqa: PLC0415
        from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

        try:
            book = load_workbook(fileobj, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise CarrierError(
                _("This is not a spreadsheet that can be read (%(error)s).") % {"error": exc}
            ) from None
        try:
            sheet = book.worksheets[0]
            # As wide as the sheet says it is (its dimension), never wider than MAX_COLUMNS.
            declared = sheet.max_column if isinstance(sheet.max_column, int) and sheet.max_column > 0 else 0
            width = min(declared or MAX_COLUMNS, MAX_COLUMNS)
            rows = sheet.iter_rows(max_row=MAX_ROWS + 1, max_col=width, values_only=True)
            for count, row in enumerate(rows):
                if count >= MAX_ROWS:
                    raise CarrierError(_too_many_rows())
                yield list(row)
        finally:
            book.close()
        return
    # UTF-8 (with or without BOM), else GB18030 (Chinese Excel's "CSV"): decided from the start,
    # then read as a stream.
    head = fileobj.read(1 << 16)
    fileobj.seek(0)
    encoding = "utf-8-sig"
    try:
        head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut at the end of the sample
            encoding = "gb18030"
    text = io.TextIOWrapper(fileobj, encoding=encoding, errors="replace", newline="")
    try:
        for count, row in enumerate(csv.reader(text)):
            if count >= MAX_ROWS:
                raise CarrierError(_too_many_rows())
            yield row[:MAX_COLUMNS]
    except csv.Error as exc:  # e.g. a field beyond the csv module's limit: not a call record
        raise CarrierError(
            _("This is not a spreadsheet that can be read (%(error)s).") % {"error": exc}
        ) from None
    finally:
        text.detach()


def _too_many_rows() -> str:
    return _(
        "The spreadsheet has more than %(limit)d rows, the most one import may hold; split it and import "
        "the parts."
    ) % {"limit": MAX_ROWS}


def read_header(
    fileobj: IO[bytes], fmt: str, mapping: dict | None = None
) -> tuple[int, list[str], dict, str]:
    """(header row index, headers, column per field, year hint from the title rows)."""
    year_hint = ""
    best: tuple[int, list] | None = None
    for index, row in enumerate(_rows(fileobj, fmt)):
        if index >= HEADER_SCAN_ROWS:
            break
        cells = ["" if v is None else str(v).strip() for v in row]
        if not any(cells):
            continue
        if mapping:
            if any(h in mapping for h in cells):
                columns = {
                    field: cells.index(h) for h, field in mapping.items() if h in cells and field in FIELDS
                }
                return index, cells, columns, year_hint
        columns = detect_columns(cells)
        if {"start", "number"} <= columns.keys():
            return index, cells, columns, year_hint
        year = re.search(r"(20\d{2})\s*[年\-/.]", " ".join(cells))
        if year and not year_hint:
            year_hint = year.group(1)
        if best is None and sum(bool(c) for c in cells) >= 3:
            best = (index, cells)
    headers = best[1] if best else []
    raise CarrierError(
        _(
            "The columns of this call record were not recognised (found: %(found)s). Choose which column "
            "holds the number, the start time, the duration and the direction; the choice is remembered "
            "for files with the same columns."
        )
        % {"found": ", ".join(h for h in headers if h) or "-"},
        headers=[h for h in headers],
    )


_DATE_TIME = re.compile(
    r"(?:(?P<y>20\d{2})\s*[-/.年]\s*)?(?P<mo>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?[\sT]*"
    r"(?P<h>\d{1,2})\s*[:：时]\s*(?P<mi>\d{2})(?:\s*[:：分]\s*(?P<s>\d{2}))?"
)
_COMPACT = re.compile(r"(?P<y>20\d{2})(?P<mo>\d{2})(?P<d>\d{2})(?P<h>\d{2})(?P<mi>\d{2})(?P<s>\d{2})")


def parse_start(value, tz, year_hint: str = "") -> datetime | None:
    """A call's start, aware, in the phone owner's zone: an Excel date cell or text."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=tz) if value.tzinfo is None else value
    if isinstance(value, date):
        return None  # a date without a time
    text = str(value or "").strip()
    match = _COMPACT.fullmatch(text) or _DATE_TIME.search(text)
    if not match:
        return None
    year = match["y"] or year_hint
    if not year:
        return None
    try:
        return datetime(
            int(year),
            int(match["mo"]),
            int(match["d"]),
            int(match["h"]),
            int(match["mi"]),
            int(match["s"] or 0),
            tzinfo=tz,
        )
    except ValueError:
        return None


_HMS = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})")
_CN_DURATION = re.compile(r"(?:(\d+)\s*(?:小时|时))?\s*(?:(\d+)\s*分(?:钟)?)?\s*(?:(\d+)\s*秒)?")


def parse_duration(value) -> int | None:
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, time):
        return value.hour * 3600 + value.minute * 60 + value.second
    if isinstance(value, int | float):
        return int(value) if 0 <= value < 86400 else None
    text = str(value or "").strip()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if match := _HMS.fullmatch(text):
        return int(match.group(1) or 0) * 3600 + int(match.group(2)) * 60 + int(match.group(3))
    match = _CN_DURATION.fullmatch(text)
    if match and any(match.groups()):
        hours, minutes, seconds = (int(g or 0) for g in match.groups())
        return hours * 3600 + minutes * 60 + seconds
    match = re.fullmatch(r"(\d+)\s*['′]\s*(\d+)\s*[\"″]?", text)
    if match:
        return int(match.group(1)) * 60 + int(match.group(2))
    return None


def parse_direction(value) -> str:
    text = _normal(value)
    for word, direction in DIRECTIONS.items():
        if text.startswith(word):
            return direction
    return "other"


def iter_rows(fileobj: IO[bytes], fmt: str, tz, mapping: dict | None = None) -> Iterator[dict | None]:
    """One dict per call row: {"number", "at", "duration", "direction", "type", "location",
    "position"}; None for a row whose start cannot be read (counted as implausible)."""
    header_index, headers, columns, year_hint = read_header(fileobj, fmt, mapping)
    if not {"start", "number"} <= columns.keys():
        raise CarrierError(_("Map at least the number and the start time."), headers=headers)
    return _iter_rows(fileobj, fmt, tz, header_index, columns, year_hint)


def _iter_rows(fileobj, fmt, tz, header_index, columns, year_hint) -> Iterator[dict | None]:
    def cell(row, field):
        index = columns.get(field)
        return row[index] if index is not None and index < len(row) else None

    for index, row in enumerate(_rows(fileobj, fmt)):
        if index <= header_index or not any(v not in (None, "") for v in row):
            continue
        number_cell = cell(row, "number")
        start_cell = cell(row, "start")
        if number_cell in (None, "") and start_cell in (None, ""):
            continue  # a total row, a footnote
        yield {
            "position": index + 1,
            "number": str(number_cell or "").strip(),
            "at": parse_start(start_cell, tz, year_hint),
            "duration": parse_duration(cell(row, "duration")),
            "direction": parse_direction(cell(row, "direction")) if "direction" in columns else "other",
            "type": str(cell(row, "type") or "").strip(),
            "location": str(cell(row, "location") or "").strip(),
        }


def header_of(fileobj: IO[bytes], fmt: str) -> list[str]:
    """The header row of a carrier file (for the mapping form), recognised or not."""
    try:
        return read_header(fileobj, fmt)[1]
    except CarrierError as exc:
        return exc.headers or []


def offer_headers(fileobj) -> list[str] | None:
    """The header row a person could map, for a spreadsheet or CSV; None for other files."""
    fileobj.seek(0)
    head = fileobj.read(4096)
    fileobj.seek(0)
    if is_xlsx(head):
        fmt = "carrier_xlsx"
    elif b"," in head and not head.lstrip(b"\xef\xbb\xbf").lstrip().startswith(b"<"):
        fmt = "carrier_csv"
    else:
        return None
    try:
        headers = header_of(fileobj, fmt)
    except ArchiveRefused:
        return None  # refused when it is imported, with the reason
    finally:
        fileobj.seek(0)
    return headers or None


def remembered_mapping(*, owner, headers: list[str]) -> dict | None:
    row = CarrierMapping.objects.filter(owner=owner, signature=signature(headers)).first()
    return dict(row.mapping) if row else None


def mapping_remember(*, owner, headers: list[str], mapping: dict) -> CarrierMapping:
    clean = {h: f for h, f in mapping.items() if f in FIELDS and h in headers}
    row, _created = CarrierMapping.objects.update_or_create(
        owner=owner, signature=signature(headers), defaults={"headers": headers, "mapping": clean}
    )
    return row


def clean_mapping(raw) -> dict:
    """A mapping as sent by a form or the API: {column header: field}. Raises ValueError."""
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ValueError(_("The mapping must be an object of column header → field."))
    chosen = {k.strip(): v for k, v in raw.items() if v and v != "ignore"}
    unknown = sorted({v for v in chosen.values() if v not in FIELDS})
    if unknown:
        raise ValueError(
            _("Unknown fields in the mapping: %(fields)s. Use %(allowed)s.")
            % {"fields": ", ".join(unknown), "allowed": ", ".join(FIELDS)}
        )
    fields = list(chosen.values())
    if len(fields) != len(set(fields)):
        raise ValueError(_("Each field can be mapped to one column only."))
    return chosen
