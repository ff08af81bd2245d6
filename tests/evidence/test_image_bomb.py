"""Image bombs: a small file that declares a huge picture is kept as evidence byte for byte, but its
pixels are never decoded: no thumbnail is made, and the metadata says why.

Nothing here measures memory or time (bench/image_bomb.py does, on a real server). Instead the tests
watch Pillow's decoder: a spy on ImageFile.load records the size of every image that gets decoded.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from zoneinfo import ZoneInfo

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageFile

from evidence.metadata import DEFAULT_MAX_IMAGE_PIXELS, image_metadata, max_decode_bytes, max_image_pixels
from evidence.models import EvidenceFile
from evidence.thumbnails import make_thumbnail, thumbnail_name
from tests.conftest import image_bytes, png_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")


# --- files built in code -------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 13000, height: int = 13000, bit_depth: int = 8) -> bytes:
    """A valid greyscale PNG of zeros. Rows are compressed one at a time, so the test never holds
    the decoded picture (13000×13000 at 8 bits is 169 MB of pixels in a ~164 KB file)."""
    row = bytes(1 + (width * bit_depth + 7) // 8)  # filter type 0, then the row's zero pixels
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        chunks.append((kind, data[position + 8 : position + 8 + length]))
        position += 12 + length
    return chunks


def exif_after_image_data(data: bytes) -> bytes:
    """The same PNG with its eXIf chunk moved after the image data, where some phones write it."""
    chunks = png_chunks(data)
    exif = [chunk for chunk in chunks if chunk[0] == b"eXIf"]
    rest = [chunk for chunk in chunks if chunk[0] != b"eXIf"]
    assert exif, "the sample has no eXIf chunk"
    ordered = rest[:-1] + exif + rest[-1:]  # just before IEND
    return b"\x89PNG\r\n\x1a\n" + b"".join(png_chunk(kind, body) for kind, body in ordered)


def webp_declaring(width: int, height: int) -> bytes:
    """A WebP whose extended header (VP8X) declares a canvas of width×height and carries nothing else."""
    vp8x = bytes([0, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


def jpeg(size, *, progressive: bool = False) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buffer, "JPEG", quality=80, progressive=progressive)
    return buffer.getvalue()


def heic(size) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buffer, "HEIF", quality=50)
    return buffer.getvalue()


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def decoded(monkeypatch):
    """Sizes of every image whose pixels Pillow decodes while the test runs."""
    sizes: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def spy(self):
        sizes.append(tuple(self.size))
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return sizes


def upload(api, incident, name, data):
    response = api.post(
        f"/api/v1/incidents/{incident.pk}/evidence/",
        {"file": SimpleUploadedFile(name, data)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()


def has_thumbnail(evidence: EvidenceFile) -> bool:
    return default_storage.exists(thumbnail_name(owner_id=evidence.owner_id, sha256=evidence.sha256))


def bomb_warnings(recwarn) -> list:
    return [w for w in recwarn.list if issubclass(w.category, Image.DecompressionBombWarning)]


def assert_kept_without_thumbnail(api, client, user, body, data, width, height):
    digest = hashlib.sha256(data).hexdigest()
    assert body["sha256"] == digest and body["size"] == len(data)
    evidence = EvidenceFile.objects.get(pk=body["id"])
    assert evidence.sha256 == digest
    assert evidence.metadata["image_too_large"] == {
        "width": width,
        "height": height,
        "max_pixels": max_image_pixels(),
        "max_decode_bytes": max_decode_bytes(),
    }
    assert (evidence.metadata["width"], evidence.metadata["height"]) == (width, height)
    assert not has_thumbnail(evidence)
    client.force_login(user)
    assert client.get(f"/evidence/{evidence.pk}/thumb/").status_code == 404
    assert not has_thumbnail(evidence)  # asking for it does not make one either
    download = api.get(f"/api/v1/evidence/{evidence.pk}/download")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == data


# --- the bomb --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "width,height,bit_depth",
    [
        (13000, 13000, 8),  # 169 MP: above Pillow's warning threshold (89 MP)
        (
            20000,
            20000,
            1,
        ),  # 400 MP: above the size at which Pillow's Image.open raises DecompressionBombError
    ],
)
def test_png_bomb_is_kept_as_evidence_but_never_decoded(
    alice_api, client, alice, alice_incident, decoded, recwarn, width, height, bit_depth
):
    data = bomb_png(width, height, bit_depth)
    assert len(data) < 400_000
    body = upload(alice_api, alice_incident, "Screenshot_20240315-231000.png", data)
    assert_kept_without_thumbnail(alice_api, client, alice, body, data, width, height)
    assert decoded == []
    assert bomb_warnings(recwarn) == []


def test_bomb_through_the_one_tap_endpoint(alice_api, client, alice, alice_case, decoded, recwarn):
    data = bomb_png()
    response = alice_api.post(
        "/api/v1/evidence/",
        {"file": SimpleUploadedFile("bomb.png", data), "case": alice_case.pk},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert_kept_without_thumbnail(alice_api, client, alice, response.json(), data, 13000, 13000)
    assert decoded == []
    assert bomb_warnings(recwarn) == []


def test_webp_declaring_a_huge_canvas_is_not_handed_to_the_decoder(
    alice_api, client, alice, alice_incident, decoded, recwarn
):
    # WebP's Pillow plugin sets up libwebp's decoder (and its canvas) while opening, so the size must
    # be read from the header before Pillow sees the file.
    data = webp_declaring(16383, 16383)
    body = upload(alice_api, alice_incident, "huge.webp", data)
    assert_kept_without_thumbnail(alice_api, client, alice, body, data, 16383, 16383)
    assert decoded == []
    assert bomb_warnings(recwarn) == []


# --- real pictures still work -------------------------------------------------------------------


def test_the_default_limit_accepts_phone_photos_and_screenshots():
    assert DEFAULT_MAX_IMAGE_PIXELS == 50_000_000
    # Screenshots are decoded whole; photos (baseline JPEG) are decoded reduced, whatever their size.
    for data, (width, height) in (
        (bomb_png(1080, 2400, 8), (1080, 2400)),
        (bomb_png(1440, 3200, 8), (1440, 3200)),
        (jpeg((4000, 3000)), (4000, 3000)),
    ):
        found = image_metadata(io.BytesIO(data), SHANGHAI)
        assert (found["width"], found["height"]) == (width, height)
        assert "image_too_large" not in found


def test_a_screenshot_still_gets_its_thumbnail_and_exif_time(
    alice_api, client, alice, alice_incident, recwarn
):
    data = png_bytes(size=(1080, 2400), exif_time="2024:03:15 23:10:05")
    body = upload(alice_api, alice_incident, "shot.png", data)
    assert body["metadata"]["exif_time"] == "2024-03-15T23:10:05+08:00"
    assert "image_too_large" not in body["metadata"]
    evidence = EvidenceFile.objects.get(pk=body["id"])
    assert has_thumbnail(evidence)
    client.force_login(alice)
    response = client.get(f"/evidence/{evidence.pk}/thumb/")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(response.content)) as thumb:
        assert thumb.size == (360, 800)
    assert bomb_warnings(recwarn) == []


def test_exif_is_read_without_decoding_pixels_even_after_the_image_data(decoded):
    # Pillow's PngImageFile.getexif() decodes the whole image when eXIf follows the image data.
    for data in (
        png_bytes(size=(1080, 2400), exif_time="2024:03:15 23:10:05"),
        exif_after_image_data(png_bytes(size=(1080, 2400), exif_time="2024:03:15 23:10:05")),
        image_bytes("JPEG", (1080, 2400), exif_time="2024:03:15 23:10:05", offset="+08:00"),
        image_bytes("WEBP", (1080, 2400), exif_time="2024:03:15 23:10:05"),
    ):
        found = image_metadata(io.BytesIO(data), SHANGHAI)
        assert found["exif_time"] == "2024-03-15T23:10:05+08:00"
        assert (found["width"], found["height"]) == (1080, 2400)
    assert decoded == []


def test_a_jpeg_over_the_limit_is_decoded_reduced_for_its_thumbnail(
    settings, alice_api, alice_incident, decoded
):
    settings.EVIDENCE_MAX_IMAGE_PIXELS = 1_000_000
    body = upload(alice_api, alice_incident, "photo.jpg", jpeg((2400, 1800)))  # 4.3 MP, baseline
    assert "image_too_large" not in body["metadata"]
    assert has_thumbnail(EvidenceFile.objects.get(pk=body["id"]))
    assert decoded and all(w * h <= 1_000_000 for w, h in decoded)  # libjpeg's DCT scaling (draft)


def test_a_progressive_jpeg_over_the_limit_is_not_decoded(
    settings, alice_api, client, alice, alice_incident, decoded
):
    # A progressive JPEG's decoder holds every coefficient of the full-size image, however small the
    # output, so reduced decoding does not bound its memory.
    settings.EVIDENCE_MAX_IMAGE_PIXELS = 1_000_000
    data = jpeg((2400, 1800), progressive=True)
    body = upload(alice_api, alice_incident, "photo.jpg", data)
    assert_kept_without_thumbnail(alice_api, client, alice, body, data, 2400, 1800)
    assert decoded == []


def test_heic_size_is_checked_before_decoding(settings, alice_api, client, alice, alice_incident, decoded):
    data = heic((640, 480))
    body = upload(alice_api, alice_incident, "IMG_0001.heic", data)
    assert "image_too_large" not in body["metadata"]
    assert has_thumbnail(EvidenceFile.objects.get(pk=body["id"]))

    settings.EVIDENCE_MAX_IMAGE_PIXELS = 100_000
    decoded.clear()
    data = heic((641, 480))
    body = upload(alice_api, alice_incident, "IMG_0002.heic", data)
    assert_kept_without_thumbnail(alice_api, client, alice, body, data, 641, 480)
    assert decoded == []


def test_make_thumbnail_refuses_the_bomb_directly(decoded, recwarn):
    assert make_thumbnail(io.BytesIO(bomb_png())) is None
    assert decoded == []
    assert bomb_warnings(recwarn) == []


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xc0\x00\x00" + bytes(64),  # JPEG frame header shorter than itself
        b"\xff\xd8\xff\xe0\x00\x01" + bytes(64),  # JPEG segment length 1
        b"\xff\xd8\xff\xc0\x00\x11\x08\xff\xff\xff\xff\x03" + bytes(20),  # 65535×65535, then nothing
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\xff\xff\xff\xff",  # truncated PNG header
        webp_declaring(16383, 16383)[:24],  # truncated WebP header
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),  # HEIC brand, no boxes
    ],
    ids=[
        "jpeg-short-frame",
        "jpeg-short-segment",
        "jpeg-huge-empty",
        "png-truncated",
        "webp-truncated",
        "heic-empty",
    ],
)
def test_hostile_headers_never_raise(data, decoded, recwarn):
    assert isinstance(image_metadata(io.BytesIO(data), SHANGHAI), dict)
    assert make_thumbnail(io.BytesIO(data)) is None
    assert all(w * h <= max_image_pixels() for w, h in decoded)
    assert bomb_warnings(recwarn) == []
