"""What a file says about itself: capture time (EXIF), recording duration, time and number in its name.

Every extractor is defensive: evidence is kept even when its metadata cannot be read, and nothing
here raises on hostile input.
"""

from __future__ import annotations

import logging
import re
import struct
import zoneinfo
from datetime import datetime, timedelta, timezone as dt_timezone
from typing import IO

logger = logging.getLogger(__name__)

try:  # HEIC from iPhones; optional so a machine without libheif still runs.
    import pillow_heif

    pillow_heif.register_heif_opener()
except Exception:  # pragma: no cover - depends on the wheel being present
    pillow_heif = None


# --- file names --------------------------------------------------------------------------------

# Patterns from phone-formats.md, most specific first. Times in names are the phone's local time
# (no offset) except BCR's, which carries one.
_NAME_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("bcr", re.compile(
        r"^(?P<dt>\d{8}_\d{6}\.\d{3}[+-]\d{4})(?:_(?:in|out|conference))?(?:_sim\d)?_(?P<num>[^_.]+)")),
    ("samsung", re.compile(r"^Call recording (?P<who>.+?)_(?P<d>\d{6})_(?P<t>\d{6})\.\w+$")),
    ("lineageos", re.compile(r"^(?P<num>\+?\d+)_(?P<d>\d{6})_(?P<t>\d{6})\d{0,3}\.amr$")),
    ("miui", re.compile(r"^(?:[^@]*@)?(?P<name>[^(]*)\((?P<num>[^)]*)\)_(?P<ts>\d{14})\.\w+$")),
    ("huawei", re.compile(r"^(?:(?P<name>.+?)@)?(?P<num>\+?[\d ]+)_(?P<ts>\d{14})\.\w+$")),
    ("screenshot", re.compile(r"^Screenshot_(?P<d>\d{8})-(?P<t>\d{6})(?:[_-].*)?\.\w+$", re.IGNORECASE)),
    ("oppo", re.compile(r"^(?P<who>.+?)-(?P<ts10>\d{10})\.\w+$")),
    ("hyperos", re.compile(r"^(?P<who>.+?)_(?P<ts>\d{14})\.\w+$")),
]

_NUMBERISH = re.compile(r"^\+?[\d\s\-]{3,}$")


def normalise_number(raw: str) -> str:
    """Digits only, with a leading + kept; MIUI writes + as 00."""
    raw = (raw or "").strip()
    plus = raw.startswith("+")
    digits = re.sub(r"\D", "", raw)
    if not plus and digits.startswith("00") and len(digits) > 4:
        plus, digits = True, digits[2:]
    return ("+" if plus else "") + digits


def _who(value: str) -> dict:
    value = (value or "").strip()
    if not value:
        return {}
    if _NUMBERISH.match(value):
        return {"number": normalise_number(value)}
    return {"name": value}


def parse_file_name(name: str, tz: zoneinfo.ZoneInfo) -> dict:
    """Time (aware, ISO) and counterpart parsed from a recording or screenshot file name.

    Returns {} when no known pattern matches or the date in the name is impossible.
    """
    base = name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    for pattern_name, pattern in _NAME_PATTERNS:
        match = pattern.match(base)
        if not match:
            continue
        groups = match.groupdict()
        try:
            if "dt" in groups and groups.get("dt"):
                moment = datetime.strptime(groups["dt"], "%Y%m%d_%H%M%S.%f%z")
            elif groups.get("ts"):
                moment = datetime.strptime(groups["ts"], "%Y%m%d%H%M%S").replace(tzinfo=tz)
            elif groups.get("ts10"):
                moment = datetime.strptime(groups["ts10"], "%y%m%d%H%M").replace(tzinfo=tz)
            elif pattern_name == "screenshot":
                moment = datetime.strptime(groups["d"] + groups["t"], "%Y%m%d%H%M%S").replace(tzinfo=tz)
            else:
                moment = datetime.strptime(groups["d"] + groups["t"], "%y%m%d%H%M%S").replace(tzinfo=tz)
        except ValueError:
            continue
        result: dict = {"pattern": pattern_name, "time": moment.isoformat()}
        if groups.get("num"):
            # MIUI's parentheses may hold a label (未知号码) rather than a number.
            who = _who(groups["num"])
            if "number" in who:
                result["number"] = who["number"]
            elif who:
                result["label"] = who["name"]
        if groups.get("name") and groups["name"].strip():
            result.setdefault("name", groups["name"].strip())
        if groups.get("who"):
            for key, value in _who(groups["who"]).items():
                result.setdefault(key, value)
        return result
    return {}


# --- images --------------------------------------------------------------------------------------

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_DATETIME = 0x0132


def image_metadata(fileobj: IO[bytes], tz: zoneinfo.ZoneInfo) -> dict:
    from PIL import Image

    result: dict = {}
    try:
        with Image.open(fileobj) as image:
            result["width"], result["height"] = image.size
            exif = image.getexif()
            if not exif and image.format == "PNG":
                # A PNG may carry its eXIf chunk after the image data; it is read on load.
                image.load()
                exif = image.getexif()
            sub = exif.get_ifd(_EXIF_IFD)
            raw = sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
            offset = sub.get(_OFFSET_TIME_ORIGINAL)
    except Exception as exc:  # Pillow raises many types on broken images.
        logger.info("image metadata unreadable: %s", exc)
        return result
    if raw:
        text = raw.decode("ascii", "ignore") if isinstance(raw, bytes) else str(raw)
        text = text.strip("\x00 ")
        try:
            moment = datetime.strptime(text, "%Y:%m:%d %H:%M:%S")
        except ValueError:
            return result
        if offset and re.fullmatch(r"[+-]\d{2}:\d{2}", str(offset).strip("\x00 ")):
            off = str(offset).strip("\x00 ")
            sign = 1 if off[0] == "+" else -1
            delta = timedelta(hours=int(off[1:3]), minutes=int(off[4:6])) * sign
            moment = moment.replace(tzinfo=dt_timezone(delta))
        else:
            moment = moment.replace(tzinfo=tz)
        result["exif_time"] = moment.isoformat()
    return result


# --- audio ---------------------------------------------------------------------------------------

# Frame sizes in bytes, header byte included, by frame type (phone-formats.md). Types not listed
# (reserved, lost, no data) are one byte.
_AMR_NB_SIZES = [13, 14, 16, 18, 20, 21, 27, 32, 6]
_AMR_WB_SIZES = [18, 24, 33, 37, 41, 47, 51, 59, 61, 6]


def amr_duration(fileobj: IO[bytes]) -> float | None:
    """Duration of a raw .amr/.awb file by counting its 20 ms frames; mutagen gives none."""
    fileobj.seek(0)
    head = fileobj.read(9)
    if head.startswith(b"#!AMR-WB\n"):
        sizes, offset = _AMR_WB_SIZES, 9
    elif head.startswith(b"#!AMR\n"):
        sizes, offset = _AMR_NB_SIZES, 6
    else:
        return None
    fileobj.seek(offset)
    frames = 0
    carry = 0  # bytes of the previous chunk's last frame that spill into this chunk
    while chunk := fileobj.read(1 << 16):
        position = carry
        while position < len(chunk):
            frame_type = (chunk[position] >> 3) & 0x0F
            position += sizes[frame_type] if frame_type < len(sizes) else 1
            frames += 1
        carry = position - len(chunk)
    return round(frames * 0.02, 2)


_EBML_TRANSPARENT = {0x18538067, 0x1549A966, 0x1F43B675, 0xA0}  # Segment, Info, Cluster, BlockGroup


def _vint(fileobj: IO[bytes], keep_marker: bool) -> tuple[int, bool] | None:
    first = fileobj.read(1)
    if not first:
        return None
    byte = first[0]
    length, mask = 1, 0x80
    while length <= 8 and not byte & mask:
        mask >>= 1
        length += 1
    if length > 8:
        raise ValueError("bad EBML length")
    rest = fileobj.read(length - 1)
    if len(rest) != length - 1:
        return None
    value = byte if keep_marker else byte & (mask - 1)
    for part in rest:
        value = (value << 8) | part
    unknown = not keep_marker and value == (1 << (7 * length)) - 1
    return value, unknown


def webm_duration(fileobj: IO[bytes]) -> float | None:
    """Duration of a WebM/Matroska file: the Duration element when present, else the last block's
    time. Browsers' MediaRecorder writes no Duration, so the clusters are read (headers only)."""
    fileobj.seek(0)
    scale, declared, cluster, latest = 1_000_000, None, 0, None
    try:
        while True:
            element = _vint(fileobj, keep_marker=True)
            size_info = _vint(fileobj, keep_marker=False) if element else None
            if element is None or size_info is None:
                break
            element_id, (size, unknown) = element[0], size_info
            if element_id in _EBML_TRANSPARENT:
                continue  # read its children in place
            if unknown:
                break
            if element_id in (0x2AD7B1, 0xE7):  # TimecodeScale, cluster Timecode
                value = int.from_bytes(fileobj.read(size), "big")
                scale, cluster = (value, cluster) if element_id == 0x2AD7B1 else (scale, value)
            elif element_id == 0x4489:  # Duration (float, in TimecodeScale units)
                raw = fileobj.read(size)
                declared = struct.unpack(">f" if size == 4 else ">d", raw)[0] if size in (4, 8) else None
            elif element_id in (0xA3, 0xA1):  # SimpleBlock, Block: track number, then int16 time
                body = fileobj.read(min(size, 12))
                track_length = 1
                while track_length <= 8 and not body[0] & (0x80 >> (track_length - 1)):
                    track_length += 1
                relative = struct.unpack(">h", body[track_length:track_length + 2])[0]
                latest = max(latest or 0, cluster + relative)
                fileobj.seek(size - len(body), 1)
            else:
                fileobj.seek(size, 1)
    except (ValueError, IndexError, struct.error, OSError):
        # A truncated or unusual file: the blocks read so far still say how long it is at least.
        units = declared if declared else latest
        return round(units * scale / 1e9, 2) if units else None
    units = declared if declared else latest
    return round(units * scale / 1e9, 2) if units else None


def audio_metadata(fileobj: IO[bytes], extension: str) -> dict:
    result: dict = {}
    if extension == "webm":
        duration = webm_duration(fileobj)
        if duration is not None:
            result["duration_seconds"] = duration
            result["codec"] = "WebM"
        return result
    if extension in ("amr", "awb"):
        duration = amr_duration(fileobj)
        if duration is not None:
            result["duration_seconds"] = duration
            result["codec"] = "AMR-WB" if extension == "awb" else "AMR-NB"
        return result
    try:
        import mutagen

        fileobj.seek(0)
        audio = mutagen.File(fileobj)
    except Exception as exc:
        logger.info("audio metadata unreadable: %s", exc)
        return result
    # A mutagen object with no tags is falsy; test for None explicitly.
    if audio is not None and getattr(audio, "info", None) is not None:
        length = getattr(audio.info, "length", None)
        if length:
            result["duration_seconds"] = round(float(length), 2)
        codec = getattr(audio.info, "codec", None) or type(audio).__name__
        result["codec"] = str(codec)
    return result


def extract(fileobj: IO[bytes], *, content_type: str, extension: str, original_name: str,
            tz: zoneinfo.ZoneInfo) -> dict:
    """All metadata for one file, JSON-ready."""
    result: dict = {}
    if content_type.startswith("image/"):
        result.update(image_metadata(fileobj, tz))
    elif content_type.startswith("audio/"):
        result.update(audio_metadata(fileobj, extension))
    named = parse_file_name(original_name, tz)
    if named:
        result["from_name"] = named
    fileobj.seek(0)
    return result


def suggested_time(metadata: dict) -> datetime | None:
    """The best capture/start time a file states: its name first (recordings), then EXIF."""
    for value in ((metadata.get("from_name") or {}).get("time"), metadata.get("exif_time")):
        if value:
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                continue
    return None
