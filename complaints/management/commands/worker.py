"""The background worker: django-tasks-db's db_worker loop, plus what keeps a crash from going unseen.

Beside the loop that runs tasks, two threads of the same process:

- a heartbeat: every WORKER_HEARTBEAT_SECONDS the process records it is alive (WorkerHeartbeat: id,
  host, pid, started, last seen), so /healthz and `manage.py status` can say "down" when no worker
  has been seen, and task rows left running by a dead worker are known to be orphans;
- the periodic work: every DOSSIER_SWEEP_SECONDS the sweep for builds that stopped (a killed worker's
  build is queued again, at most DOSSIER_MAX_ATTEMPTS builds in all), and every HOUSEKEEPING_SECONDS
  the housekeeping (complaints.housekeeping), under a lease so that one worker at a time does it.

The periodic work lives in the worker because wherever builds are queued in the database a worker
must run anyway: nothing else (cron, a second service) has to be set up for a crashed build to be
retried. The two threads are separate so a long housekeeping run never delays a heartbeat.

Every option of db_worker applies (`--interval`, `--batch`, `--worker-id`, ...); the options below
override the corresponding settings for this process.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from complaints import conf
from complaints.backfill import upgrade_backfill
from complaints.followup import reminders_send
from complaints.heartbeat import worker_beat, worker_forget
from complaints.housekeeping import housekeeping
from complaints.queue import database_queue, fail_own_leftovers
from complaints.services import dossier_sweep
from stamps.services import stamp_due

logger = logging.getLogger("complaints.worker")

OPTIONS = {
    "heartbeat_seconds": "WORKER_HEARTBEAT_SECONDS",
    "heartbeat_grace_seconds": "WORKER_HEARTBEAT_GRACE_SECONDS",
    "stall_seconds": "DOSSIER_STALL_SECONDS",
    "sweep_seconds": "DOSSIER_SWEEP_SECONDS",
    "housekeeping_seconds": "HOUSEKEEPING_SECONDS",
    "max_attempts": "DOSSIER_MAX_ATTEMPTS",
}


class Repeating(threading.Thread):
    """Call `action` now and then every `every` seconds until stopped; errors are logged, never fatal."""

    def __init__(self, name: str, every: float, action, *, first_delay: float = 0.0):
        super().__init__(name=name, daemon=True)
        self.every, self.action, self.first_delay = every, action, first_delay
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            if self.stopping.wait(self.first_delay):
                return
            while True:
                close_old_connections()
                try:
                    self.action()
                except Exception:
                    logger.exception("worker: %s failed", self.name)
                if self.stopping.wait(self.every):
                    return
        finally:
            connections.close_all()  # this thread's connections only

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        self.join(timeout)


class Command(DbWorkerCommand):
    help = (
        "Run a background worker (django-tasks-db's db_worker) that also records a heartbeat, retries "
        "dossier builds that stopped, and runs the housekeeping."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--heartbeat-seconds", type=float, help="record that this worker is alive this often"
        )
        parser.add_argument(
            "--heartbeat-grace-seconds",
            type=float,
            help="this worker counts as down when not seen for 2 x heartbeat + this",
        )
        parser.add_argument(
            "--stall-seconds", type=float, help="a build whose heartbeat has not moved this long stopped"
        )
        parser.add_argument("--sweep-seconds", type=float, help="look for stopped builds this often")
        parser.add_argument(
            "--housekeeping-seconds", type=float, help="run the housekeeping this often (0: never)"
        )
        parser.add_argument("--max-attempts", type=int, help="builds started per dossier before giving up")

    def handle(self, *args, **options) -> None:
        for option, name in OPTIONS.items():
            conf.override(name, options.pop(option, None))
        if options["reload"] and not options["batch"] and os.environ.get(DJANGO_AUTORELOAD_ENV) != "true":
            # The autoreloader's watching process: the worker proper (this command again, in a
            # child process) keeps the heartbeat.
            return super().handle(*args, **options)
        worker_id = options["worker_id"]
        started_at = timezone.now()
        interval = conf.setting("WORKER_HEARTBEAT_SECONDS")
        down_after = 2 * interval + conf.setting("WORKER_HEARTBEAT_GRACE_SECONDS")
        identity = {"worker_id": worker_id, "host": socket.gethostname(), "pid": os.getpid()}

        def beat():
            worker_beat(**identity, started_at=started_at, down_after_seconds=down_after)

        beat()
        if database_queue():
            left = fail_own_leftovers(worker_id)
            if left:
                logger.warning(
                    "worker %s: %d task(s) left running by its previous process failed", worker_id, left
                )
        threads = [Repeating("heartbeat", interval, beat, first_delay=interval)]
        threads.append(Repeating("sweep", conf.setting("DOSSIER_SWEEP_SECONDS"), self.sweep))
        # Trusted timestamps: seal the hashes that arrived and stamp due batches (stamps/services.py;
        # safe in several workers at once).
        threads.append(Repeating("stamps", settings.TSA_BATCH_SECONDS, stamp_due))
        # Reply-deadline reminders: each sent once, however many workers run this (followup.py).
        threads.append(
            Repeating("reminders", getattr(settings, "FOLLOWUP_REMINDER_SECONDS", 600), reminders_send)
        )
        # After an upgrade: files and images earlier releases never stamped or read (backfill.py).
        threads.append(
            Repeating("backfill", getattr(settings, "BACKFILL_SECONDS", 300), self.backfill, first_delay=5)
        )
        every = conf.setting("HOUSEKEEPING_SECONDS")
        if every:
            # A little after starting, so restarting several workers at once does not crowd the database.
            threads.append(Repeating("housekeeping", every, housekeeping, first_delay=min(every, 60)))
        for thread in threads:
            thread.start()
        logger.info("worker %s started on %s (pid %d)", worker_id, identity["host"], identity["pid"])
        try:
            return super().handle(*args, **options)
        finally:
            for thread in threads:
                thread.stop()
            try:
                worker_forget(worker_id)
            except Exception:
                logger.warning("worker %s: heartbeat not removed", worker_id, exc_info=True)
            logger.info("worker %s stopped", worker_id)

    @staticmethod
    def backfill() -> None:
        run = upgrade_backfill()
        if run.stamped or run.to_read:
            logger.info(run.describe())

    @staticmethod
    def sweep() -> None:
        report = dossier_sweep()
        if report.requeued or report.failed or report.orphaned_tasks or report.duplicates:
            logger.warning(
                "sweep: queued again %s; given up %s; %d orphaned task(s) failed; %d duplicate(s) removed",
                report.requeued or "none",
                report.failed or "none",
                report.orphaned_tasks,
                report.duplicates,
            )
