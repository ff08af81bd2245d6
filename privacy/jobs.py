"""Exports and purges as the worker's sweep and /healthz see them (core.jobs). Registered once, by
PrivacyConfig.ready().

- An export whose build stopped (its worker was killed: the sweep fails the queue rows of workers
  that are down before it looks here; or its heartbeat has not moved for EXPORT_STALL_SECONDS) is
  failed with the reason at once, so asking for an export starts a new one instead of returning the
  stuck one. The partial zip a killed build leaves in the temporary folder is removed.
- Blobs due for destruction with no purge queued (the run was killed) get a purge queued again.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Min
from django.db.models.functions import Coalesce

from core.jobs import JobKind, Sweep, job_facts, register
from core.queues import DEFAULT
from core.taskqueue import live_rows, still_alive, task_live_rows

from .conf import setting
from .exporting import partial_zip_ids, partial_zips
from .models import BlobPurge, Export, ExportStatus
from .tasks import build_export, purge_deleted

logger = logging.getLogger(__name__)

# A job queued this recently may not have its queue row yet (written once its transaction commits).
QUEUE_GRACE = timedelta(seconds=60)
DAY = timedelta(days=1)
STOPPED = "the build stopped without finishing (its worker was stopped or killed); order a new export"


def partial_zips_remove() -> int:
    """Remove the spool files, on this machine, of exports that are not being built."""
    ids = partial_zip_ids()
    if not ids:
        return 0
    building = set(
        Export.objects.filter(pk__in=ids, status=ExportStatus.RUNNING).values_list("pk", flat=True)
    )
    removed = 0
    for export_id in sorted(ids - building):
        for path in partial_zips(export_id):
            try:
                os.remove(path)
                removed += 1
            except FileNotFoundError:
                continue  # removed by another sweep meanwhile
            except OSError:
                logger.warning("export %s: partial file %s not removed", export_id, path, exc_info=True)
    return removed


def exports_sweep(sweep: Sweep) -> str:
    stall = timedelta(seconds=float(setting("EXPORT_STALL_SECONDS")))
    rows = live_rows(build_export) if sweep.queued_in_database else {}
    failed, again = [], []
    candidates = Export.objects.filter(status__in=[ExportStatus.PENDING, ExportStatus.RUNNING])
    for pk, status, beat in candidates.values_list("pk", "status", Coalesce("heartbeat_at", "created_at")):
        if status == ExportStatus.RUNNING:
            lost = sweep.queued_in_database and not still_alive(
                rows.get(pk, []), alive=sweep.alive, now=sweep.now, stall=stall
            )
            if not (lost or beat < sweep.now - stall):
                continue
            with transaction.atomic():
                if Export.objects.filter(pk=pk, status=ExportStatus.RUNNING).update(
                    status=ExportStatus.FAILED, error=STOPPED, finished_at=sweep.now
                ):
                    failed.append(pk)
        elif sweep.queued_in_database and not rows.get(pk) and beat < sweep.now - QUEUE_GRACE:
            build_export.enqueue(pk)  # waiting, but its queue row was lost
            again.append(pk)
    removed = partial_zips_remove()
    if failed or again or removed:
        logger.warning(
            "sweep: exports failed %s; queued again %s; %d partial file(s) removed",
            failed or "none",
            again or "none",
            removed,
        )
        return f"exports failed {failed or 'none'}, queued again {again or 'none'}, {removed} partial file(s) removed"
    return ""


def exports_facts(now: datetime) -> dict:
    stall = timedelta(seconds=float(setting("EXPORT_STALL_SECONDS")))
    live = Export.objects.filter(status__in=[ExportStatus.PENDING, ExportStatus.RUNNING])
    counts = {row["status"]: row["n"] for row in live.values("status").annotate(n=Count("id"))}
    failed = Export.objects.filter(status=ExportStatus.FAILED, finished_at__gte=now - DAY)
    return job_facts(
        pending=counts.get(ExportStatus.PENDING, 0),
        running=counts.get(ExportStatus.RUNNING, 0),
        oldest=live.aggregate(oldest=Min("created_at"))["oldest"],
        failed_24h=failed.count(),
        last_error=failed.order_by("-finished_at").values_list("error", flat=True).first(),
        stalled=live.filter(status=ExportStatus.RUNNING, heartbeat_at__lt=now - stall).count(),
        now=now,
    )


def purge_sweep(sweep: Sweep) -> str:
    if not sweep.queued_in_database:
        return ""  # `manage.py purge_deleted` (cron) does the work where nothing is queued
    if not BlobPurge.objects.filter(due_at__lte=sweep.now - QUEUE_GRACE).exists():
        return ""
    stall = timedelta(seconds=float(setting("EXPORT_STALL_SECONDS")))
    if still_alive(task_live_rows(purge_deleted), alive=sweep.alive, now=sweep.now, stall=stall):
        return ""
    purge_deleted.enqueue()
    logger.warning("sweep: blobs due for destruction and no purge queued; purge queued again")
    return "purge queued again"


def purge_facts(now: datetime) -> dict:
    due = BlobPurge.objects.filter(due_at__lte=now)
    failing = due.exclude(last_error="").order_by("-id").values_list("last_error", flat=True).first()
    return job_facts(
        pending=due.count(),
        oldest=due.aggregate(oldest=Min("due_at"))["oldest"],
        last_error=failing,
        now=now,
    )


def register_jobs() -> None:
    register(JobKind(name="export", queue=DEFAULT, sweep=exports_sweep, facts=exports_facts))
    register(JobKind(name="purge", queue=DEFAULT, sweep=purge_sweep, facts=purge_facts))
