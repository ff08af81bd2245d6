"""The facts behind /healthz (config/health.py) and `manage.py status`: database, storage (probed
with a short timeout), workers alive, the queue, builds that stopped, the signing key, free disk.

"error" (503 on /healthz) only when this node cannot serve: the database, the storage or a shared
cache (Redis) fails or does not answer in time (complaints/health_probes.py). A
worker that is down, a queue that does not move, a build that stopped, a low disk or a lost signing
key make it "degraded": still 200, so a load balancer keeps the web node (it can serve; restarting it
would not bring a worker back), while `manage.py status` exits non-zero for monitoring.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from core.taskqueue import per_queue_facts
from stamps.selectors import stamp_facts

from . import health_probes
from .conf import setting
from .health_probes import Probe, run_probes
from .heartbeat import worker_states
from .jobs import jobs_facts
from .models import Dossier, DossierStatus
from .queue import database_queue, queue_facts
from .signing import signing_dir

# The signing identity's files (complaints/signing.py creates them on first use; never here).
SIGNING_FILES = ("dossier-signing-key.pem", "dossier-signing-cert.pem")


def database_check() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception as exc:  # any failure is reported, not raised
        return f"error: {exc.__class__.__name__}"


# The probes of the parts behind this node, each in its own thread, all bounded by one deadline
# (complaints/health_probes.py): /healthz answers within HEALTH_STORAGE_TIMEOUT_SECONDS whatever hangs.
PROBES = [
    Probe("database", lambda: database_check()),
    Probe("storage", health_probes.storage_check),
    Probe("cache", health_probes.cache_check),
]


def probe_all(timeout: float | None = None) -> dict[str, str]:
    """{"database", "storage", "cache"}: "ok" (or "local" for a cache in this process), or
    "error: <why>", "error: timeout" when a part has not answered within `timeout` seconds."""
    timeout = setting("HEALTH_STORAGE_TIMEOUT_SECONDS") if timeout is None else timeout
    return run_probes(PROBES, timeout)


def storage_check(timeout: float | None = None) -> str:
    """Can the evidence store answer within `timeout` seconds? (the storage probe alone)"""
    timeout = setting("HEALTH_STORAGE_TIMEOUT_SECONDS") if timeout is None else timeout
    return run_probes([PROBES[1]], timeout)["storage"]


def storage_backend() -> str:
    return type(
        default_storage._wrapped if hasattr(default_storage, "_wrapped") else default_storage
    ).__name__


def signing_key_state() -> str:
    folder = signing_dir()
    return "present" if all((folder / name).is_file() for name in SIGNING_FILES) else "missing"


def _age(now: datetime, moment: datetime | None) -> float | None:
    return None if moment is None else round(max((now - moment).total_seconds(), 0.0), 1)


def stalled_builds(now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(seconds=setting("DOSSIER_STALL_SECONDS"))
    return Dossier.objects.filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff),
        status=DossierStatus.RUNNING,
    ).count()


def health_report(*, details: bool = False) -> dict:
    """Every fact, plus "status" (ok, degraded or error) and "problems" (plain sentences).
    `details` adds each live worker's host and pid (for the status command, not the public check)."""

    now = timezone.now()
    probed = probe_all()
    report: dict = {"status": "ok", "database": probed["database"], "storage": probed["storage"]}
    report["cache"] = probed["cache"]
    report["storage_backend"] = storage_backend()
    problems: list[str] = []
    if report["database"] == "ok":
        try:
            if database_queue():
                states = worker_states(now)
                report["worker"] = "ok" if states.alive else "down"
                report["workers_alive"] = len(states.alive)
                report["worker_last_seen_seconds"] = _age(now, states.last_seen)
                report["queue"] = queue_facts(now)
                # Each queue (core.queues) with its waiting and running jobs and the oldest one's age.
                report["queues"] = per_queue_facts(now)
                if details:
                    report["workers"] = [
                        {
                            "id": worker.worker_id,
                            "host": worker.host,
                            "pid": worker.pid,
                            "started_at": worker.started_at.isoformat(),
                            "seen_seconds_ago": _age(now, worker.seen_at),
                        }
                        for worker in states.alive
                    ]
                if not states.alive:
                    last = report["worker_last_seen_seconds"]
                    problems.append(
                        "no worker is running (none has recorded a heartbeat)"
                        if last is None
                        else f"no worker is running (last seen {last:.0f} s ago)"
                    )
                oldest = report["queue"]["oldest_pending_seconds"]
                if oldest is not None and oldest > setting("HEALTH_PENDING_WARN_SECONDS"):
                    problems.append(f"the oldest waiting job has waited {oldest:.0f} s")
            else:
                report["worker"] = "not used"  # builds run inside the web process
                report["queue"] = None
            report["ocr"] = health_probes.ocr_facts(now)
            oldest_image = report["ocr"]["oldest_pending_seconds"]
            if oldest_image is not None and oldest_image > setting("HEALTH_PENDING_WARN_SECONDS"):
                problems.append(
                    f"the oldest image waiting for text recognition has waited {oldest_image:.0f} s"
                )
            # Every job kind (dossier, export, import, OCR, stamping, purge), registered by its app.
            report["jobs"] = jobs_facts(now)
            for name, facts in report["jobs"].items():
                if facts["stalled"] and name != "dossier":  # dossiers: "dossiers_stalled" below
                    problems.append(f"{facts['stalled']} {name} job(s) stopped without finishing")
            report["dossiers_stalled"] = stalled_builds(now)
            if report["dossiers_stalled"]:
                problems.append(f"{report['dossiers_stalled']} dossier build(s) stopped without finishing")
            report["signing_key"] = signing_key_state()
            report["timestamps"] = stamp_facts(now)
            if report["timestamps"]["last_error"]:
                problems.append(
                    f"{report['timestamps']['pending_batches']} trusted-timestamp batch(es) wait for a TSA "
                    f"(oldest {report['timestamps']['oldest_pending_seconds']:.0f} s): "
                    f"{report['timestamps']['last_error']}"
                )
            if (
                report["signing_key"] == "missing"
                and Dossier.objects.filter(status=DossierStatus.READY).exists()
            ):
                problems.append("the signing key is missing, and dossiers were issued with it")
        except Exception as exc:
            report["worker"] = f"error: {exc.__class__.__name__}"
            problems.append("the worker and queue facts could not be read")
    else:
        problems.append(f"database: {report['database']}")
    report.setdefault("signing_key", signing_key_state())
    try:
        free = shutil.disk_usage(settings.DATA_DIR).free
        report["disk_free_bytes"] = free
        report["disk"] = "low" if free < setting("HEALTH_DISK_MIN_FREE_MB") * 1024 * 1024 else "ok"
        if report["disk"] == "low":
            problems.append(f"only {free // (1024 * 1024)} MB free in the data folder")
    except OSError as exc:
        report["disk_free_bytes"], report["disk"] = None, f"error: {exc.__class__.__name__}"
        problems.append("the data folder's free space cannot be read")
    if report["storage"] != "ok":
        problems.append(f"storage: {report['storage']}")
    # A shared cache (Redis) that fails takes logins down with it (their throttle counters live there).
    cache_failed = report["cache"] not in ("ok", "local")
    if cache_failed:
        problems.append(f"cache: {report['cache']}")
    if report["database"] != "ok" or report["storage"] != "ok" or cache_failed:
        report["status"] = "error"
    elif problems:
        report["status"] = "degraded"
    report["problems"] = problems
    return report
