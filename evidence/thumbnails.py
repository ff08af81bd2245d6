"""Thumbnails of image evidence: made once when the image arrives, kept beside the evidence through
the storage API, used by the incident page and the dossier. They are derived copies, never evidence:
the original bytes are what is hashed, listed and bundled."""

from __future__ import annotations

import io
import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)

# About 6 cm wide at 150 dpi in the dossier; sharp on a phone screen too.
BOX = (360, 800)
THUMBNAIL_TYPES = {"image/png", "image/jpeg", "image/webp", "image/heic"}


def thumbnail_name(*, owner_id: int, sha256: str) -> str:
    return f"thumbs/{owner_id}/{sha256[:2]}/{sha256}.jpg"


def make_thumbnail(fileobj) -> bytes | None:
    from PIL import Image

    from . import metadata  # noqa: F401  (registers the HEIC opener)

    try:
        fileobj.seek(0)
        with Image.open(fileobj) as picture:
            picture.draft("RGB", BOX)
            picture = picture.convert("RGB")
            picture.thumbnail(BOX, Image.Resampling.BILINEAR, reducing_gap=2.0)
            buffer = io.BytesIO()
            picture.save(buffer, "JPEG", quality=82)
            return buffer.getvalue()
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


def thumbnail_for(evidence) -> bytes | None:
    """The thumbnail's bytes, made from the stored original if it is not there yet."""
    if evidence.content_type not in THUMBNAIL_TYPES:
        return None
    name = thumbnail_name(owner_id=evidence.owner_id, sha256=evidence.sha256)
    if not default_storage.exists(name):
        from .storage import open_evidence

        with open_evidence(evidence) as handle:
            if thumbnail_store(owner_id=evidence.owner_id, sha256=evidence.sha256, fileobj=handle) is None:
                return None
    with default_storage.open(name, "rb") as handle:
        return handle.read()
