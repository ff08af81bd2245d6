"""Housekeeping in one place: expired resumable uploads, old task results, expired sessions, workers
long gone, and the sweep for jobs of every kind that stopped (complaints.jobs). Run by every `manage.py worker` every
HOUSEKEEPING_SECONDS and by `manage.py housekeeping` (cron); a lease makes sure one run at a time
does the work, wherever it was started."""

from __future__ import annotations

import io
import logging
import os
import socket
import threading
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta

from django.core.management import call_command, get_commands
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.idempotency import idempotency_prune

from .conf import setting
from .jobs import jobs_sweep
from .models import Lease, WorkerHeartbeat
from .queue import database_queue

logger = logging.getLogger(__name__)

LEASE_NAME = "housekeeping"
# Longer than a run takes, so a run that dies holding the lease does not block the next for long.
LEASE_SECONDS = 15 * 60
# Heartbeats of workers gone for this long are deleted (their orphans were failed long before).
FORGET_WORKERS_AFTER = timedelta(days=7)


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def lease_take(name: str, seconds: float, holder: str | None = None) -> str | None:
    """Take the named lease if nobody holds it (or the holder's time ran out); the holder's name, or
    None. One UPDATE decides, so two takers at the same moment cannot both win."""
    holder = holder or _holder()
    now = timezone.now()
    try:
        with transaction.atomic():
            Lease.objects.get_or_create(name=name, defaults={"expires_at": now - timedelta(seconds=1)})
    except IntegrityError:
        pass  # created by another taker at the same moment
    taken = Lease.objects.filter(name=name, expires_at__lte=now).update(
        holder=holder, expires_at=now + timedelta(seconds=seconds)
    )
    return holder if taken else None


def lease_release(name: str, holder: str) -> None:
    Lease.objects.filter(name=name, holder=holder).update(expires_at=timezone.now())


@contextmanager
def lease(name: str, seconds: float):
    holder = lease_take(name, seconds)
    try:
        yield holder
    finally:
        if holder:
            lease_release(name, holder)


def _cleanup_uploads() -> str:
    if "cleanup_uploads" not in get_commands():
        return "skipped (no cleanup_uploads command)"
    out = io.StringIO()
    call_command("cleanup_uploads", stdout=out)
    return out.getvalue().strip() or "done"


def _prune_task_results() -> str:
    if not database_queue():
        return "skipped (tasks are not queued in the database)"
    out = io.StringIO()
    call_command(
        "prune_db_task_results",
        queue_name="*",
        min_age_days=int(setting("TASK_RESULTS_KEEP_DAYS")),
        stdout=out,
        verbosity=0,
    )
    return "done"


def _clear_sessions() -> str:
    call_command("clearsessions")
    return "done"


def _forget_workers() -> str:
    deleted, _by_model = WorkerHeartbeat.objects.filter(
        seen_at__lt=timezone.now() - FORGET_WORKERS_AFTER
    ).delete()
    return f"{deleted} gone worker(s) forgotten"


def _prune_idempotency_keys() -> str:
    return f"{idempotency_prune()} expired idempotency key(s) removed"


def _sweep() -> str:
    done = jobs_sweep()
    return "; ".join(f"{name}: {line}" for name, line in done.items()) or "nothing stopped"


STEPS: list[tuple[str, Callable[[], str]]] = [
    ("sweep", _sweep),
    ("cleanup_uploads", _cleanup_uploads),
    ("prune_db_task_results", _prune_task_results),
    ("clearsessions", _clear_sessions),
    ("forget_workers", _forget_workers),
    ("idempotency_keys", _prune_idempotency_keys),
]


def housekeeping() -> dict[str, str] | None:
    """Run every step once; None when another run holds the lease. A step that fails is reported
    ("error: …") and the others still run."""
    with lease(LEASE_NAME, LEASE_SECONDS) as holder:
        if not holder:
            logger.info("housekeeping is already running elsewhere; skipped")
            return None
        results = {}
        for name, step in STEPS:
            try:
                results[name] = step()
            except Exception as exc:
                logger.exception("housekeeping step %s failed", name)
                results[name] = f"error: {exc.__class__.__name__}: {exc}"
        logger.info("housekeeping done: %s", results)
        return results
