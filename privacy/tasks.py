"""Background tasks (django-tasks API): building an export, destroying the blobs of a deletion,
removing old exports.

Work that must wait (a version under Object Lock retention, an export's last day) is queued again
for that moment on a backend that can defer (the database backend); `manage.py purge_deleted`, run
daily from cron, does the same work where none can (and is safe to run besides)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django_tasks import task

from .building import export_build, exports_expire, next_purge_due, purge_after_deletion
from .conf import setting
from .models import ExportStatus

SLACK = timedelta(minutes=1)


def _later(queued, when: datetime, *args) -> None:
    if queued.get_backend().supports_defer:
        queued.using(run_after=when + SLACK).enqueue(*args)


@task()
def build_export(export_id: int) -> str:
    export = export_build(export_id=export_id)
    if export.status == ExportStatus.READY and export.finished_at:
        _later(expire_exports, export.finished_at + timedelta(days=float(setting("EXPORT_KEEP_DAYS"))))
    return export.status


@task()
def purge_deleted(tombstone_id: int | None = None) -> dict:
    counts = purge_after_deletion(tombstone_id=tombstone_id)
    due = next_purge_due()
    if due is not None:
        _later(purge_deleted, due)
    return counts


@task()
def expire_exports() -> int:
    return exports_expire()
