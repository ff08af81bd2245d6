"""Text read from images of evidence (OCR), kept as derived data beside the file.

Every image that arrives gets a RecognizedText row in the upload's own transaction ("pending"), and
a background task (evidence/tasks.py) reads it after the commit: the upload never waits for OCR, and
web processes never load the engine. The text names the SHA-256 of the bytes it was read from (they
are re-hashed as they are read) and the engine; each result is an audit link (`evidence.text`).
`manage.py recognize_text` reads images again (`--redo`) or those never read.

The engine module (evidence/ocr.py, onnxruntime and OpenCV) is imported by name on first use, only
here, so importing this module costs nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from importlib import import_module

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ledger.chain import audit_append

from .metadata import ImageTooLarge, open_for_decoding
from .models import EvidenceFile, RecognizedText, TextStatus
from .storage import open_evidence

logger = logging.getLogger(__name__)

ENGINE_MODULE = "evidence.ocr"
# Text longer than this is cut: a screenshot holds a few thousand characters at most.
MAX_TEXT = 20_000
SPOOL_BYTES = 1024 * 1024


def ocr_enabled() -> bool:
    """OCR_ENABLED (setting or environment variable, default on): 0 turns reading images off."""
    default = os.environ.get("OCR_ENABLED", "1").strip().lower() not in ("0", "false", "no", "off")
    return bool(getattr(settings, "OCR_ENABLED", default))


def text_status(evidence: EvidenceFile) -> str:
    """The API's text_status: "none" (not an image, or never read), "pending", "done" or "failed"."""
    row = recognized_row(evidence)
    return row.status if row is not None else "none"


def recognized_row(evidence: EvidenceFile) -> RecognizedText | None:
    try:
        return evidence.recognized_text
    except RecognizedText.DoesNotExist:
        return None


def text_pending(*, evidence: EvidenceFile) -> RecognizedText | None:
    """Mark an image as waiting to be read (inside the caller's transaction). None for other files."""
    if not evidence.is_image or not ocr_enabled():
        return None
    row, _created = RecognizedText.objects.update_or_create(
        evidence=evidence,
        defaults={
            "sha256": evidence.sha256,
            "status": TextStatus.PENDING,
            "engine": "",
            "text": "",
            "lines": [],
            "error": "",
            "finished_at": None,
            "queued_at": timezone.now(),
            "attempts": 0,
        },
    )
    return row


def _read_image(evidence: EvidenceFile):
    """The image's pixels, from bytes that are checked against the evidence's SHA-256."""
    # Copied to a temporary file while it is hashed (in memory only while small): the file is never
    # held whole beside its decoded pixels, whose size open_for_decoding bounds.
    buffer = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    digest = hashlib.sha256()
    with open_evidence(evidence) as handle:
        while block := handle.read(SPOOL_BYTES):
            digest.update(block)
            buffer.write(block)
    if digest.hexdigest() != evidence.sha256:
        buffer.close()
        raise ValueError("the stored bytes do not match the evidence's SHA-256")
    buffer.seek(0)
    try:
        picture = open_for_decoding(buffer, (1 << 16, 1 << 16))
        picture.load()
    finally:
        buffer.close()
    return picture


def text_recognize(*, evidence_id: int, redo: bool = False) -> RecognizedText | None:
    """Read the text of one image and store it (audited). Returns the row, or None when the
    evidence is gone or is no image. A row already done is left alone unless `redo`."""
    evidence = EvidenceFile.all_objects.filter(pk=evidence_id).select_related("owner").first()
    if evidence is None or not evidence.is_image:
        return None
    row = recognized_row(evidence)
    if row is not None and row.status == TextStatus.DONE and not redo:
        return row
    engine_name, lines, error = "", [], ""
    try:
        picture = _read_image(evidence)
        engine = import_module(ENGINE_MODULE)
        engine_name = engine.ENGINE_NAME
        lines = engine.recognize(picture)
    except ImageTooLarge as exc:
        error = f"the image is too large to decode ({exc})"
    except Exception as exc:  # an engine that cannot load (no libGL), a broken file: recorded, not raised
        logger.warning("text recognition failed for evidence %s: %s", evidence_id, exc)
        error = f"{type(exc).__name__}: {exc}"[:500]
    text = "\n".join(line["text"] for line in lines)[:MAX_TEXT]
    status = TextStatus.FAILED if error else TextStatus.DONE
    with transaction.atomic():
        row, _created = RecognizedText.objects.update_or_create(
            evidence=evidence,
            defaults={
                "sha256": evidence.sha256,
                "engine": engine_name,
                "status": status,
                "text": text,
                "lines": lines,
                "error": error,
                "finished_at": timezone.now(),
            },
        )
        audit_append(
            owner=evidence.owner,
            action="evidence.text",
            subject=evidence,
            payload={
                "source_sha256": evidence.sha256,
                "engine": engine_name,
                "status": status,
                "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                "lines": len(lines),
                "error": error,
            },
        )
    return row


def images_to_read(*, evidence_id: int | None = None, redo: bool = False):
    """The images `recognize_text` reads: one, or every image not yet read (all with `redo`)."""
    images = EvidenceFile.all_objects.filter(content_type__startswith="image/").order_by("pk")
    if evidence_id is not None:
        return images.filter(pk=evidence_id)
    if redo:
        return images
    return images.exclude(recognized_text__status=TextStatus.DONE)
