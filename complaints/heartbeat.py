"""Heartbeats: a running build's (Dossier.heartbeat_at) and each worker process's (WorkerHeartbeat).

Times are the writing host's clock; web, workers and cron are expected to keep their clocks in step
(NTP), as they already do for every other timestamp.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connections, transaction
from django.utils import timezone

from .models import Dossier, DossierStatus, WorkerHeartbeat

logger = logging.getLogger(__name__)


# --- a running build ------------------------------------------------------------------------------


class BuildHeartbeat:
    """While a build works, touch its heartbeat every `interval` seconds from a thread of its own.

    Only the current build is touched (a superseded build beats nothing). Inside a transaction
    (the immediate backend building inline) nobody else can see the row yet, so no thread is started.
    """

    def __init__(self, *, dossier_id: int, build_seq: int, interval: float):
        self.dossier_id, self.build_seq, self.interval = dossier_id, build_seq, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BuildHeartbeat:
        if self.interval > 0 and not transaction.get_connection().in_atomic_block:
            self._thread = threading.Thread(
                target=self._run, name=f"dossier-{self.dossier_id}-heartbeat", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    Dossier.objects.filter(
                        pk=self.dossier_id, build_seq=self.build_seq, status=DossierStatus.RUNNING
                    ).update(heartbeat_at=timezone.now())
                except Exception:  # a database hiccup must not end the build
                    logger.warning("dossier %s: heartbeat not recorded", self.dossier_id, exc_info=True)
        finally:
            connections.close_all()  # this thread's connections only


# --- worker processes -----------------------------------------------------------------------------


def worker_beat(
    *, worker_id: str, host: str, pid: int, started_at: datetime, down_after_seconds: float
) -> None:
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "host": host,
            "pid": pid,
            "started_at": started_at,
            "seen_at": timezone.now(),
            "down_after_seconds": down_after_seconds,
        },
    )


def worker_forget(worker_id: str) -> None:
    WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()


@dataclass
class WorkerStates:
    alive: list[WorkerHeartbeat] = field(default_factory=list)
    dead: list[WorkerHeartbeat] = field(default_factory=list)

    @property
    def alive_ids(self) -> set[str]:
        return {worker.worker_id for worker in self.alive}

    @property
    def dead_ids(self) -> set[str]:
        return {worker.worker_id for worker in self.dead}

    @property
    def last_seen(self) -> datetime | None:
        return max((worker.seen_at for worker in self.alive + self.dead), default=None)


def worker_states(now: datetime | None = None) -> WorkerStates:
    """Every worker that recorded a heartbeat, alive or down (not seen within its down_after)."""
    now = now or timezone.now()
    states = WorkerStates()
    for worker in WorkerHeartbeat.objects.order_by("started_at", "worker_id"):
        if worker.seen_at >= now - timedelta(seconds=worker.down_after_seconds):
            states.alive.append(worker)
        else:
            states.dead.append(worker)
    return states
