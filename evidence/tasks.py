"""Background tasks of the evidence store (django-tasks API): reading the text of images."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task

from .models import EvidenceFile
from .recognition import text_pending, text_recognize


@task()
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
