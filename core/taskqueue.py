"""The database task queue (django-tasks-db's DBTaskResult rows) as the sweeps see it: the rows of
one job (its task with the job's id as first argument), whether one is still alive, and failing rows
that nothing will finish. Shared by every app that sweeps its own jobs (core.jobs)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Count, Min
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

LIVE = (TaskResultStatus.READY, TaskResultStatus.RUNNING)


def in_database(task) -> bool:
    """Is this task queued in the database (so a worker process runs it and rows can be swept)?"""
    return isinstance(task.get_backend(), DatabaseBackend)


def last_worker(row: DBTaskResult) -> str | None:
    return row.worker_ids[-1] if row.worker_ids else None


def live_rows(task) -> dict[int, list[DBTaskResult]]:
    """Every queued or running row of `task`, by its first argument (the job's id): one query."""
    found: dict[int, list[DBTaskResult]] = defaultdict(list)
    rows = DBTaskResult.objects.filter(task_path=task.module_path, status__in=LIVE).only(
        "id", "status", "args_kwargs", "worker_ids", "started_at"
    )
    for row in rows:
        args = (row.args_kwargs or {}).get("args") or []
        if args and isinstance(args[0], int):
            found[args[0]].append(row)
    return found


def still_alive(rows: Iterable[DBTaskResult], *, alive: set[str], now: datetime, stall: timedelta) -> bool:
    """Will one of these rows still run the job? A queued row will; a running row will while its
    worker's heartbeat is fresh, or (a plain db_worker records none) while it is younger than `stall`."""
    for row in rows:
        if row.status == TaskResultStatus.READY:
            return True
        if last_worker(row) in alive or (row.started_at is not None and row.started_at >= now - stall):
            return True
    return False


def fail_rows(ids: Iterable, reason: str, *, status=TaskResultStatus.RUNNING) -> int:
    """Mark queue rows failed (only those still in `status`), with `reason` as their traceback."""
    ids = list(ids)
    if not ids:
        return 0
    return DBTaskResult.objects.filter(pk__in=ids, status=status).update(
        status=TaskResultStatus.FAILED,
        finished_at=timezone.now(),
        return_value=None,
        exception_class_path="builtins.RuntimeError",
        traceback=reason,
    )


def _age(now: datetime, moment: datetime | None) -> float | None:
    return None if moment is None else round(max((now - moment).total_seconds(), 0.0), 1)


def per_queue_facts(now: datetime | None = None) -> dict[str, dict]:
    """For each queue with work: waiting and running jobs, and the age in seconds of the oldest."""
    now = now or timezone.now()
    facts: dict[str, dict] = {}
    ready = (
        DBTaskResult.objects.ready().values("queue_name").annotate(n=Count("id"), oldest=Min("enqueued_at"))
    )
    running = (
        DBTaskResult.objects.running().values("queue_name").annotate(n=Count("id"), oldest=Min("started_at"))
    )
    empty = {"pending": 0, "oldest_pending_seconds": None, "running": 0, "oldest_running_seconds": None}
    for row in ready:
        facts.setdefault(row["queue_name"], dict(empty)).update(
            pending=row["n"], oldest_pending_seconds=_age(now, row["oldest"])
        )
    for row in running:
        facts.setdefault(row["queue_name"], dict(empty)).update(
            running=row["n"], oldest_running_seconds=_age(now, row["oldest"])
        )
    return facts


def task_live_rows(task) -> list[DBTaskResult]:
    """Every queued or running row of `task`, whatever its arguments."""
    return list(
        DBTaskResult.objects.filter(task_path=task.module_path, status__in=LIVE).only(
            "id", "status", "worker_ids", "started_at"
        )
    )
