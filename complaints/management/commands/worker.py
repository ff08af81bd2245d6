"""The background worker: django-tasks-db's db_worker loop, plus what keeps a crash from going unseen.

Beside the loop that runs tasks, two threads of the same process:

- a heartbeat: every WORKER_HEARTBEAT_SECONDS the process records it is alive (WorkerHeartbeat: id,
  host, pid, started, last seen), so /healthz and `manage.py status` can say "down" when no worker
  has been seen, and task rows left running by a dead worker are known to be orphans;
- the periodic work: every DOSSIER_SWEEP_SECONDS the sweep for jobs of every kind that stopped
  (complaints.jobs: a killed worker's dossier build, import or text recognition is queued again, a
  killed export is failed with the reason and its partial file removed), and every
  HOUSEKEEPING_SECONDS the housekeeping (complaints.housekeeping), under a lease so that one worker
  at a time does it.

`--queue-name` says which queues (core.queues) this worker serves, comma-separated: every queue by
default ("*"); e.g. one worker with `--queue-name default` for dossiers and exports and another with
`--queue-name imports,ocr`, so a burst of screenshots or a large import never delays a dossier.

Outages of the database or the evidence store never end the process: db_worker's loop (which exits
on any database error other than a lock) is restarted with back-off (1 s, doubling, at most
WORKER_BACKOFF_MAX_SECONDS), and a task it was running when the database went away is marked failed
once the database answers again, so the sweep restarts it; the threads retry too, sooner than their
interval while the outage lasts. Under a supervisor (README: systemd units, Procfile) a process that
dies anyway is started again.

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
import time

from django.conf import settings
from django.core.management.base import CommandError
from django.db import DatabaseError, close_old_connections, connections
from django.utils import timezone
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker

from complaints import conf
from complaints.backfill import upgrade_backfill
from complaints.followup import reminders_send
from complaints.heartbeat import worker_beat, worker_forget
from complaints.housekeeping import housekeeping
from complaints.jobs import jobs_sweep
from complaints.queue import fail_own_leftovers
from evidence.storage import storage_outage
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


# Waits between attempts while the database or the storage is out: 1 s, doubling, at most this.
BACKOFF_FIRST_SECONDS = 1.0


def backoff_max() -> float:
    return float(getattr(settings, "WORKER_BACKOFF_MAX_SECONDS", 60))


def outage(exc: BaseException) -> bool:
    """An error that says the database or the evidence store is out (or restarting), not a bug:
    waited out and tried again, never the end of the worker."""
    return isinstance(exc, DatabaseError | OSError) or storage_outage(exc)


def backoff(failures: int, ceiling: float) -> float:
    return min(ceiling, BACKOFF_FIRST_SECONDS * 2 ** max(failures - 1, 0))


class Repeating(threading.Thread):
    """Call `action` now and then every `every` seconds until stopped; errors are logged, never fatal.
    While the database or the storage is out, the next try comes sooner (back-off up to `every`)."""

    def __init__(self, name: str, every: float, action, *, first_delay: float = 0.0):
        super().__init__(name=name, daemon=True)
        self.every, self.action, self.first_delay = every, action, first_delay
        self.stopping = threading.Event()

    def run(self) -> None:
        failures = 0
        try:
            if self.stopping.wait(self.first_delay):
                return
            while True:
                close_old_connections()
                try:
                    self.action()
                    failures = 0
                except Exception as exc:
                    if outage(exc):
                        failures += 1
                        connections.close_all()  # reconnect on the next try
                        logger.warning(
                            "worker: %s: the database or the storage is unavailable (%s: %s); trying again",
                            self.name,
                            exc.__class__.__name__,
                            exc,
                        )
                    else:
                        failures = 0
                        logger.exception("worker: %s failed", self.name)
                wait = backoff(failures, min(self.every, backoff_max())) if failures else self.every
                if self.stopping.wait(wait):
                    return
        finally:
            connections.close_all()  # this thread's connections only

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        self.join(timeout)


class ResilientWorker(Worker):
    """db_worker's loop, restarted with back-off whenever the database or the storage fails under it
    (db_worker itself exits on any database error but a lock). A task row this worker was running
    when that happened is marked failed once the database answers again (the dossier sweep then
    restarts the build), as is, at the start, one left running by an earlier process with this id."""

    def __init__(self, **options):
        super().__init__(**options)
        self.cleanup = True

    def run(self) -> None:
        failures = 0
        while True:
            started = time.monotonic()
            try:
                if self.cleanup:
                    left = fail_own_leftovers(self.worker_id)
                    if left:
                        logger.warning(
                            "worker %s: %d task(s) it was running when interrupted marked failed",
                            self.worker_id,
                            left,
                        )
                    self.cleanup = False
                return super().run()
            except Exception as exc:
                if not outage(exc) or not self.running:
                    raise
                if time.monotonic() - started > backoff_max():
                    failures = 0  # it ran well for a while: a new outage starts the back-off over
                failures += 1
                delay = backoff(failures, backoff_max())
                logger.warning(
                    "worker %s: the database or the storage is unavailable (%s: %s); trying again in %.0f s",
                    self.worker_id,
                    exc.__class__.__name__,
                    exc,
                    delay,
                )
                self.cleanup = True
                self.running_task = False
                close_old_connections()  # a connection the outage broke is opened again on the next try
                time.sleep(delay)


class Command(DbWorkerCommand):
    help = (
        "Run a background worker (django-tasks-db's db_worker) that also records a heartbeat, retries "
        "dossier builds that stopped, and runs the housekeeping."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        # Every queue unless told otherwise (db_worker alone serves "default" only): one worker runs
        # everything; `--queue-name default` and `--queue-name imports,ocr` split it in two.
        parser.set_defaults(queue_name="*")
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

        # The first heartbeat at once; when the database is out, the heartbeat thread keeps trying.
        threads = [Repeating("heartbeat", interval, beat)]
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
            return self.run_worker(**options)
        finally:
            for thread in threads:
                thread.stop()
            try:
                worker_forget(worker_id)
            except Exception:
                logger.warning("worker %s: heartbeat not removed", worker_id, exc_info=True)
            logger.info("worker %s stopped", worker_id)

    def run_worker(
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        reload: bool,
        max_tasks: int | None,
        worker_id: str,
        exclude_queues: str,
        **options,
    ) -> None:
        """db_worker's own handle(), with the loop that outlives outages (ResilientWorker)."""
        self.configure_logging(verbosity)
        reload = reload and not batch
        queue_names = queue_name.split(",")
        excluded_queue_names = exclude_queues.split(",") if exclude_queues else []
        if excluded_queue_names and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = ResilientWorker(
            queue_names=queue_names,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=excluded_queue_names,
        )
        if reload:  # the autoreloader's child process (the watching process never gets here)
            worker.configure_signals()
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()

    @staticmethod
    def backfill() -> None:
        run = upgrade_backfill()
        if run.stamped or run.to_read:
            logger.info(run.describe())

    @staticmethod
    def sweep() -> None:
        done = jobs_sweep()
        if done:
            logger.warning("sweep: %s", "; ".join(f"{name}: {line}" for name, line in done.items()))
