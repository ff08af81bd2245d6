"""What a file says about itself: capture time (EXIF), recording duration, time and number in its name.

Every extractor is defensive: evidence is kept even when its metadata cannot be read, and nothing
here raises on hostile input.
"""

from __future__ import annotations

import io
import logging
import math
import re
import struct
import zoneinfo
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from typing import IO

import mutagen
from django.conf import settings
from PIL import Image, ImageFile, JpegImagePlugin, PngImagePlugin, UnidentifiedImageError, WebPImagePlugin
from PIL.Image import DecompressionBombError

logger = logging.getLogger(__name__)

try:  # HEIC from iPhones; optional so a machine without libheif still runs.
    import pillow_heif
    from pillow_heif import HeifImageFile

    pillow_heif.register_heif_opener()
except Exception:  # pragma: no cover - depends on the wheel being present
    pillow_heif = HeifImageFile = None


# --- file names --------------------------------------------------------------------------------
#
# Recording, screenshot and camera names, most specific first (README "Recording names and exports
# we read" names the source of each). Times in names are the phone's local time (no offset), read
# in the owner's time zone, except BCR's, which carries its own offset, and epoch milliseconds,
# which are UTC. A screenshot's or photo's name states when it was taken: suggested_time() uses it
# as the capture time, before EXIF, and OCR proposals date "昨天 22:05" against it. A name that no
# pattern reads (or whose date is impossible) gives no time: nothing is guessed. Each pattern gives
# the time in the group "ts", read with the strptime format next to it, or "bcr" / "epoch" /
# "lg" for the ones that need more than strptime.

_EXT = r"\.[A-Za-z0-9]{1,5}$"
_AUDIO_EXT = r"\.(?i:m4a|mp4|ogg|oga|opus|flac|wav|amr|awb|3gp|aac|mp3|webm)$"  # what BCR writes, and more
_NAME_PATTERNS: list[tuple[str, re.Pattern, str]] = [
    (
        # BCR: {date}[_{direction}][_sim{n}][_{phone_number}][_{name}]; the date is yyyyMMdd_HHmmss,
        # then 0-9 digits of the second's fraction, then the offset (+HHMM, +HHMMss). A hidden
        # caller leaves the number empty ("…_in_.ogg").
        "bcr",
        re.compile(
            r"^(?P<ts>\d{8}_\d{6})(?:\.(?P<frac>\d{1,9}))?(?P<off>[+-]\d{4}(?:\d{2})?)"
            r"(?:_(?P<dir>in|out|conference))?(?:_sim\d{1,2})?(?:_(?P<num>[^_.]*))?(?:_(?P<name>.*?))?"
            + _AUDIO_EXT
        ),
        "bcr",
    ),
    # GrapheneOS / crDroid dialer: CallRecord_yyyyMMdd-HHmmss_{number}
    (
        "grapheneos",
        re.compile(r"^CallRecord_(?P<ts>\d{8}-\d{6})_(?P<num>[^_]*?)(?:_(?P<name>.*?))?" + _EXT),
        "%Y%m%d-%H%M%S",
    ),
    # Samsung (One UI): "Call recording {name or number}_yyMMdd_HHmmss". A number the file system
    # cannot hold ("*6900", "#6900") is written with "_" in its place: "Call recording _6900_…".
    (
        "samsung",
        re.compile(r"^Call recording _?(?P<who>.+?)_(?P<ts>\d{6}_\d{6})" + _EXT),
        "%y%m%d_%H%M%S",
    ),
    # LineageOS dialer: {number}_yyMMdd_HHmmssSSS
    ("lineageos", re.compile(r"^(?P<num>\+?\d+)_(?P<ts>\d{6}_\d{6})\d{0,3}" + _EXT), "%y%m%d_%H%M%S"),
    # True Phone: "{number} @ yyyy-MM-dd_HHmmss_{direction}" without a contact, else
    # "{name} ({number} {label}) yyyy-MM-dd_HHmmss_{direction}".
    (
        "truephone",
        re.compile(r"^(?P<who>[^()@]+?) @ (?P<ts>\d{4}-\d{2}-\d{2}_\d{6})(?:_(?P<dir>[a-z]+))?" + _EXT),
        "%Y-%m-%d_%H%M%S",
    ),
    (
        "truephone",
        re.compile(
            r"^(?P<name>[^()]+?) \((?P<num>[^() ]+)(?: [^()]*)?\) (?P<ts>\d{4}-\d{2}-\d{2}_\d{6})"
            r"(?:_(?P<dir>[a-z]+))?" + _EXT
        ),
        "%Y-%m-%d_%H%M%S",
    ),
    (
        "miui",
        re.compile(r"^(?:[^@]*@)?(?P<name>[^(]*)\((?P<num>[^)]*)\)_(?P<ts>\d{14})" + _EXT),
        "%Y%m%d%H%M%S",
    ),
    # Huawei, and Honor's MagicOS Phone app (Sounds/CallRecord): [{name}@]{number}_yyyyMMddHHmmss
    (
        "huawei",
        re.compile(r"^(?:(?P<name>.+?)@)?(?P<num>\+?[\d ]+)_(?P<ts>\d{14})" + _EXT),
        "%Y%m%d%H%M%S",
    ),
    # HarmonyOS 4 (one design note): "通话录音 {number} yyyyMMddHHmmss"
    (
        "harmonyos",
        re.compile(r"^通话录音 (?P<num>\+?\d[\d ]*?) (?P<ts>\d{14})" + _EXT),
        "%Y%m%d%H%M%S",
    ),
    # vivo (Record/Call): "{number or name} yyyy-MM-dd HH-mm-ss"
    (
        "vivo",
        re.compile(r"^(?P<who>[^_@()]+?) (?P<ts>\d{4}-\d{2}-\d{2} \d{2}-\d{2}-\d{2})" + _EXT),
        "%Y-%m-%d %H-%M-%S",
    ),
    # LG: a direction digit, "d", yyyyMMddHHmmss (hour 24 for midnight), "p", the number or "null".
    ("lg", re.compile(r"^(?P<dir>[01])d(?P<ts>\d{14})p(?P<num>\+?\d+|null)" + _EXT), "lg"),
    # OnePlus / ColorOS voice recorder: Record_yyyy-MM-dd-HH-mm-ss
    (
        "oneplus_recorder",
        re.compile(r"^Record_(?P<ts>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?:[_ ~-].*)?" + _EXT),
        "%Y-%m-%d-%H-%M-%S",
    ),
    # Screenshots. AOSP SystemUI and Samsung: Screenshot_yyyyMMdd-HHmmss[_{app}][~2] (an edited copy
    # ends in "~2").
    (
        "screenshot",
        re.compile(r"^Screenshot_(?P<ts>\d{8}-\d{6})(?:[_~-].*)?\.\w+$", re.IGNORECASE),
        "%Y%m%d-%H%M%S",
    ),
    # MIUI / HyperOS: Screenshot_yyyy-MM-dd-HH-mm-ss-SSS_{package}; ColorOS / OnePlus / realme:
    # Screenshot_yyyy-MM-dd-HH-mm-ss-SS[_{hash}]. The fraction of the second is not kept.
    (
        "screenshot_miui",
        re.compile(
            r"^Screenshot_(?P<ts>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?:-\d{1,3})?"
            r"(?:_(?P<app>[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)+))?(?:[_~-].*)?\.\w+$",
            re.IGNORECASE,
        ),
        "%Y-%m-%d-%H-%M-%S",
    ),
    # EMUI / HarmonyOS / MagicOS (Huawei, Honor), newer OnePlus: Screenshot_yyyyMMdd_HHmmss_{package}
    (
        "screenshot_huawei",
        re.compile(
            r"^Screenshot_(?P<ts>\d{8}_\d{6})(?:_(?P<app>[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)+))?"
            r"(?:[_~-].*)?\.\w+$",
            re.IGNORECASE,
        ),
        "%Y%m%d_%H%M%S",
    ),
    # Camera photos and videos: IMG_yyyyMMdd_HHmmss (AOSP, MIUI, EMUI…), IMGyyyyMMddHHmmss (ColorOS,
    # OnePlus). Pixel's PXL_ names are in UTC and are not read here.
    (
        "camera",
        re.compile(r"^(?:IMG|VID)_(?P<ts>\d{8}_\d{6})(?:[_~-].*)?\.\w+$", re.IGNORECASE),
        "%Y%m%d_%H%M%S",
    ),
    ("camera", re.compile(r"^(?:IMG|VID)(?P<ts>\d{14})(?:[_~-].*)?\.\w+$", re.IGNORECASE), "%Y%m%d%H%M%S"),
    ("oppo", re.compile(r"^(?P<who>.+?)-(?P<ts>\d{10})" + _EXT), "%y%m%d%H%M"),
    ("hyperos", re.compile(r"^(?P<who>.+?)_(?P<ts>\d{14})" + _EXT), "%Y%m%d%H%M%S"),
]

# Names made of a number, a direction and the start in epoch milliseconds, in any order,
# separated by "_" or "-" (e.g. "+8613800138000_in_1710484222000.m4a"). Some recorders write the
# direction as a digit, 0 incoming and 1 outgoing, always as {number}_{digit}_{epoch ms}, with
# "null" for a hidden caller ("36305566778_0_1418396598000.mp4", "null_0_1416989560000.mp4"):
# a lone digit is read as a direction only in that order.
_EPOCH_TOKEN = re.compile(r"^\d{13}$")
_DIRECTION_TOKEN = re.compile(r"^(?:in|out|incoming|outgoing|missed)$", re.IGNORECASE)
_NUMBER_TOKEN = re.compile(r"^\+?\d{2,20}$")
_DIRECTION_DIGIT = re.compile(r"^[01]$")

_NUMBERISH = re.compile(r"^\+?\d[\d\s\-]{1,}$")


# What is not a phone number and is kept as written: an e-mail address (MMS from e-mail, FaceTime),
# or a sender or app handle made of ASCII letters and digits (alphanumeric SMS senders such as
# "VM-HDFCBK", Signal's UUIDs), or letters without any digit (a Teams meeting name). Taking the
# digits out of these would invent a number.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_HANDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
HANDLE_LENGTH = 64  # Incident.counterpart_number


def is_handle(raw: str) -> bool:
    """Whether `raw` names its sender otherwise than by a phone number (see _EMAIL, _HANDLE)."""
    raw = (raw or "").strip()
    if _EMAIL.match(raw):
        return True
    letters = any(c.isascii() and c.isalpha() for c in raw)
    return letters and (bool(_HANDLE.match(raw)) or not any(c.isdigit() for c in raw))


def normalise_number(raw: str) -> str:
    """Digits only, with a leading + kept; MIUI writes + as 00. A sender that is not a phone number
    (is_handle: an e-mail address, an alphanumeric sender, an app's handle) is kept as written,
    whitespace collapsed, at most HANDLE_LENGTH characters."""
    raw = (raw or "").strip()
    if is_handle(raw):
        return " ".join(raw.split())[:HANDLE_LENGTH]
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


# Times in names outside these bounds are not believed (year 0001, 9999, a 1999 "yy"): such a
# name says nothing, and the file is filed as if it had no time in its name.
EARLIEST_NAMED_TIME = datetime(2000, 1, 1, tzinfo=UTC)
NAMED_TIME_SLACK = timedelta(days=1)  # how far ahead of the server's clock a phone's may run


def _plausible_time(moment: datetime) -> bool:
    return EARLIEST_NAMED_TIME <= moment <= datetime.now(UTC) + NAMED_TIME_SLACK


def _bcr_time(groups: dict) -> datetime:
    offset = groups["off"]
    sign = 1 if offset[0] == "+" else -1
    seconds = int(offset[5:7] or 0) if len(offset) == 7 else 0
    delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]), seconds=seconds) * sign
    fraction = (groups.get("frac") or "").ljust(6, "0")[:6]
    moment = datetime.strptime(groups["ts"], "%Y%m%d_%H%M%S").replace(tzinfo=dt_timezone(delta))
    return moment.replace(microsecond=int(fraction))


def _lg_time(stamp: str, tz: zoneinfo.ZoneInfo) -> datetime:
    # LG writes midnight as hour 24 of the day before (0d20141126241240p… is 27 Nov, 00:12:40).
    late = stamp[8:10] == "24"
    moment = datetime.strptime(stamp[:8] + ("00" if late else stamp[8:10]) + stamp[10:], "%Y%m%d%H%M%S")
    return (moment + timedelta(days=1) if late else moment).replace(tzinfo=tz)


def _epoch_name(stem: str) -> dict | None:
    tokens = re.split(r"[_-]", stem)
    if len(tokens) != 3:
        return None
    number, direction, stamp = tokens
    if _DIRECTION_DIGIT.match(direction) and _EPOCH_TOKEN.match(stamp):
        if number == "null" or (_NUMBER_TOKEN.match(number) and not _EPOCH_TOKEN.match(number)):
            return {"ts": stamp, "num": number}
        return None
    stamps = [t for t in tokens if _EPOCH_TOKEN.match(t)]
    directions = [t for t in tokens if _DIRECTION_TOKEN.match(t)]
    numbers = [t for t in tokens if _NUMBER_TOKEN.match(t) and not _EPOCH_TOKEN.match(t)]
    if len(stamps) != 1 or len(directions) != 1 or len(numbers) != 1:
        return None
    return {"ts": stamps[0], "num": numbers[0]}


def parse_file_name(name: str, tz: zoneinfo.ZoneInfo) -> dict:
    """Time (aware, ISO) and counterpart parsed from a recording or screenshot file name.

    Returns {} when no known pattern matches or the date in the name is impossible or implausible
    (before 2000, or more than a day ahead): such a file is filed with its time unknown.
    """
    base = (name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    candidates: list[tuple[str, dict, str]] = [
        (pattern_name, match.groupdict(), time_format)
        for pattern_name, pattern, time_format in _NAME_PATTERNS
        if (match := pattern.match(base))
    ]
    epoch = _epoch_name(base.rsplit(".", 1)[0]) if "." in base else None
    if epoch:
        candidates.insert(0, ("epoch", epoch, "epoch"))
    for pattern_name, groups, time_format in candidates:
        try:
            if time_format == "bcr":
                moment = _bcr_time(groups)
            elif time_format == "epoch":
                moment = datetime.fromtimestamp(int(groups["ts"]) / 1000, tz=UTC)
            elif time_format == "lg":
                moment = _lg_time(groups["ts"], tz)
            else:
                moment = datetime.strptime(groups["ts"], time_format).replace(tzinfo=tz)
        except (ValueError, OverflowError, OSError):
            continue
        if not _plausible_time(moment):
            continue
        result: dict = {"pattern": pattern_name, "time": moment.isoformat()}
        number = (groups.get("num") or "").strip()
        if number and number != "null" and groups.get("dir") != "conference":
            # MIUI's parentheses may hold a label (未知号码, Экстренный номер) rather than a number.
            who = _who(number)
            if "number" in who:
                result["number"] = who["number"]
            elif who:
                result["label"] = who["name"]
        if groups.get("name") and groups["name"].strip():
            named = groups["name"].strip()
            result.setdefault("name", named)
            if "number" not in result and _NUMBERISH.match(named):
                result["number"] = normalise_number(named)  # MIUI: 112(Экстренный номер)
        if groups.get("who"):
            for key, value in _who(groups["who"]).items():
                result.setdefault(key, value)
        if groups.get("app"):
            result["app"] = groups["app"]  # the app a screenshot shows (MIUI, EMUI): com.android.mms
        return result
    return {}


# --- images --------------------------------------------------------------------------------------
#
# An image is read in two steps. Its header (size, EXIF) is read without decoding a single pixel and
# without Pillow's Image.open(), whose decompression-bomb check warns (DecompressionBombWarning)
# above Image.MAX_IMAGE_PIXELS and raises (DecompressionBombError) above twice that, from the
# declared size alone. Pixels are decoded only for a thumbnail, and only when what the decoder would
# produce fits max_image_pixels(); otherwise the image is kept as evidence without a thumbnail and
# its metadata says so (image_too_large). A 164 KB PNG can declare 13000×13000 pixels: decoding it
# costs hundreds of megabytes.

# 50 megapixels: phone photos (4000×3000 = 12 MP, 8000×6000 = 48 MP) and screenshots (1080×2400)
# fit; the largest decode it allows is about 200 MB (4 bytes a pixel). Settable per installation
# with EVIDENCE_MAX_IMAGE_PIXELS.
DEFAULT_MAX_IMAGE_PIXELS = 50_000_000

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_DATETIME = 0x0132

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG frames a decoder can scale down while decoding, one MCU row at a time: baseline, extended
# sequential (Huffman and arithmetic). Progressive, lossless and hierarchical frames are not.
_JPEG_SEQUENTIAL_FRAMES = {0xC0, 0xC1, 0xC9}
_JPEG_FRAMES = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOFn; C4, C8, CC are DHT, JPG, DAC
_JPEG_STANDALONE = set(range(0xD0, 0xD8)) | {0x01}  # RSTn, TEM: no length follows


def max_image_pixels() -> int:
    """The most pixels decoded for any one image (thumbnails); larger images are not decoded."""
    return int(getattr(settings, "EVIDENCE_MAX_IMAGE_PIXELS", DEFAULT_MAX_IMAGE_PIXELS))


# What decoding one image may cost in memory, in the web process and the worker alike: the decoded
# picture plus the RGB copy made of it when its mode is another (a palette, alpha, CMYK). 40 MiB
# keeps a process within 64 MB of growth for any file accepted, thumbnails and text recognition
# included; a 1080×2400 screenshot costs 10 MB, a baseline JPEG photo of any size is decoded
# reduced. Settable per installation with EVIDENCE_MAX_DECODE_BYTES.
DEFAULT_MAX_DECODE_BYTES = 40 * 1024 * 1024
# Bytes a pixel takes in Pillow's memory, by mode (RGB is kept in four).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}


def max_decode_bytes() -> int:
    return int(getattr(settings, "EVIDENCE_MAX_DECODE_BYTES", DEFAULT_MAX_DECODE_BYTES))


def decode_cost(mode: str, size: tuple[int, int]) -> int:
    """The memory decoding an image of this mode and size takes, with the RGB copy made of it for a
    thumbnail or text recognition when its mode is not already RGB or greyscale."""
    copy = 0 if mode in ("RGB", "L") else 4
    return _pixels(size) * (_MODE_BYTES.get(mode, 4) + copy)


def _pixels(size: tuple[int, int]) -> int:
    return max(1, size[0]) * max(1, size[1])


def _fits(mode: str, size: tuple[int, int]) -> bool:
    return _pixels(size) <= max_image_pixels() and decode_cost(mode, size) <= max_decode_bytes()


class ImageTooLarge(Exception):
    """Decoding this image would exceed max_image_pixels() or max_decode_bytes(), even reduced."""

    def __init__(self, width: int, height: int, mode: str = "RGB"):
        cost = decode_cost(mode, (width, height))
        super().__init__(
            f"{width}×{height} pixels would take {cost // (1024 * 1024)} MiB to decode; the limits are "
            f"{max_image_pixels()} pixels and {max_decode_bytes() // (1024 * 1024)} MiB"
        )
        self.width, self.height, self.mode = width, height, mode

    def as_metadata(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "max_pixels": max_image_pixels(),
            "max_decode_bytes": max_decode_bytes(),
        }


def _webp_size(head: bytes) -> tuple[int, int] | None:
    """Canvas size from a WebP's first chunk header (30 bytes): VP8X, lossless VP8L or lossy VP8."""
    if len(head) < 30 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    kind = head[12:16]
    if kind == b"VP8X":
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    if kind == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        return (
            int.from_bytes(head[26:28], "little") & 0x3FFF,
            int.from_bytes(head[28:30], "little") & 0x3FFF,
        )
    return None


def _png_chunk(fileobj: IO[bytes], wanted: bytes) -> bytes | None:
    """The body of a PNG's first `wanted` chunk, wherever it is: the chunks are walked by their
    lengths, so the image data is skipped, never inflated."""
    fileobj.seek(len(_PNG_SIGNATURE))
    while len(header := fileobj.read(8)) == 8:
        length, kind = struct.unpack(">I4s", header)
        if kind == wanted:
            body = fileobj.read(length)
            return body if len(body) == length else None
        if kind == b"IEND":
            return None
        fileobj.seek(length + 4, io.SEEK_CUR)  # the body and its CRC
    return None


def _riff_chunk(fileobj: IO[bytes], wanted: bytes) -> bytes | None:
    """The body of a WebP's (RIFF) first `wanted` chunk, walking the chunks by their lengths."""
    fileobj.seek(12)
    while len(header := fileobj.read(8)) == 8:
        kind, length = header[:4], int.from_bytes(header[4:], "little")
        if kind == wanted:
            body = fileobj.read(length)
            return body if len(body) == length else None
        fileobj.seek(length + (length & 1), io.SEEK_CUR)  # bodies are padded to an even length
    return None


def _jpeg_streams_reduced(fileobj: IO[bytes]) -> bool:
    """Whether libjpeg can decode this JPEG scaled down without holding the full-size image: a
    sequential frame whose first scan carries every component. Otherwise (progressive, or
    components in separate scans) it keeps the coefficients of the whole image, whatever the scale."""
    fileobj.seek(2)
    frame, components = None, None
    while fileobj.read(1) == b"\xff":
        marker = fileobj.read(1)
        while marker == b"\xff":  # fill bytes
            marker = fileobj.read(1)
        if not marker or marker[0] == 0xD9:  # end of file, end of image
            return False
        if marker[0] in _JPEG_STANDALONE:
            continue
        length_bytes = fileobj.read(2)
        if len(length_bytes) < 2:
            return False
        length = int.from_bytes(length_bytes, "big")
        if length < 2 or (marker[0] in _JPEG_FRAMES and length < 8):
            return False  # a segment shorter than its own header: never seek backwards
        if marker[0] in _JPEG_FRAMES:
            body = fileobj.read(6)
            if len(body) < 6:
                return False
            frame, components = marker[0], body[5]
            fileobj.seek(length - 8, io.SEEK_CUR)
        elif marker[0] == 0xDA:  # start of scan: the number of components in this scan
            scan = fileobj.read(1)
            return frame in _JPEG_SEQUENTIAL_FRAMES and bool(scan) and scan[0] == components
        else:
            fileobj.seek(length - 2, io.SEEK_CUR)
    return False


def open_image(fileobj: IO[bytes]) -> ImageFile.ImageFile:
    """An evidence image (PNG, JPEG, WebP, HEIC) identified from its header: no pixel is decoded
    and no pixel memory is allocated until load().

    Pillow's format classes are used directly, not Image.open(), so its decompression-bomb check on
    the declared size neither warns nor raises: callers compare the size with max_image_pixels()
    before decoding. WebP is the exception: Pillow sets up libwebp's decoder, canvas included, while
    opening, so its size is read from the header first and ImageTooLarge raised before Pillow sees it.
    Raises UnidentifiedImageError for anything else.
    """
    fileobj.seek(0)
    head = fileobj.read(32)
    fileobj.seek(0)
    if head.startswith(_PNG_SIGNATURE):
        return PngImagePlugin.PngImageFile(fileobj)
    if head.startswith(b"\xff\xd8\xff"):
        return JpegImagePlugin.JpegImageFile(fileobj)  # an MPO's first (primary) picture
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        size = _webp_size(head)
        if size is None:
            raise UnidentifiedImageError("WebP without a readable size")
        if _pixels(size) > max_image_pixels():
            raise ImageTooLarge(*size)
        try:
            return WebPImagePlugin.WebPImageFile(fileobj)
        except DecompressionBombError:  # only when the limit is set above twice Pillow's own
            raise ImageTooLarge(*size) from None
    if head[4:8] == b"ftyp" and HeifImageFile is not None:
        return HeifImageFile(fileobj)  # libheif parses the container; decoding waits for load()
    raise UnidentifiedImageError("not an image kept as evidence")


def open_for_decoding(fileobj: IO[bytes], size: tuple[int, int]) -> ImageFile.ImageFile:
    """The image, opened (open_image) and set up to decode at most max_image_pixels() pixels, in
    at most max_decode_bytes() of memory (decode_cost).

    Where the format lets the decoder reduce (JPEG DCT scaling, a HEIC's embedded thumbnail), the
    decode is made as small as it can be while still at least `size`, or smaller still if that is
    what fits the limit. Raises ImageTooLarge when even the smallest decode does not fit.
    """
    declared, mode = (0, 0), "RGB"
    for request in dict.fromkeys((size, (1, 1))):
        picture = open_image(fileobj)
        declared, mode = picture.size, picture.mode
        if _fits(picture.mode, declared):
            picture.draft("RGB", size)  # within the limit, reducing only saves memory
            return picture
        reducible = isinstance(picture, JpegImagePlugin.JpegImageFile) and _jpeg_streams_reduced(fileobj)
        reducible = reducible or (HeifImageFile is not None and isinstance(picture, HeifImageFile))
        if reducible:
            picture.draft("RGB", request)
            if _fits(picture.mode, picture.size):
                return picture
        with picture:  # let it go; close() would close the caller's file too
            pass
        if not reducible:
            break
    raise ImageTooLarge(*declared, mode=mode)


def _image_header(fileobj: IO[bytes]) -> tuple[tuple[int, int], bytes | None]:
    """Size and raw EXIF of an image, read from its header and chunks: no pixel is decoded (Pillow's
    PngImageFile.getexif() would decode the whole image when the eXIf chunk follows the pixels)."""
    fileobj.seek(0)
    head = fileobj.read(32)
    fileobj.seek(0)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        size = _webp_size(head)
        if size is None:
            raise UnidentifiedImageError("WebP without a readable size")
        return size, _riff_chunk(fileobj, b"EXIF")
    with open_image(fileobj) as image:
        size, info = image.size, dict(image.info)
    raw = info.get("exif")
    if raw is None and isinstance(image, PngImagePlugin.PngImageFile):
        raw = _png_chunk(fileobj, b"eXIf")
        if raw is None and "Raw profile type exif" in info:  # ImageMagick's text chunk, as Pillow reads it
            try:
                raw = bytes.fromhex("".join(str(info["Raw profile type exif"]).split("\n")[3:]))
            except ValueError:
                raw = None
    return size, raw


def image_metadata(fileobj: IO[bytes], tz: zoneinfo.ZoneInfo) -> dict:
    result: dict = {}
    try:
        size, raw_exif = _image_header(fileobj)
        result["width"], result["height"] = size
        # Eight bytes a pixel is the most any mode costs (decode_cost): below that, it surely fits.
        if _pixels(size) > max_image_pixels() or _pixels(size) * 8 > max_decode_bytes():
            try:
                with open_for_decoding(fileobj, (1, 1)):  # does even the smallest decode not fit?
                    pass
            except ImageTooLarge as exc:
                result["image_too_large"] = exc.as_metadata()
            except DecompressionBombError:
                result["image_too_large"] = ImageTooLarge(*size).as_metadata()
            except Exception as exc:  # unreadable pixels: the EXIF may still be there
                logger.info("image not decodable: %s", exc)
        exif = Image.Exif()
        if raw_exif:
            exif.load(raw_exif)
        sub = exif.get_ifd(_EXIF_IFD)
        raw = sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
        offset = sub.get(_OFFSET_TIME_ORIGINAL)
    except Exception as exc:  # Pillow raises many types on broken images.
        logger.info("image metadata unreadable: %s", exc)
        return result
    finally:
        fileobj.seek(0)
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

# The longest duration believed; a file that states more (or NaN, an infinity, a negative time)
# has an unknown duration. NaN and infinities are not JSON either (PostgreSQL's jsonb refuses them).
LONGEST_RECORDING = 7 * 24 * 3600


def _recording_seconds(value: float | None) -> float | None:
    """A duration in seconds, rounded, or None unless it is a finite positive number in bounds."""
    if value is None or not math.isfinite(value) or not 0 < value <= LONGEST_RECORDING:
        return None
    return round(value, 2)


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
    time. Browsers' MediaRecorder writes no Duration, so the clusters are read (headers only).
    A Duration that is NaN, infinite, negative or beyond LONGEST_RECORDING is ignored; None when
    nothing believable is left."""
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
            if element_id in (0x2AD7B1, 0xE7) and size <= 8:  # TimecodeScale, cluster Timecode
                value = int.from_bytes(fileobj.read(size), "big")
                scale, cluster = (value, cluster) if element_id == 0x2AD7B1 else (scale, value)
            elif element_id == 0x4489 and size in (4, 8):  # Duration (float, in TimecodeScale units)
                declared = struct.unpack(">f" if size == 4 else ">d", fileobj.read(size))[0]
            elif element_id in (0xA3, 0xA1):  # SimpleBlock, Block: track number, then int16 time
                body = fileobj.read(min(size, 12))
                track_length = 1
                while track_length <= 8 and not body[0] & (0x80 >> (track_length - 1)):
                    track_length += 1
                relative = struct.unpack(">h", body[track_length : track_length + 2])[0]
                latest = max(latest or 0, cluster + relative)
                fileobj.seek(size - len(body), 1)
            else:
                fileobj.seek(size, 1)
    except (ValueError, IndexError, struct.error, OSError):
        pass  # a truncated or unusual file: the blocks read so far still say how long it is at least
    for units in (declared, latest):
        seconds = _recording_seconds(units * scale / 1e9) if units else None
        if seconds is not None:
            return seconds
    return None


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
        fileobj.seek(0)
        audio = mutagen.File(fileobj)
    except Exception as exc:
        logger.info("audio metadata unreadable: %s", exc)
        return result
    # A mutagen object with no tags is falsy; test for None explicitly.
    if audio is not None and getattr(audio, "info", None) is not None:
        try:
            length = _recording_seconds(float(getattr(audio.info, "length", None) or 0))
        except (TypeError, ValueError, OverflowError):
            length = None
        if length is not None:
            result["duration_seconds"] = length
        codec = getattr(audio.info, "codec", None) or type(audio).__name__
        result["codec"] = str(codec)
    return result


def extract(
    fileobj: IO[bytes], *, content_type: str, extension: str, original_name: str, tz: zoneinfo.ZoneInfo
) -> dict:
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
                moment = datetime.fromisoformat(value)
            except ValueError:
                continue
            # An EXIF clock set to year 1 or 9999 states no usable time.
            if moment.tzinfo is not None and _plausible_time(moment):
                return moment
    return None
