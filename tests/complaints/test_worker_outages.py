"""The worker survives outages of the database and the storage (issue 25 item 3, acceptance 6): its
task loop (django-tasks-db's db_worker, which exits on any database error but a lock) is restarted
with back-off, its periodic threads keep trying, and after the database comes back the same process
finishes queued work. The last test cuts a real worker's connections on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import psycopg
import pytest
from django.db import OperationalError, connection

from complaints.management.commands import worker as worker_command
from core.queues import QUEUES
from tests.complaints.test_worker import BASE_DIR, kill_worker, worker_env
from tests.conftest import wait_for

DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": QUEUES}}


def resilient_worker(**overrides) -> worker_command.ResilientWorker:
    options = {
        "queue_names": ["*"],
        "interval": 0,
        "batch": True,
        "backend_name": "default",
        "startup_delay": False,
        "max_tasks": None,
        "worker_id": "outage-test",
        "excluded_queue_names": [],
    }
    return worker_command.ResilientWorker(**{**options, **overrides})


# The loop closes and reopens connections as a worker process does: no test transaction around it.
in_autocommit = pytest.mark.django_db(transaction=True)


@in_autocommit
def test_the_task_loop_waits_out_a_database_outage_with_back_off(settings, monkeypatch):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = DB_BACKEND
    manager = type(DBTaskResult.objects)
    real_ready = manager.ready
    calls = {"n": 0}

    def ready(self):
        calls["n"] += 1
        if calls["n"] <= 3:
            raise OperationalError("server closed the connection unexpectedly")
        return real_ready(self)

    waits: list[float] = []
    monkeypatch.setattr(manager, "ready", ready)
    monkeypatch.setattr(worker_command.time, "sleep", waits.append)

    resilient_worker().run()  # returns (batch mode: nothing left to run) instead of raising

    assert calls["n"] == 4
    assert waits == [1.0, 2.0, 4.0]  # back-off: 1 s, doubling


@in_autocommit
def test_the_task_loop_still_stops_on_a_bug(settings, monkeypatch):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = DB_BACKEND

    def ready(self):
        raise ZeroDivisionError

    monkeypatch.setattr(type(DBTaskResult.objects), "ready", ready)
    with pytest.raises(ZeroDivisionError):
        resilient_worker().run()


@in_autocommit
def test_a_task_the_outage_interrupted_is_failed_once_the_database_answers(
    settings, monkeypatch, alice_incident
):
    from django_tasks_db.models import DBTaskResult

    from complaints.services import dossier_create

    settings.TASKS = DB_BACKEND
    dossier_create(owner=alice_incident.case.owner, case=alice_incident.case, addressee="nfra")
    row = DBTaskResult.objects.get()
    row.claim("outage-test")  # running under this worker when the database went away
    manager = type(DBTaskResult.objects)
    real_ready = manager.ready
    calls = {"n": 0}

    def ready(self):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("the database system is shutting down")
        return real_ready(self)

    monkeypatch.setattr(manager, "ready", ready)
    monkeypatch.setattr(worker_command.time, "sleep", lambda seconds: None)
    worker = resilient_worker()
    worker.cleanup = False  # its start-up pass is over
    worker.run()

    row.refresh_from_db()
    assert row.status == "FAILED" and "restarted" in row.traceback  # the sweep restarts the build


def test_a_periodic_thread_keeps_trying_through_an_outage(db):
    attempts = []
    done = threading.Event()

    def action():
        attempts.append(time.monotonic())
        if len(attempts) <= 2:
            raise OperationalError("could not connect to server")
        done.set()

    thread = worker_command.Repeating("test", 0.05, action)
    thread.start()
    try:
        assert done.wait(30)
        assert thread.is_alive()
    finally:
        thread.stop()
    assert len(attempts) >= 3


@pytest.mark.django_db(transaction=True)
def test_a_worker_outlives_a_database_outage_and_finishes_queued_work(
    settings, evidence_storage, tmp_path, filled_case
):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs a database server whose connections can be cut: run with DATABASE_URL=postgres://… "
            "(make test-production); the SQLite run checks the same loop in-process above"
        )
    from complaints.models import Dossier, WorkerHeartbeat
    from complaints.services import dossier_create

    settings.TASKS = DB_BACKEND
    env = worker_env(settings, evidence_storage, tmp_path)
    env["WORKER_BACKOFF_MAX_SECONDS"] = "2"
    # The worker's connections carry a name of their own: only they are cut below, never those of
    # this test process's other threads (a live server's), which later tests go on using.
    env["PGAPPNAME"] = "outage-test-worker"
    worker = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "worker",
            "--no-startup-delay",
            "--no-reload",
            "--interval",
            "0.2",
            "--heartbeat-seconds",
            "1",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    name = connection.settings_dict["NAME"]
    try:
        wait_for(lambda: WorkerHeartbeat.objects.exists(), limit_seconds=120)
        # The database "restarts": no new connections for a few seconds, every open one cut (from
        # the server's maintenance database: a database cannot refuse connections to itself).
        server = connection.settings_dict
        with psycopg.connect(
            host=server["HOST"] or "localhost",
            port=server["PORT"] or 5432,
            user=server["USER"],
            password=server["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
        ) as admin:
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            try:
                cut = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = %s AND application_name = 'outage-test-worker'",
                    [name],
                ).fetchone()[0]
                assert cut >= 1  # the worker's connections
                time.sleep(3)  # down for a while: the worker's reconnects are refused meanwhile
                assert worker.poll() is None
            finally:
                admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        connection.close()  # a fresh connection for what follows, now that new ones are allowed

        dossier = dossier_create(owner=filled_case.owner, case=filled_case, addressee="nfra")
        finished = wait_for(
            lambda: Dossier.objects.filter(pk=dossier.pk, status__in=["ready", "failed"]).first(),
            limit_seconds=240,
        )
        assert finished.status == "ready", finished.error
        assert worker.poll() is None  # the same process, still running
    finally:
        kill_worker(worker)
