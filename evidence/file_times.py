"""The time a file chosen in a form states, offered for the incident before it is saved.

The page sends the file's name and, for an image, its first bytes (where EXIF lives); nothing is
stored. The same readers file uploads (metadata.parse_file_name, image_metadata, suggested_time),
so the offer is the time the server would read from the file itself.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime
from typing import IO

from django.utils import timezone
from django.utils.translation import gettext as _

from .metadata import image_metadata, parse_file_name, suggested_time

# An image's EXIF sits in its first 64 KB (JPEG's APP1 segment cannot be longer); the page sends
# at most this much of it.
HEAD_BYTES = 256 * 1024


def time_in_file(*, name: str, head: IO[bytes] | None, tz: zoneinfo.ZoneInfo) -> datetime | None:
    """The time the name states, else the image's EXIF time; aware, or None."""
    metadata: dict = {}
    named = parse_file_name(name or "", tz)
    if named:
        metadata["from_name"] = named
    if head is not None and "time" not in named:
        metadata.update(image_metadata(head, tz))
    return suggested_time(metadata)


def offer(*, name: str, head: IO[bytes] | None, tz: zoneinfo.ZoneInfo) -> dict:
    """JSON for the log form: the local time for a datetime-local input and the button's text."""
    moment = time_in_file(name=name, head=head, tz=tz)
    if moment is None:
        return {"time": None, "message": _("No time found in this file; enter the time yourself.")}
    local = timezone.localtime(moment, tz)
    return {
        "time": local.strftime("%Y-%m-%dT%H:%M:%S"),
        "label": _("Use the time in the file: %(time)s") % {"time": local.strftime("%Y-%m-%d %H:%M")},
    }


# The page's visit recorder names its file from the start in UTC (static/js/app.js).
_RECORDER_NAME = re.compile(r"^visit-(?P<stamp>\d{8}T\d{6})\.(?P<ext>[A-Za-z0-9]{1,8})$")


def local_recording_name(name: str, tz: zoneinfo.ZoneInfo) -> str:
    """ "visit-20261129T170000.webm" (UTC) → "visit-20261130-010000.webm" (the owner's local time), so
    a kept recording's name states the date and time the owner lived it. Other names are kept."""
    match = _RECORDER_NAME.match(name or "")
    if not match:
        return name
    try:
        moment = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return name
    return f"visit-{moment.astimezone(tz):%Y%m%d-%H%M%S}.{match['ext']}"
