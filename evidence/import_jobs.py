"""Large phone-log imports run in the background (api-v1.md, "Large imports run in the background").

An import above IMPORT_SYNC_MAX_ROWS entries or IMPORT_SYNC_MAX_BYTES is not run in its request: it
is queued on the "imports" queue (core.queues) and the caller polls its state. The worker runs it in
batches, each a short transaction of its own (evidence.imports.phone_import_run with `in_batches`),
so one person's 300,000 calls never hold SQLite's write lock for longer than one batch.

A run whose worker is killed leaves the import "running" with a heartbeat that no longer moves; the
sweep (evidence.jobs) queues it again and the next run carries on after its last committed batch,
at most IMPORT_MAX_ATTEMPTS runs, then fails it with the reason.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from accounts.services import profile_for
from core.queues import IMPORTS

from .archives import ArchiveRefused
from .imports import ImportStopped, phone_import_run
from .models import ImportStatus, PhoneImport
from .phone_logs import PhoneLogError, iter_entries
from .services import EvidenceRejected

logger = logging.getLogger(__name__)

# The counts of a finished import, as the 201 of a small one states them.
COUNTS = ("created", "duplicates", "linked", "skipped", "implausible")


def sync_limits() -> tuple[int, int]:
    return (
        int(getattr(settings, "IMPORT_SYNC_MAX_ROWS", 20_000)),
        int(getattr(settings, "IMPORT_SYNC_MAX_BYTES", 8 * 1024 * 1024)),
    )


def import_is_large(*, phone_import: PhoneImport, upload=None) -> bool:
    """Does this import run in the background? Above the byte limit at once; otherwise by its
    entries: the preview's counts when it has them, else counted from the file (stopping one entry
    past the limit, so a huge file costs no more than a small one here)."""
    max_rows, max_bytes = sync_limits()
    if phone_import.size > max_bytes:
        return True
    summary = phone_import.summary or {}
    if "calls" in summary or "messages" in summary:
        return int(summary.get("calls") or 0) + int(summary.get("messages") or 0) > max_rows
    if upload is None:
        return False
    tz = profile_for(phone_import.owner).tz
    try:
        upload.seek(0)
        _fmt, entries = iter_entries(upload, tz, mapping=summary.get("mapping"))
        for count, _entry in enumerate(entries, start=1):
            if count > max_rows:
                return True
    except (PhoneLogError, ArchiveRefused):
        return False  # the run refuses it with the right message, at once
    return False


@transaction.atomic
def phone_import_background(
    *,
    phone_import: PhoneImport,
    numbers: list[str] | None = None,
    kinds: list[str] | None = None,
    date_order: str | None = None,
    mapping: dict | None = None,
    include_before_period: bool = False,
) -> PhoneImport:
    """Queue a prepared import to run in the background; it answers "pending" until a worker
    takes it. Asking again while it waits or runs changes nothing."""
    row = PhoneImport.objects.select_for_update().get(pk=phone_import.pk)
    if row.status in (ImportStatus.PENDING, ImportStatus.RUNNING):
        return row
    row.status, row.progress, row.error = ImportStatus.PENDING, 0, ""
    row.options = {"numbers": numbers, "kinds": kinds, "date_order": date_order, "mapping": mapping}
    if include_before_period:
        row.options["include_before_period"] = True
    row.attempts, row.result, row.heartbeat_at = 0, {}, timezone.now()
    row.started_at = row.finished_at = None
    row.save(
        update_fields=[
            "status",
            "progress",
            "error",
            "options",
            "attempts",
            "result",
            "heartbeat_at",
            "started_at",
            "finished_at",
        ]
    )
    import_enqueue(row)
    return row


def import_enqueue(phone_import: PhoneImport) -> None:
    """Queue the run once the caller's transaction commits (the row says "pending" by then)."""
    import_id = phone_import.pk
    transaction.on_commit(lambda: run_import.enqueue(import_id))


@task(queue_name=IMPORTS)
def run_import(import_id: int) -> str:
    return import_job_run(import_id=import_id).status


def import_job_run(*, import_id: int) -> PhoneImport:
    """Run a queued import (from the worker). A refused file or any error fails the import with
    the reason; what earlier batches committed stays, each batch audited."""
    with transaction.atomic():
        row = (
            PhoneImport.objects.select_for_update().select_related("case__owner").filter(pk=import_id).first()
        )
        if row is None or row.status != ImportStatus.PENDING:
            return row or PhoneImport(status=ImportStatus.FAILED)
        now = timezone.now()
        row.status, row.heartbeat_at, row.attempts = ImportStatus.RUNNING, now, row.attempts + 1
        row.started_at = row.started_at or now
        row.save(update_fields=["status", "heartbeat_at", "attempts", "started_at"])
    options = row.options or {}
    try:
        phone_import_run(
            phone_import=row,
            numbers=options.get("numbers"),
            kinds=options.get("kinds"),
            date_order=options.get("date_order"),
            mapping=options.get("mapping"),
            in_batches=True,
            include_before_period=bool(options.get("include_before_period")),
        )
    except ImportStopped:
        logger.warning("import %s: stopped (no longer running)", import_id)
    except EvidenceRejected as exc:
        import_fail(import_id=import_id, reason=exc.message)
    except Exception as exc:
        logger.exception("import %s failed", import_id)
        import_fail(import_id=import_id, reason=f"{exc.__class__.__name__}: {exc}")
    return PhoneImport.objects.filter(pk=import_id).first() or row


def import_fail(*, import_id: int, reason: str, only_if=(ImportStatus.PENDING, ImportStatus.RUNNING)) -> int:
    """Mark an import failed with the reason (nothing committed before is undone)."""
    with transaction.atomic():
        return PhoneImport.objects.filter(pk=import_id, status__in=only_if).update(
            status=ImportStatus.FAILED, error=str(reason)[:2000], finished_at=timezone.now()
        )


def import_state(phone_import: PhoneImport) -> dict:
    """GET /api/v1/imports/<id>/: its state, progress, error and the counts so far (all of them
    once done). An import run at once in its request is "done" once imported."""
    status = phone_import.status or (ImportStatus.DONE if phone_import.imported_at else ImportStatus.PENDING)
    result = phone_import.result or {}
    return {
        "id": phone_import.pk,
        "status": status,
        "progress": 100 if status == ImportStatus.DONE else phone_import.progress,
        "error": phone_import.error or None,
        **{name: int(result.get(name) or 0) for name in COUNTS},
        "format": phone_import.format,
        "export_sha256": phone_import.sha256,
    }


def import_note(phone_import: PhoneImport) -> str:
    """One line for the import page while it runs."""
    result = phone_import.result or {}
    if phone_import.status == ImportStatus.PENDING:
        return _("Waiting for the background worker.")
    return _("%(created)d new entries so far; %(duplicates)d already here; %(skipped)d not chosen.") % {
        name: int(result.get(name) or 0) for name in ("created", "duplicates", "skipped")
    }
