"""Zip files and XML from strangers, sized up before anything inflates or parses them.

One guard serves every zip the app reads on someone's behalf: dossier bundles on the public verify
page (complaints.verification) and carriers' spreadsheets (.xlsx, evidence.carrier), which openpyxl
reads as a zip of XML parts. Before a byte is inflated:

- the zip's table of contents is sized up from its end record and fixed-size headers alone (entries
  declared and found, the directory's size), before zipfile builds an object for every entry;
- every member's declared size is checked against its own cap and, above RATIO_FLOOR, its ratio of
  declared to compressed size; the declared sizes together against the archive's total.

A member that lies about its size cannot inflate past what it declares: zipfile's reader stops at
the declared size and the CRC check then fails (a reader of its own, such as the bundle's, counts
what it reads against the same caps). So the declared sizes checked here bound what is actually
inflated.

XML parts are then walked once with expat (scan_xml), which holds no tree: openpyxl keeps a whole
row (and a whole part such as styles.xml) in memory while it parses it, so a part of a few
megabytes with millions of elements in one row would cost gigabytes. The walk refuses deep nesting,
too many elements in one group (a row, a shared string) or outside any group, and too many groups.
"""

from __future__ import annotations

import struct
import xml.parsers.expat
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

MiB = 1024 * 1024
# Members smaller than this inflate as they like; larger ones must stay under the ratio limit.
RATIO_FLOOR = MiB
# The table of contents may take this much per entry allowed (a name, a zip64 field, headers).
DIRECTORY_BYTES_PER_ENTRY = 1024
BLOCK = 64 * 1024

END_RECORD = struct.Struct("<4s4H2LH")  # end of central directory
END_LOCATOR_64 = struct.Struct("<4sLQL")  # zip64 end of central directory locator
END_RECORD_64 = struct.Struct("<4sQ2H2L4Q")  # zip64 end of central directory
DIRECTORY_ENTRY = struct.Struct("<4s4B4HL2L5H2L")


class ArchiveRefused(Exception):
    """Reading this file would cost more than any real one of its kind: it is not read further.
    `code` and `status` are the API's error code and HTTP status (413 by default)."""

    def __init__(self, message: str, *, code: str = "too_large_to_read", status: int = 413):
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


@dataclass(frozen=True)
class ZipLimits:
    entries: int  # members, counted in the end record and in the directory itself
    unpacked_bytes: int  # every member together, as declared
    ratio: int  # declared / compressed size of one member above RATIO_FLOOR
    # The most one member may declare, by its name (None: only the total applies).
    member_cap: Callable[[str], int | None] = lambda name: None


def _size(limit: int) -> str:
    return str(filesizeformat(limit))


def _file_size(handle: IO[bytes]) -> int:
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(0)
    return size


def directory(handle: IO[bytes]) -> tuple[int, int, int] | None:
    """(entries declared, start, size) of the zip's central directory, found the way zipfile
    finds it; None when there is no end record (zipfile will then say it is not a zip)."""
    file_size = _file_size(handle)
    tail_size = min(file_size, END_RECORD.size + 0xFFFF)
    handle.seek(file_size - tail_size)
    tail = handle.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + END_RECORD.size > len(tail):
        return None
    _sig, _disk, _cd_disk, _here, entries, size, _offset, _comment = END_RECORD.unpack_from(tail, at)
    end = file_size - tail_size + at
    locator = at - END_LOCATOR_64.size
    if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        handle.seek(end - END_LOCATOR_64.size - END_RECORD_64.size)
        record = handle.read(END_RECORD_64.size)
        if len(record) == END_RECORD_64.size and record[:4] == b"PK\x06\x06":
            entries, size = END_RECORD_64.unpack(record)[7:9]
            end -= END_LOCATOR_64.size + END_RECORD_64.size
    return entries, end - size, size


def too_many_entries(limit: int) -> ArchiveRefused:
    return ArchiveRefused(
        _("The zip file holds more than %(limit)d entries, the most such a file may hold; it was not read.")
        % {"limit": limit}
    )


def refuse_crowded_directory(handle: IO[bytes], *, entries: int) -> None:
    """Refuse a zip whose table of contents is too big to parse, before zipfile builds an object
    for every entry in it: the count its end record declares, the directory's size, and the
    entries actually found there, counted from their fixed-size headers alone."""
    found = directory(handle)
    if found is None:
        handle.seek(0)
        return
    declared, start, size = found
    if declared > entries:
        raise too_many_entries(entries)
    directory_limit = entries * DIRECTORY_BYTES_PER_ENTRY
    if size > directory_limit:
        raise ArchiveRefused(
            _("The zip file's table of contents is %(size)s; the limit is %(limit)s. It was not read.")
            % {"size": _size(size), "limit": _size(directory_limit)}
        )
    if start < 0:
        handle.seek(0)
        return
    handle.seek(start)
    table = handle.read(size)
    offset = count = 0
    while offset + DIRECTORY_ENTRY.size <= len(table) and table[offset : offset + 4] == b"PK\x01\x02":
        name_length, extra_length, comment_length = struct.unpack_from("<3H", table, offset + 28)
        offset += DIRECTORY_ENTRY.size + name_length + extra_length + comment_length
        count += 1
        if count > entries:
            raise too_many_entries(entries)
    handle.seek(0)


def refuse_oversized_members(members: Iterable[zipfile.ZipInfo], limits: ZipLimits) -> None:
    """Check what every member declares before any is inflated."""
    total = 0
    for info in members:
        cap = limits.member_cap(info.filename)
        if cap is not None and info.file_size > cap:
            raise ArchiveRefused(
                _(
                    "%(name)s declares %(size)s unpacked; the limit for that file is %(limit)s. The zip file "
                    "was not read."
                )
                % {"name": info.filename, "size": _size(info.file_size), "limit": _size(cap)}
            )
        if (
            info.compress_type != zipfile.ZIP_STORED
            and info.file_size > RATIO_FLOOR
            and info.file_size > limits.ratio * max(info.compress_size, 1)
        ):
            raise ArchiveRefused(
                _(
                    "%(name)s would inflate %(ratio)d times (%(packed)s to %(size)s); no real file of this "
                    "kind compresses more than %(limit)d times. The zip file was not read."
                )
                % {
                    "name": info.filename,
                    "ratio": info.file_size // max(info.compress_size, 1),
                    "packed": _size(info.compress_size),
                    "size": _size(info.file_size),
                    "limit": limits.ratio,
                }
            )
        total += info.file_size
    if total > limits.unpacked_bytes:
        raise ArchiveRefused(
            _("The zip file declares %(size)s unpacked; the limit is %(limit)s. It was not read.")
            % {"size": _size(total), "limit": _size(limits.unpacked_bytes)}
        )


def open_zip(handle: IO[bytes], limits: ZipLimits) -> zipfile.ZipFile:
    """A zip whose directory and every member's declared size passed the limits (ArchiveRefused
    otherwise). Raises zipfile.BadZipFile (and the like) for a file that is no zip."""
    refuse_crowded_directory(handle, entries=limits.entries)
    archive = zipfile.ZipFile(handle)
    try:
        members = archive.infolist()
        if len(members) > limits.entries:
            raise too_many_entries(limits.entries)
        refuse_oversized_members(members, limits)
    except BaseException:
        archive.close()
        raise
    return archive


# --- XML, walked without a tree -----------------------------------------------------------------


@dataclass(frozen=True)
class XmlLimits:
    # Elements that openpyxl holds whole while it parses them (a row, a shared string): each may
    # hold at most `per_group` elements, and there may be at most `groups` of them.
    group_tags: frozenset[str] = frozenset()
    per_group: int = 0
    groups: int = 0
    # Elements outside any group (a part parsed whole, such as styles.xml, is nothing else).
    outside: int = 50_000
    depth: int = 64
    # Said when a group holds too many elements, with %(position)d and %(limit)d.
    per_group_message: str = ""
    groups_message: str = ""


def scan_xml(stream: IO[bytes], name: str, limits: XmlLimits) -> None:
    """Walk an XML part once, holding nothing, and raise ArchiveRefused past a limit. A document
    type declaration is refused (no real spreadsheet part has one). Malformed XML is left for the
    real parser to report."""
    parser = xml.parsers.expat.ParserCreate(namespace_separator="}")
    state = {"depth": 0, "in_group": 0, "group_size": 0, "groups": 0, "outside": 0}

    def start(tag: str, _attrs) -> None:
        state["depth"] += 1
        if state["depth"] > limits.depth:
            raise ArchiveRefused(
                _("%(name)s nests its elements more than %(limit)d deep; it was not read.")
                % {"name": name, "limit": limits.depth}
            )
        if state["in_group"]:
            state["group_size"] += 1
            if state["group_size"] > limits.per_group:
                raise ArchiveRefused(
                    limits.per_group_message % {"position": state["groups"], "limit": limits.per_group}
                )
        elif tag.rsplit("}", 1)[-1] in limits.group_tags:
            state["in_group"], state["group_size"] = state["depth"], 0
            state["groups"] += 1
            if state["groups"] > limits.groups:
                raise ArchiveRefused(limits.groups_message % {"limit": limits.groups})
        else:
            state["outside"] += 1
            if state["outside"] > limits.outside:
                raise ArchiveRefused(
                    _(
                        "%(name)s holds more than %(limit)d elements; no real file of this kind does. It was not read."
                    )
                    % {"name": name, "limit": limits.outside}
                )

    def end(_tag: str) -> None:
        if state["in_group"] == state["depth"]:
            state["in_group"] = 0
        state["depth"] -= 1

    def doctype(*_args) -> None:
        raise ArchiveRefused(
            _("%(name)s declares a document type; no real file of this kind does. It was not read.")
            % {"name": name},
            status=400,
            code="invalid_import",
        )

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = doctype
    try:
        while block := stream.read(BLOCK):
            parser.Parse(block, False)
        parser.Parse(b"", True)
    except xml.parsers.expat.ExpatError:
        return  # not well-formed: the real parser says so
