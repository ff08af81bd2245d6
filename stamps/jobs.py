"""Stamping as the worker's sweep and /healthz see it (core.jobs). Registered by StampsConfig.ready().

A try at a batch claims it by moving `next_try_at` past the try's longest possible time; a worker
killed mid-try leaves that claim, which lapses on its own, and the next `stamp_due` (every worker,
every TSA_BATCH_SECONDS) tries the batch again. So the sweep has nothing to repair: it reports.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Min

from core.jobs import JobKind, Sweep, job_facts, register

from .models import Batch, BatchState


def stamping_sweep(sweep: Sweep) -> str:
    return ""  # claims lapse by themselves (see above)


def stamping_facts(now: datetime) -> dict:
    pending = Batch.objects.filter(state=BatchState.PENDING)
    failing = pending.exclude(last_error="").order_by("-id").values_list("last_error", flat=True).first()
    return job_facts(
        pending=pending.count(),
        oldest=pending.aggregate(oldest=Min("sealed_at"))["oldest"],
        last_error=failing,
        now=now,
    )


def register_jobs() -> None:
    # Run by the worker's own thread (stamps.services.stamp_due), not a queued task.
    register(JobKind(name="stamping", queue="", sweep=stamping_sweep, facts=stamping_facts))
