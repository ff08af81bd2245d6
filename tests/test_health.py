"""/healthz and `manage.py status` (issue 18 item 3): database and storage (503 when either fails, the
storage probe bounded by a short timeout), worker liveness ("down", still 200: a load balancer must
not pull a web node because the worker is down), the queue, stopped builds, the signing key, disk."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import resolve
from django.utils import timezone

from core.queues import QUEUES

DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": QUEUES}}


@pytest.fixture(autouse=True)
def roomy_disk(settings):
    settings.HEALTH_DISK_MIN_FREE_MB = 0  # whatever the test machine's disk holds


def status_of(capture=None) -> int:
    try:
        call_command("status", stdout=capture or io.StringIO())
    except SystemExit as exit:
        return exit.code
    return 0


def test_healthz_lives_in_the_project_package():
    assert resolve("/healthz").func.__module__ == "config.health"


def test_healthz_reports_every_fact(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    facts = response.json()
    assert facts["status"] == "ok", facts["problems"]
    assert facts["database"] == "ok" and facts["storage"] == "ok"
    assert facts["worker"] == "not used"  # the tests build in-process (immediate backend)
    assert facts["signing_key"] in ("present", "missing")
    assert isinstance(facts["disk_free_bytes"], int) and facts["disk"] == "ok"
    assert facts["dossiers_stalled"] == 0 and facts["problems"] == []


def test_no_worker_alive_is_degraded_but_still_200_and_status_exits_non_zero(
    client, settings, alice, alice_incident
):
    from complaints.models import WorkerHeartbeat
    from complaints.services import dossier_create

    settings.TASKS = DB_BACKEND
    dossier_create(owner=alice, case=alice_incident.case, addressee="nfra")  # waits for a worker

    response = client.get("/healthz")
    facts = response.json()
    assert response.status_code == 200
    assert facts["status"] == "degraded" and facts["worker"] == "down" and facts["workers_alive"] == 0
    assert facts["queue"]["pending"] == 1 and facts["queue"]["oldest_pending_seconds"] >= 0
    assert facts["queue"]["running"] == 0 and facts["queue"]["oldest_running_seconds"] is None
    assert any("no worker" in problem for problem in facts["problems"])
    out = io.StringIO()
    assert status_of(out) == 1 and "worker: down" in out.getvalue()

    now = timezone.now()
    worker = WorkerHeartbeat.objects.create(
        worker_id="w1", host="node-1", pid=7, started_at=now, seen_at=now, down_after_seconds=45
    )
    facts = client.get("/healthz").json()
    assert facts["status"] == "ok" and facts["worker"] == "ok" and facts["workers_alive"] == 1
    assert "node-1" not in str(facts)  # hosts and pids only in the operator's status command
    out = io.StringIO()
    assert status_of(out) == 0 and "w1 on node-1 pid 7" in out.getvalue()

    WorkerHeartbeat.objects.filter(pk=worker.pk).update(seen_at=now - timedelta(seconds=46))
    facts = client.get("/healthz").json()
    assert facts["worker"] == "down" and facts["worker_last_seen_seconds"] >= 46


def test_a_queue_that_does_not_move_and_a_stopped_build_are_reported(client, settings, alice, alice_incident):
    from django_tasks_db.models import DBTaskResult

    from complaints.models import Dossier, WorkerHeartbeat
    from complaints.services import dossier_create

    settings.TASKS = DB_BACKEND
    settings.HEALTH_PENDING_WARN_SECONDS = 300
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        worker_id="w1", host="node-1", pid=7, started_at=now, seen_at=now, down_after_seconds=45
    )
    waiting = dossier_create(owner=alice, case=alice_incident.case, addressee="nfra")
    DBTaskResult.objects.update(enqueued_at=now - timedelta(minutes=10))
    stopped = dossier_create(owner=alice, case=alice_incident.case, addressee="pboc")
    Dossier.objects.filter(pk=stopped.pk).update(status="running", heartbeat_at=now - timedelta(minutes=5))

    facts = client.get("/healthz").json()
    assert facts["status"] == "degraded" and facts["worker"] == "ok"
    assert facts["queue"]["oldest_pending_seconds"] >= 600 and facts["dossiers_stalled"] == 1
    assert any("waited" in problem for problem in facts["problems"]), facts["problems"]
    assert waiting.pk != stopped.pk


class HangingStorage:
    """An object store that accepts the connection and never answers (until the test lets it)."""

    release = threading.Event()

    def exists(self, name):
        self.release.wait(5)
        return False


def test_a_hung_storage_gives_503_after_the_short_probe_timeout(client, settings, db):
    settings.HEALTH_STORAGE_TIMEOUT_SECONDS = 0.3
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "tests.test_health.HangingStorage"}}
    HangingStorage.release.clear()
    try:
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["storage"] == "error: timeout" and response.json()["status"] == "error"
        assert response.json()["database"] == "ok"
        # A second check while the first probe still hangs waits for that one: no pile of threads.
        probes = threading.active_count()
        assert client.get("/healthz").status_code == 503
        assert threading.active_count() <= probes
    finally:
        HangingStorage.release.set()
        for thread in threading.enumerate():
            if thread.name == "healthz-storage-probe":
                thread.join(10)


def test_a_failing_database_gives_503(client, monkeypatch, db):
    from django.db import OperationalError

    from complaints import health

    class Down:
        def cursor(self):
            raise OperationalError("could not connect")

    monkeypatch.setattr(health, "connection", Down())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "error: OperationalError" and response.json()["storage"] == "ok"
    assert status_of() == 2


def test_healthz_never_creates_the_signing_key(client, settings, tmp_path, db):
    settings.DOSSIER_SIGNING_DIR = tmp_path / "signing"
    assert client.get("/healthz").json()["signing_key"] == "missing"
    assert not (tmp_path / "signing").exists()


def test_a_lost_signing_key_is_degraded_once_dossiers_were_issued(
    client, settings, tmp_path, alice, alice_incident
):
    from complaints.services import dossier_create

    dossier = dossier_create(owner=alice, case=alice_incident.case, addressee="nfra")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    assert client.get("/healthz").json()["signing_key"] == "present"
    settings.DOSSIER_SIGNING_DIR = tmp_path / "lost"
    facts = client.get("/healthz").json()
    assert facts["status"] == "degraded" and facts["signing_key"] == "missing"


def test_low_disk_is_degraded(client, settings, db):
    settings.HEALTH_DISK_MIN_FREE_MB = 10**12
    facts = client.get("/healthz").json()
    assert facts["status"] == "degraded" and facts["disk"] == "low"
