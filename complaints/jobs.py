"""Dossier builds as one of the registered job kinds (core.jobs), and the sweep over every kind.

`jobs_sweep` is what the worker runs every DOSSIER_SWEEP_SECONDS (and the housekeeping with it):
first the queue rows left running by workers that are down are failed (nothing will finish them),
then each kind, registered by its app, queues again or fails its own jobs that stopped.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Count, Min
from django.utils import timezone

from core.jobs import JobKind, Sweep, job_facts, job_kinds, register
from core.queues import DEFAULT

from .conf import setting
from .heartbeat import worker_states
from .models import Dossier, DossierStatus
from .queue import database_queue, fail_orphans
from .services import dossier_sweep

logger = logging.getLogger(__name__)


def dossiers_sweep(sweep: Sweep) -> str:
    report = dossier_sweep()
    if report.requeued or report.failed or report.orphaned_tasks or report.duplicates:
        return (
            f"dossiers queued again {report.requeued or 'none'}, given up {report.failed or 'none'}, "
            f"{report.orphaned_tasks} orphaned task(s) failed, {report.duplicates} duplicate(s) removed"
        )
    return ""


def dossiers_facts(now: datetime) -> dict:
    live = Dossier.objects.filter(status__in=[DossierStatus.PENDING, DossierStatus.RUNNING])
    counts = {row["status"]: row["n"] for row in live.values("status").annotate(n=Count("id"))}
    failed = Dossier.objects.filter(status=DossierStatus.FAILED, finished_at__gte=now - timedelta(days=1))
    cutoff = now - timedelta(seconds=setting("DOSSIER_STALL_SECONDS"))
    return job_facts(
        pending=counts.get(DossierStatus.PENDING, 0),
        running=counts.get(DossierStatus.RUNNING, 0),
        oldest=live.aggregate(oldest=Min("created_at"))["oldest"],
        failed_24h=failed.count(),
        last_error=failed.order_by("-finished_at").values_list("error", flat=True).first(),
        stalled=live.filter(status=DossierStatus.RUNNING, heartbeat_at__lt=cutoff).count(),
        now=now,
    )


def register_jobs() -> None:
    register(JobKind(name="dossier", queue=DEFAULT, sweep=dossiers_sweep, facts=dossiers_facts))


def jobs_sweep() -> dict[str, str]:
    """One sweep over every job kind; what each did (kinds that did nothing are left out). A kind
    whose sweep fails is reported and the others still run."""
    now = timezone.now()
    states = worker_states(now)
    queued = database_queue()
    done: dict[str, str] = {}
    if queued:
        orphans = fail_orphans(states.dead_ids)
        if orphans:
            done["orphans"] = f"{orphans} task(s) of stopped workers failed"
    sweep = Sweep(now=now, alive=states.alive_ids, queued_in_database=queued)
    for kind in job_kinds():
        try:
            line = kind.sweep(sweep)
        except Exception as exc:
            logger.exception("sweep of %s jobs failed", kind.name)
            line = f"error: {exc.__class__.__name__}: {exc}"
        if line:
            done[kind.name] = line
    return done


def jobs_facts(now: datetime) -> dict[str, dict]:
    """For /healthz: each kind's waiting and running jobs, the oldest one's age, recent failures."""
    return {kind.name: {"queue": kind.queue or None, **kind.facts(now)} for kind in job_kinds()}
