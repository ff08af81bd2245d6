"""Operations settings of background builds, workers and health checks, with their defaults.

Each is read from Django settings when set there (config/settings.py reads them from the environment);
the `worker` command may override a few for its own process from its command-line options.
"""

from __future__ import annotations

from django.conf import settings

DEFAULTS: dict[str, float] = {
    # A running build whose heartbeat has not moved for this long is considered stopped.
    "DOSSIER_STALL_SECONDS": 180,
    # Builds started per dossier before a stopped build is marked failed instead of retried.
    "DOSSIER_MAX_ATTEMPTS": 2,
    # A running build touches its heartbeat at least this often (and whenever its progress moves).
    "DOSSIER_HEARTBEAT_SECONDS": 30,
    # How often the `worker` command looks for stopped builds and lost queue entries.
    "DOSSIER_SWEEP_SECONDS": 30,
    # How often each `worker` process records that it is alive, and the slack allowed on top of two
    # missed beats before it counts as down (15 + 2 x 15 = 45 s by default).
    "WORKER_HEARTBEAT_SECONDS": 15,
    "WORKER_HEARTBEAT_GRACE_SECONDS": 15,
    # How often a `worker` process runs the housekeeping (0: never; then run it from cron).
    "HOUSEKEEPING_SECONDS": 3600,
    # Finished task results older than this many days are deleted by the housekeeping.
    "TASK_RESULTS_KEEP_DAYS": 14,
    # /healthz: how long the storage probe may take, when the oldest waiting job is worth a warning,
    # and the free space below which the data folder's disk is reported low.
    "HEALTH_STORAGE_TIMEOUT_SECONDS": 2,
    "HEALTH_PENDING_WARN_SECONDS": 300,
    "HEALTH_DISK_MIN_FREE_MB": 1024,
}

_overrides: dict[str, float] = {}


def setting(name: str) -> float:
    if name in _overrides:
        return _overrides[name]
    return getattr(settings, name, DEFAULTS[name])


def override(name: str, value: float | None) -> None:
    """For this process only (the `worker` command's options)."""
    if name not in DEFAULTS:
        raise KeyError(name)
    if value is None:
        _overrides.pop(name, None)
    else:
        _overrides[name] = value
