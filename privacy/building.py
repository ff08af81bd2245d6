"""The background side of export and deletion: building an export zip, destroying blobs, expiring
old exports. Run by the tasks in privacy.tasks and by `manage.py purge_deleted`."""

from __future__ import annotations

import logging
import secrets
import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from evidence.hashing import sha256_of

from .conf import setting
from .exporting import temporary_zip, write_export
from .models import BlobPurge, Export, ExportStatus, Tombstone, TombstoneKind
from .storage import export_save, purge_due, purge_schedule, remove_empty_folders, retention_end

logger = logging.getLogger(__name__)


def export_build(*, export_id: int) -> Export:
    """Build one export: the zip is written to a temporary file on local disk, then stored through
    the storage API. A failure marks the export failed with the reason; nothing half-made is kept."""
    with transaction.atomic():
        export = Export.objects.select_for_update().filter(pk=export_id).first()
        if export is None or export.status != ExportStatus.PENDING:
            return export or Export(status=ExportStatus.FAILED)
        now = timezone.now()
        export.status, export.started_at, export.heartbeat_at = ExportStatus.RUNNING, now, now
        export.save(update_fields=["status", "started_at", "heartbeat_at"])
    last = {"percent": -1, "at": 0.0}

    def progress(percent: int, note: str) -> None:
        moment = time.monotonic()
        if percent == last["percent"] and moment - last["at"] < 5:
            return
        last.update(percent=percent, at=moment)
        Export.objects.filter(pk=export_id).update(
            progress=min(percent, 99), progress_note=note[:200], heartbeat_at=timezone.now()
        )

    name = ""
    try:
        with temporary_zip(export.pk) as spool:
            summary = write_export(owner=export.owner, target=spool, progress=progress)
            spool.flush()
            digest, size = sha256_of(spool)
            name = export_save(f"exports/{export.owner_id}/{export.pk}-{secrets.token_hex(8)}.zip", spool)
    except Exception as exc:
        logger.exception("export %s failed", export_id)
        Export.objects.filter(pk=export_id).update(
            status=ExportStatus.FAILED,
            error=f"{exc.__class__.__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        if name:
            _discard(name)
        return Export.objects.filter(pk=export_id).first() or export
    with transaction.atomic():
        updated = Export.objects.filter(pk=export_id, status=ExportStatus.RUNNING).update(
            status=ExportStatus.READY,
            storage_name=name,
            size=size,
            sha256=digest,
            summary=summary,
            progress=100,
            progress_note="ready",
            finished_at=timezone.now(),
        )
        if not updated:  # the account or the export was deleted while it was being built
            _discard(name)
    logger.info("export %s ready (%d bytes)", export_id, size)
    return Export.objects.filter(pk=export_id).first() or export


def _discard(name: str) -> None:
    with transaction.atomic():
        purge_schedule(names=[name])
    transaction.on_commit(lambda: purge_due(names=[name]))


def exports_expire(*, now=None) -> int:
    """Exports older than EXPORT_KEEP_DAYS go (row and zip); an export whose build stopped moving
    for EXPORT_STALL_SECONDS is marked failed (its worker died; the user can start another)."""
    now = now or timezone.now()
    Export.objects.filter(
        status__in=[ExportStatus.RUNNING],
        heartbeat_at__lt=now - timedelta(seconds=float(setting("EXPORT_STALL_SECONDS"))),
    ).update(status=ExportStatus.FAILED, error="the build stopped (its worker was stopped or died)")
    old = Export.objects.filter(created_at__lt=now - timedelta(days=float(setting("EXPORT_KEEP_DAYS"))))
    count = 0
    with transaction.atomic():
        for export in old.select_for_update():
            if export.storage_name:
                purge_schedule(names=[export.storage_name])
            export.delete()
            count += 1
    return count


def purge_after_deletion(*, tombstone_id: int | None = None) -> dict:
    """Destroy every blob that is due (a deletion's blobs are due at once) and record on the
    deletion's tombstone until when retained versions wait."""
    counts = purge_due()
    tombstone = Tombstone.objects.filter(pk=tombstone_id).first() if tombstone_id else None
    if tombstone is not None:
        tombstone.purge_until = retention_end(tombstone)
        tombstone.save(update_fields=["purge_until"])
        if tombstone.kind == TombstoneKind.ACCOUNT:
            remove_empty_folders(tombstone.owner_id_was)
    return counts


def next_purge_due():
    """When the next scheduled blob is due (None: nothing waits)."""
    return BlobPurge.objects.order_by("due_at").values_list("due_at", flat=True).first()


def housekeeping_step() -> str:
    expired = exports_expire()
    counts = purge_due()
    return (
        f"{expired} old export(s) removed; {counts['destroyed']} blob(s) destroyed, "
        f"{counts['waiting']} waiting for their retention to end, {counts['errors']} error(s)"
    )
