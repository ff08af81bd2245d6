"""Thumbnails of image evidence: made once when the image arrives, kept beside the evidence through
the storage API, used by the incident page and the dossier. They are derived copies, never evidence:
the original bytes are what is hashed, listed and bundled.

An image is decoded for its thumbnail only when what the decoder produces fits the limit on decoded
pixels and memory (metadata.max_image_pixels(), max_decode_bytes()), reduced while decoding where the format allows: an image bomb
(a small file declaring a huge picture) is kept as evidence without a thumbnail, never decoded."""

from __future__ import annotations

import io
import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from .metadata import (  # also registers the HEIC opener
    ImageTooLarge,
    max_decode_bytes,
    max_image_pixels,
    open_for_decoding,
)
from .storage import open_evidence

logger = logging.getLogger(__name__)

# About 6 cm wide at 150 dpi in the dossier; sharp on a phone screen too.
BOX = (360, 800)
THUMBNAIL_TYPES = {"image/png", "image/jpeg", "image/webp", "image/heic"}


def thumbnail_name(*, owner_id: int, sha256: str) -> str:
    return f"thumbs/{owner_id}/{sha256[:2]}/{sha256}.jpg"


def make_thumbnail(fileobj, box: tuple[int, int] = BOX, quality: int = 82) -> bytes | None:
    """A JPEG within `box`, or None when the image cannot be read or is too large to decode."""
    try:
        # Decoded at the smallest size the format allows that still fills BOX (JPEG DCT scaling,
        # a HEIC's embedded thumbnail); never more than max_image_pixels(), checked on the header.
        with open_for_decoding(fileobj, box) as picture:
            if picture.mode == "1":
                picture = picture.convert("L")  # resizing 1-bit pixels would ignore the filter
            elif picture.mode not in ("RGB", "L"):
                picture = picture.convert("RGB")  # palette, alpha, CMYK: shrink in RGB
            picture.thumbnail(box, Image.Resampling.BILINEAR, reducing_gap=2.0)
            if picture.mode != "RGB":
                picture = picture.convert("RGB")
            buffer = io.BytesIO()
            picture.save(buffer, "JPEG", quality=quality)
            return buffer.getvalue()
    except (ImageTooLarge, Image.DecompressionBombError) as exc:
        logger.info("no thumbnail, image too large to decode: %s", exc)
        return None
    except Exception as exc:  # an image Pillow cannot read still counts as evidence
        logger.info("no thumbnail: %s", exc)
        return None
    finally:
        fileobj.seek(0)


def thumbnail_store(*, owner_id: int, sha256: str, fileobj) -> str | None:
    name = thumbnail_name(owner_id=owner_id, sha256=sha256)
    if default_storage.exists(name):
        return name
    data = make_thumbnail(fileobj)
    if data is None:
        return None
    return default_storage.save(name, ContentFile(data))


def _found_too_large(evidence) -> bool:
    """Found too large to decode on arrival, under limits no higher than today's."""
    too_large = (evidence.metadata or {}).get("image_too_large")
    if not too_large:
        return False
    return (
        too_large.get("max_pixels", 0) >= max_image_pixels()
        and too_large.get("max_decode_bytes", max_decode_bytes()) >= max_decode_bytes()
    )


def thumbnail_for(evidence) -> bytes | None:
    """The thumbnail's bytes, made from the stored original if it is not there yet."""
    if evidence.content_type not in THUMBNAIL_TYPES:
        return None
    name = thumbnail_name(owner_id=evidence.owner_id, sha256=evidence.sha256)
    if not default_storage.exists(name):
        if _found_too_large(evidence):
            return None  # found too large on arrival, and the limits have not been raised since
        with open_evidence(evidence) as handle:
            if thumbnail_store(owner_id=evidence.owner_id, sha256=evidence.sha256, fileobj=handle) is None:
                return None
    with default_storage.open(name, "rb") as handle:
        return handle.read()


# A screenshot printed on its own page: large enough to read (a 1080×2400 phone screenshot keeps all
# its pixels), never larger than an A4 page needs.
PAGE_BOX = (1600, 2400)


def page_image(evidence) -> bytes | None:
    """A full-page rendition of an image for a dossier's appendix, made from the stored original."""
    if evidence.content_type not in THUMBNAIL_TYPES:
        return None
    if _found_too_large(evidence):
        return None
    with open_evidence(evidence) as handle:
        return make_thumbnail(handle, box=PAGE_BOX, quality=85)
