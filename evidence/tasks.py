"""Background tasks of the evidence store (django-tasks API): reading the text of images, on a
queue of its own ("ocr", core.queues) so a burst of screenshots never delays a dossier. Large
imports are queued by evidence.import_jobs."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task

from core.queues import OCR

from .models import EvidenceFile
from .recognition import text_pending, text_recognize


@task(queue_name=OCR)
def recognize_text(evidence_id: int, redo: bool = False) -> str:
    row = text_recognize(evidence_id=evidence_id, redo=redo)
    return row.status if row is not None else "none"


def text_queue(*, evidence: EvidenceFile) -> None:
    """Called inside the transaction that stores an image: the image is marked pending with it, and
    read by a worker once it has committed (never inside the upload's request)."""
    if text_pending(evidence=evidence) is None:
        return
    evidence_id = evidence.pk
    transaction.on_commit(lambda: recognize_text.enqueue(evidence_id))
