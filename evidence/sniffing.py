"""Decide a file's type from its bytes, never from its name or the browser's claim.

Generic sniffing packages miss AMR and mislabel 3gp/m4a (see phone-formats.md), so this is a small
table of signatures. A signature alone is enough for every type but PDF: anything can begin with
`%PDF-`, so a PDF is also opened as one (pdf_parses) before it is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    extension: str


ACCEPTED_DESCRIPTION = _(
    "audio (AMR, MP3, M4A/AAC, 3GP, Ogg/Opus, FLAC, WAV, WebM), images (PNG, JPEG, WebP, HEIC) and PDF"
)

_MP4_AUDIO_BRANDS = {
    b"M4A ",
    b"M4B ",
    b"isom",
    b"mp41",
    b"mp42",
    b"iso2",
    b"iso4",
    b"iso5",
    b"iso6",
    b"dash",
    b"MSNV",
    b"qt  ",
}
_3GP_BRANDS = {b"3gp4", b"3gp5", b"3gp6", b"3gp7", b"3gs7", b"3ge6", b"3ge7", b"3gg6", b"3g2a"}
_HEIC_BRANDS = {b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"hevc", b"hevx"}


def sniff(head: bytes) -> Sniffed | None:
    """Return the type of a file from its first bytes (64 are plenty), or None if not accepted."""
    if head.startswith(b"#!AMR-WB\n"):
        return Sniffed("audio/amr-wb", "awb")
    if head.startswith(b"#!AMR\n"):
        return Sniffed("audio/amr", "amr")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image/png", "png")
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image/jpeg", "jpg")
    if head.startswith(b"%PDF-"):
        return Sniffed("application/pdf", "pdf")
    if head.startswith(b"fLaC"):  # BCR can record FLAC
        return Sniffed("audio/flac", "flac")
    if head.startswith(b"OggS"):
        return Sniffed("audio/ogg", "ogg")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed("audio/webm", "webm")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Sniffed("audio/wav", "wav")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image/webp", "webp")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIC_BRANDS:
            return Sniffed("image/heic", "heic")
        if brand in _3GP_BRANDS:
            return Sniffed("audio/3gpp", "3gp")
        if brand in _MP4_AUDIO_BRANDS:
            return Sniffed("audio/mp4", "m4a")
        return None
    if head.startswith(b"ID3"):
        return Sniffed("audio/mpeg", "mp3")
    if len(head) >= 2 and head[0] == 0xFF:
        second = head[1]
        # ADTS AAC: sync word with layer bits 00 (FF F1 MPEG-4, FF F9 MPEG-2).
        if second in (0xF1, 0xF9):
            return Sniffed("audio/aac", "aac")
        # MPEG audio frame sync: 11 set bits, a valid version and a non-zero layer.
        if second & 0xE0 == 0xE0 and (second >> 3) & 0x03 != 0x01 and (second >> 1) & 0x03 != 0:
            return Sniffed("audio/mpeg", "mp3")
    return None


MiB = 1 << 20
# Reading a PDF's structure inflates at most its cross-reference streams and the catalog: a few MB
# for the largest real document. These bounds (pyHanko's DecodeLimits) keep a crafted one from
# costing more.
PDF_CHECK_STREAM_BYTES = 16 * MiB
PDF_CHECK_DOCUMENT_BYTES = 32 * MiB


def pdf_parses(handle: IO[bytes]) -> bool:
    """Whether a file that begins with `%PDF-` is a PDF a reader can open.

    pyHanko's reader (already used to sign and verify dossiers) does what every PDF viewer does
    first: it finds `startxref` and `%%EOF` in the last kilobyte, reads the cross-reference table or
    stream and the trailer it points to (tolerating offsets a few bytes off, as viewers do), and
    resolves the document catalog, which must list its pages. That reads the file's tail and a few
    objects, never every page, so it costs milliseconds whatever the size. A renamed text or HTML
    file, a truncated download or `%PDF-` followed by anything else fails here."""
    # pyHanko (and the cryptography stack under it) loads with the first PDF uploaded, not with
    # every web and worker process.
    from pyhanko.pdf_utils.decode_limits import (  # noqa: PLC0415
        DecodeLimits,
        DocumentDecodeBudget,
        StreamDecodeLimits,
    )
    from pyhanko.pdf_utils.generic import DictionaryObject  # noqa: PLC0415
    from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: PLC0415

    limits = DecodeLimits(
        per_stream=StreamDecodeLimits(max_output_size=PDF_CHECK_STREAM_BYTES),
        document_budget=DocumentDecodeBudget(base_allowance=PDF_CHECK_DOCUMENT_BYTES, max_ratio=1),
    )
    handle.seek(0)
    try:
        reader = PdfFileReader(handle, strict=False, decode_limits=limits)
        root = reader.root
        return isinstance(root, DictionaryObject) and "/Pages" in root
    except Exception:  # any parse error, a decode limit, a missing trailer or catalog: not a PDF
        return False
    finally:
        handle.seek(0)
