"""Images are decoded only within a memory budget, in the web process (thumbnails on arrival) and
the worker (text recognition) alike (issue 25): a 49-megapixel picture cost +180 MB in the web
process and +520 MB in the worker. Now it is kept as evidence, undecoded, with the reason, and any
image that is decoded costs a process less than 64 MB.

The PNGs are built in code from one compressed row repeated (full-flushed deflate blocks stand
alone), so making a 49-megapixel file costs the test neither the pixels nor the time to compress
them. Memory is measured on this process (tests.memory), never time."""

from __future__ import annotations

import struct
import zlib

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.metadata import decode_cost, max_decode_bytes
from evidence.models import EvidenceFile, TextStatus
from evidence.recognition import _read_image, text_recognize
from evidence.thumbnails import thumbnail_name
from tests.memory import MiB, grown_by

BUDGET = 64 * MiB


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def solid_png(width: int, height: int, colour=(200, 30, 30)) -> bytes:
    """An RGB PNG of one colour: one filtered row compressed once, repeated `height` times."""
    row = b"\x00" + bytes(colour) * width
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(row) + packer.flush(zlib.Z_FULL_FLUSH)
    checksum = 1
    for _ in range(height):
        checksum = zlib.adler32(row, checksum)
    stream = b"\x78\xda" + block * height + b"\x03\x00" + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")


def upload(api, incident, name: str, data: bytes) -> dict:
    response = api.post(
        f"/api/v1/incidents/{incident.pk}/evidence/",
        {"file": SimpleUploadedFile(name, data)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()


def has_thumbnail(evidence: EvidenceFile) -> bool:
    return default_storage.exists(thumbnail_name(owner_id=evidence.owner_id, sha256=evidence.sha256))


def test_a_49_megapixel_image_is_kept_undecoded_with_its_reason(alice_api, alice_incident):
    data = solid_png(7000, 7000)
    assert len(data) < 2 * MiB and decode_cost("RGB", (7000, 7000)) > 150 * MiB
    body, grown = grown_by(lambda: upload(alice_api, alice_incident, "big.png", data))
    assert grown < BUDGET, grown / MiB
    too_large = body["metadata"]["image_too_large"]
    assert (too_large["width"], too_large["height"]) == (7000, 7000)
    assert too_large["max_decode_bytes"] == max_decode_bytes()
    evidence = EvidenceFile.objects.get(pk=body["id"])
    assert evidence.size == len(data) and not has_thumbnail(evidence)

    # The worker's text recognition refuses it too, saying why, without decoding it.
    row, grown = grown_by(lambda: text_recognize(evidence_id=evidence.pk))
    assert grown < BUDGET, grown / MiB
    assert row.status == TextStatus.FAILED
    assert "too large to decode" in row.error and "7000×7000" in row.error


def test_an_image_within_the_budget_is_decoded_within_64_mb(alice_api, alice_incident):
    # 3000×3000 RGB: 36 MB of pixels, just inside the 40 MiB budget.
    data = solid_png(3000, 3000)
    assert decode_cost("RGB", (3000, 3000)) <= max_decode_bytes()
    body, grown = grown_by(lambda: upload(alice_api, alice_incident, "photo.png", data))
    assert grown < BUDGET, grown / MiB
    assert "image_too_large" not in body["metadata"]
    evidence = EvidenceFile.objects.get(pk=body["id"])
    assert has_thumbnail(evidence)

    # What the worker decodes for text recognition stays within the same budget.
    def decode() -> tuple[int, int]:
        with _read_image(evidence) as picture:
            return picture.size

    size, grown = grown_by(decode)
    assert size == (3000, 3000)
    assert grown < BUDGET, grown / MiB


def test_the_budget_is_a_setting(settings, alice_api, alice_incident):
    settings.EVIDENCE_MAX_DECODE_BYTES = 8 * MiB
    body = upload(alice_api, alice_incident, "photo.png", solid_png(2000, 2000))  # 16 MB of pixels
    assert body["metadata"]["image_too_large"]["max_decode_bytes"] == 8 * MiB
    assert not has_thumbnail(EvidenceFile.objects.get(pk=body["id"]))
