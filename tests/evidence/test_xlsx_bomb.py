"""A carrier "spreadsheet" that is a decompression bomb is refused before openpyxl sees it (issue
25, H1): a 1.5 MB .xlsx whose sheet inflates to gigabytes took a web process from 313 MB to 4.8 GB.

The files are built in code: a zip written by hand, its sheet a raw deflate stream made of one
compressed megabyte of spaces repeated (full-flushed deflate blocks stand alone), so a file of a
megabyte or two inflates to gigabytes without the test ever holding them. Memory is measured on
this process (tests.memory), never time."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from evidence import carrier
from evidence.models import PhoneImport
from tests.memory import MiB, grown_by

HEADER = ["起始时间", "对方号码", "通话时长", "呼叫类型"]
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET = "xl/worksheets/sheet1.xml"
BUDGET = 64 * MiB


def real_members() -> dict[str, bytes]:
    """The parts of a real one-sheet workbook (content types, relations, workbook, styles)."""
    book = Workbook()
    book.active.append(HEADER)
    book.active.append(["2024-03-15 23:05:10", "17012345678", "2分3秒", "被叫"])
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def deflated(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def zip_of(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of (name, raw deflate stream, declared unpacked size, crc32), written by hand so a
    member may declare whatever size the test wants."""
    out = io.BytesIO()
    directory = []
    for name, packed, size, crc in members:
        encoded = name.encode()
        offset = out.tell()
        out.write(
            struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(packed), size, len(encoded), 0)
        )
        out.write(encoded + packed)
        directory.append(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0,
                8,
                0,
                0,
                crc,
                len(packed),
                size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    start = out.tell()
    table = b"".join(directory)
    out.write(table)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(table), start, 0))
    return out.getvalue()


def bomb_sheet(megabytes: int) -> tuple[bytes, int, int]:
    """(raw deflate stream, unpacked size, crc32 left at 0) of a sheet: a header row, then `megabytes` MiB of
    spaces between elements (valid XML), then the end."""
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>起始时间</t></is></c></row>'
    ).encode()
    tail = b"</sheetData></worksheet>"
    block = b" " * MiB
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = packer.compress(head) + packer.flush(zlib.Z_FULL_FLUSH)
    repeated = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    last = packer.compress(tail) + packer.flush()
    # The checksum is left at zero: the true one would cost hashing gigabytes, and no reader
    # gets far enough to compare it.
    return first + repeated * megabytes + last, len(head) + megabytes * MiB + len(tail), 0


def workbook_with_sheet(packed: bytes, size: int, crc: int) -> bytes:
    members = []
    for name, data in real_members().items():
        if name == SHEET:
            members.append((name, packed, size, crc))
        else:
            members.append((name, deflated(data), len(data), zlib.crc32(data)))
    return zip_of(members)


def post(client, case, data: bytes, name: str = "详单.xlsx"):
    upload = SimpleUploadedFile(name, data)
    return client.post("/api/v1/imports/", {"file": upload, "case": case.pk}, format="multipart")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """About 1.5 MB that inflate to 1.5 GiB: the sheet declares its true size."""
    return workbook_with_sheet(*bomb_sheet(1536))


def test_the_bomb_is_small_and_declares_gigabytes(bomb):
    assert 1 * MiB < len(bomb) < 2 * MiB
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:
        assert archive.getinfo(SHEET).file_size > 1024 * MiB


def test_an_xlsx_bomb_is_refused_before_it_is_inflated(alice_api, alice_case, bomb):
    response, grown = grown_by(lambda: post(alice_api, alice_case, bomb))
    assert response.status_code == 413, response.content
    error = response.json()["error"]
    assert error["code"] == "too_large_to_read"
    assert SHEET in error["message"] and "100" in error["message"]
    assert grown < BUDGET, grown / MiB
    assert not PhoneImport.objects.exists()


def test_a_sheet_lying_about_its_size_is_inflated_no_further_than_it_declares(alice_api, alice_case):
    packed, _size, crc = bomb_sheet(1536)
    # Declares 900 KB: below the size whose ratio is looked at, so only its lie can give it away.
    lying = workbook_with_sheet(packed, 900_000, crc)
    response, grown = grown_by(lambda: post(alice_api, alice_case, lying))
    assert response.status_code == 400, response.content
    assert SHEET in response.json()["error"]["message"]
    assert grown < BUDGET, grown / MiB
    assert not PhoneImport.objects.exists()


def test_a_row_with_a_hundred_thousand_cells_is_refused_unparsed(alice_api, alice_case):
    cells = "".join("<c><v>1</v></c>" for _ in range(60_000))
    sheet = f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">{cells}</row></sheetData></worksheet>'.encode()
    assert len(sheet) < 1 * MiB  # within what any member may inflate to: only the walk can tell
    data = workbook_with_sheet(deflated(sheet), len(sheet), zlib.crc32(sheet))
    response, grown = grown_by(lambda: post(alice_api, alice_case, data))
    assert response.status_code == 413, response.content
    assert str(16 * carrier.MAX_COLUMNS) in response.json()["error"]["message"]
    assert grown < BUDGET, grown / MiB


def test_a_sheet_past_the_row_limit_is_refused_with_the_limit_named(alice_api, alice_case, monkeypatch):
    monkeypatch.setattr(carrier, "MAX_ROWS", 50)
    rows = "".join(f'<row r="{n}"><c><v>{n}</v></c></row>' for n in range(1, 120))
    sheet = f'<worksheet xmlns="{MAIN}"><sheetData>{rows}</sheetData></worksheet>'.encode()
    data = workbook_with_sheet(deflated(sheet), len(sheet), zlib.crc32(sheet))
    response = post(alice_api, alice_case, data)
    assert response.status_code == 413, response.content
    assert "50" in response.json()["error"]["message"]


def test_a_zip_with_thousands_of_parts_is_refused_from_its_directory(alice_api, alice_case):
    members = [(f"xl/media/{n}.bin", deflated(b""), 0, 0) for n in range(1500)]
    members += [(name, deflated(data), len(data), zlib.crc32(data)) for name, data in real_members().items()]
    response = post(alice_api, alice_case, zip_of(members))
    assert response.status_code == 413, response.content
    assert "1000" in response.json()["error"]["message"]


def test_the_import_page_says_why_the_bomb_is_refused(client, alice, alice_case, bomb):
    client.force_login(alice)
    upload = SimpleUploadedFile("详单.xlsx", bomb)
    response, grown = grown_by(lambda: client.post(f"/cases/{alice_case.pk}/import/", {"file": upload}))
    assert response.status_code == 200
    assert SHEET in response.content.decode()
    assert grown < BUDGET, grown / MiB
    assert not PhoneImport.objects.exists()


def test_a_real_carrier_spreadsheet_still_imports(alice_api, alice_case):
    book = Workbook()
    book.active.append(HEADER)
    book.active.append(["2024-03-15 23:05:10", "17012345678", "2分3秒", "被叫"])
    buffer = io.BytesIO()
    book.save(buffer)
    response = post(alice_api, alice_case, buffer.getvalue())
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 1
