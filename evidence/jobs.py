"""The evidence store's background jobs as the worker's sweep and /healthz see them (core.jobs):
phone-log imports and text recognition (OCR). Registered once, by EvidenceConfig.ready().

Sweep, for both: a job whose queue row is gone or was failed (its worker was killed: the sweep
fails the rows of workers that are down before it looks here) or whose heartbeat stopped is queued
again, at most IMPORT_MAX_ATTEMPTS / OCR_MAX_ATTEMPTS times, then failed with a plain reason.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.jobs import JobKind, Sweep, job_facts, register
from core.queues import IMPORTS, OCR
from core.taskqueue import live_rows, still_alive
from ledger.chain import audit_append

from .import_jobs import import_enqueue, import_fail, run_import
from .models import ImportStatus, PhoneImport, RecognizedText, TextStatus
from .tasks import recognize_text

logger = logging.getLogger(__name__)

# A job queued this recently may not have its queue row yet (it is written once the caller's
# transaction commits): the sweep leaves it alone.
QUEUE_GRACE = timedelta(seconds=60)
DAY = timedelta(days=1)


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


# --- imports --------------------------------------------------------------------------------------


def imports_sweep(sweep: Sweep) -> str:
    stall = timedelta(seconds=_setting("IMPORT_STALL_SECONDS", 180))
    rows = live_rows(run_import) if sweep.queued_in_database else {}
    again, failed = [], []
    candidates = PhoneImport.objects.filter(status__in=[ImportStatus.PENDING, ImportStatus.RUNNING])
    for pk, status, beat in candidates.values_list("pk", "status", Coalesce("heartbeat_at", "created_at")):
        if sweep.queued_in_database:
            if still_alive(rows.get(pk, []), alive=sweep.alive, now=sweep.now, stall=stall):
                continue
            if status == ImportStatus.PENDING and beat >= sweep.now - QUEUE_GRACE:
                continue
        elif beat >= sweep.now - stall:
            continue  # run in a web process: only a heartbeat that stopped says it is gone
        with transaction.atomic():
            row = PhoneImport.objects.select_for_update().filter(pk=pk, status=status).first()
            if row is None:
                continue
            if row.attempts >= _setting("IMPORT_MAX_ATTEMPTS", 3) or not sweep.queued_in_database:
                import_fail(
                    import_id=pk,
                    reason=(
                        f"the import stopped without finishing ({row.attempts} run(s); its worker was "
                        "stopped or killed); the entries of its finished batches are kept"
                    ),
                )
                failed.append(pk)
                continue
            row.status, row.heartbeat_at = ImportStatus.PENDING, sweep.now
            row.save(update_fields=["status", "heartbeat_at"])
            import_enqueue(row)
            again.append(pk)
    if again or failed:
        logger.warning("sweep: imports queued again %s; failed %s", again or "none", failed or "none")
        return f"imports queued again {again or 'none'}, failed {failed or 'none'}"
    return ""


def imports_facts(now: datetime) -> dict:
    stall = timedelta(seconds=_setting("IMPORT_STALL_SECONDS", 180))
    live = PhoneImport.objects.filter(status__in=[ImportStatus.PENDING, ImportStatus.RUNNING])
    counts = {row["status"]: row["n"] for row in live.values("status").annotate(n=Count("id"))}
    failed = PhoneImport.objects.filter(status=ImportStatus.FAILED, finished_at__gte=now - DAY)
    last = failed.order_by("-finished_at").values_list("error", flat=True).first()
    return job_facts(
        pending=counts.get(ImportStatus.PENDING, 0),
        running=counts.get(ImportStatus.RUNNING, 0),
        oldest=live.aggregate(oldest=Min("created_at"))["oldest"],
        failed_24h=failed.count(),
        last_error=last,
        stalled=live.filter(status=ImportStatus.RUNNING, heartbeat_at__lt=now - stall).count(),
        now=now,
    )


# --- text recognition (OCR) -----------------------------------------------------------------------


def _ocr_gave_up(row: RecognizedText, reason: str) -> None:
    """Inside the sweep's transaction: the image is marked unread with the reason (audited like
    every result of recognition)."""
    row.status, row.error, row.finished_at = TextStatus.FAILED, reason[:500], timezone.now()
    row.save(update_fields=["status", "error", "finished_at"])
    audit_append(
        owner=row.evidence.owner,
        action="evidence.text",
        subject=row.evidence,
        payload={
            "source_sha256": row.sha256,
            "engine": "",
            "status": TextStatus.FAILED,
            "text_sha256": hashlib.sha256(b"").hexdigest(),
            "lines": 0,
            "error": row.error,
        },
    )


def ocr_sweep(sweep: Sweep) -> str:
    if not sweep.queued_in_database:
        return ""  # read in the storing process: nothing is queued that could be lost
    stall = timedelta(seconds=_setting("DOSSIER_STALL_SECONDS", 180))
    rows = live_rows(recognize_text)
    waiting = RecognizedText.objects.filter(status=TextStatus.PENDING).annotate(
        since=Coalesce("queued_at", "created_at")
    )
    again, failed = [], []
    for pk, evidence_id in waiting.filter(since__lt=sweep.now - QUEUE_GRACE).values_list("pk", "evidence_id"):
        if still_alive(rows.get(evidence_id, []), alive=sweep.alive, now=sweep.now, stall=stall):
            continue
        with transaction.atomic():
            row = (
                RecognizedText.objects.select_for_update()
                .select_related("evidence__owner")
                .filter(pk=pk, status=TextStatus.PENDING)
                .first()
            )
            if row is None:
                continue
            if row.attempts >= _setting("OCR_MAX_ATTEMPTS", 2):
                _ocr_gave_up(
                    row,
                    f"reading the text stopped without finishing {row.attempts + 1} time(s) "
                    "(its worker was stopped or killed)",
                )
                failed.append(evidence_id)
                continue
            row.attempts, row.queued_at = row.attempts + 1, sweep.now
            row.save(update_fields=["attempts", "queued_at"])
            transaction.on_commit(lambda evidence_id=evidence_id: recognize_text.enqueue(evidence_id))
            again.append(evidence_id)
    if again or failed:
        logger.warning("sweep: images to read queued again %s; failed %s", again or "none", failed or "none")
        return f"images queued again {again or 'none'}, failed {failed or 'none'}"
    return ""


def ocr_facts(now: datetime) -> dict:
    pending = RecognizedText.objects.filter(status=TextStatus.PENDING)
    failed = RecognizedText.objects.filter(status=TextStatus.FAILED, finished_at__gte=now - DAY)
    return job_facts(
        pending=pending.count(),
        oldest=pending.aggregate(oldest=Min(Coalesce("queued_at", "created_at")))["oldest"],
        failed_24h=failed.count(),
        last_error=failed.order_by("-finished_at").values_list("error", flat=True).first(),
        now=now,
    )


def register_jobs() -> None:
    register(JobKind(name="import", queue=IMPORTS, sweep=imports_sweep, facts=imports_facts))
    register(JobKind(name="ocr", queue=OCR, sweep=ocr_sweep, facts=ocr_facts))
