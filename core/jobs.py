"""Background job kinds, registered by the apps that own them (as apps register admin classes), so
the worker's sweep and /healthz cover every kind without importing the apps above them.

A kind says which queue its tasks run on, how to sweep it (find jobs whose heartbeat stopped, e.g.
under a worker that was killed, and queue them again or fail them with a reason) and which facts
/healthz shows about it. The sweep gets the workers known alive, so a job left running by a dead
worker is found within one sweep interval rather than after its stall time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Sweep:
    """What one sweep knows: now, the workers alive (ids), and whether tasks are queued in the
    database (only then can a lost queue row be told from a job run in the web process)."""

    now: datetime
    alive: set[str]
    queued_in_database: bool


@dataclass(frozen=True)
class JobKind:
    name: str
    queue: str
    # Returns a short line for the log ("" when it did nothing).
    sweep: Callable[[Sweep], str]
    # {"pending": int, "running": int, "oldest_seconds": float | None, "failed_24h": int,
    #  "last_error": str | None, "stalled": int}; "stalled" > 0 is a problem in /healthz.
    facts: Callable[[datetime], dict]


_KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> None:
    _KINDS[kind.name] = kind


def job_kinds() -> list[JobKind]:
    return list(_KINDS.values())


def job_facts(
    *, pending=0, running=0, oldest=None, failed_24h=0, last_error=None, stalled=0, now=None
) -> dict:
    """The shape every kind reports (ages in seconds)."""
    return {
        "pending": pending,
        "running": running,
        "oldest_seconds": None if oldest is None else round(max((now - oldest).total_seconds(), 0.0), 1),
        "failed_24h": failed_24h,
        "last_error": last_error or None,
        "stalled": stalled,
    }
