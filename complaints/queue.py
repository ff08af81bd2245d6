"""The database task queue as the operations code sees it (django-tasks-db's DBTaskResult rows): the
rows of a dossier's builds, orphans of dead workers, and the facts /healthz reports."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Min
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from core.taskqueue import LIVE, fail_rows, in_database, last_worker, live_rows

from .tasks import build_dossier

# Shared with the dossier sweep (complaints.services), which imports them from here.
__all__ = ["LIVE", "fail_rows", "last_worker"]


def database_queue() -> bool:
    """Are builds queued in the database (so a worker process runs them)?"""
    return in_database(build_dossier)


def build_rows(dossier_id: int):
    """The queue rows of this dossier's builds (build_dossier is enqueued with the id as its argument)."""
    return DBTaskResult.objects.filter(task_path=build_dossier.module_path, args_kwargs__args__0=dossier_id)


def live_build_rows() -> dict[int, list[DBTaskResult]]:
    """Every queued or running build row, by dossier id (one query, for the sweep's first look)."""
    return live_rows(build_dossier)


def fail_orphans(dead_worker_ids: set[str]) -> int:
    """Rows left running by workers that are down (killed, crashed, their machine gone) are failed:
    nothing will ever finish them."""
    if not dead_worker_ids:
        return 0
    orphans = [
        row.pk
        for row in DBTaskResult.objects.running().only("id", "worker_ids")
        if last_worker(row) in dead_worker_ids
    ]
    return fail_rows(orphans, "the worker running this task stopped sending heartbeats (killed or crashed)")


def fail_own_leftovers(worker_id: str) -> int:
    """A worker that starts cannot be running anything yet: rows running under its id are left over
    from an earlier process that used the same --worker-id."""
    leftovers = [row.pk for row in DBTaskResult.objects.running() if last_worker(row) == worker_id]
    return fail_rows(leftovers, "the worker running this task was restarted before finishing it")


def queue_facts(now: datetime | None = None) -> dict:
    """Waiting (ready to run) and running jobs: how many, and the age in seconds of the oldest."""
    now = now or timezone.now()
    ready = DBTaskResult.objects.ready().aggregate(count=Count("id"), oldest=Min("enqueued_at"))
    running = DBTaskResult.objects.running().aggregate(count=Count("id"), oldest=Min("started_at"))

    def age(moment):
        return None if moment is None else round(max((now - moment).total_seconds(), 0.0), 1)

    return {
        "pending": ready["count"],
        "oldest_pending_seconds": age(ready["oldest"]),
        "running": running["count"],
        "oldest_running_seconds": age(running["oldest"]),
    }
