"""A build stuck after a worker crash does not stay stuck (issue 10 item 11, issue 18 item 3).

A running build moves its heartbeat; one whose heartbeat stops (or whose worker is down) is queued
again by the sweep, at most DOSSIER_MAX_ATTEMPTS builds in all, then failed with a plain reason.
Retrying never queues a build twice. The sweep runs in `manage.py worker`, in `retry_dossiers` and in
the housekeeping. The last test kills a real worker process with SIGKILL mid-build and restarts it.
"""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from complaints.models import Dossier
from core.queues import QUEUES
from tests.conftest import wait_for

DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": QUEUES}}


@pytest.fixture
def queued(settings):
    """Builds go into the database queue and stay there (no worker runs in these tests)."""
    settings.TASKS = DB_BACKEND
    settings.DOSSIER_STALL_SECONDS = 180
    settings.DOSSIER_MAX_ATTEMPTS = 2


def order(owner, case) -> Dossier:
    from complaints.services import dossier_create

    return dossier_create(owner=owner, case=case, addressee="nfra")


def rows(dossier, status=None):
    found = DBTaskResult.objects.filter(args_kwargs__args__0=dossier.pk)
    return found.filter(status=status) if status else found


def worker(worker_id: str, *, seen_seconds_ago: float, down_after: float = 45):
    from complaints.models import WorkerHeartbeat

    now = timezone.now()
    return WorkerHeartbeat.objects.create(
        worker_id=worker_id,
        host="node-1",
        pid=4242,
        started_at=now - timedelta(hours=1),
        seen_at=now - timedelta(seconds=seen_seconds_ago),
        down_after_seconds=down_after,
    )


def crash_mid_build(dossier, *, worker_id: str, beat_seconds_ago: float, attempts: int = 1) -> DBTaskResult:
    """What a worker killed part way leaves: its queue row running, the dossier running at 20%."""
    row = rows(dossier, TaskResultStatus.READY).get()
    row.claim(worker_id)
    now = timezone.now()
    Dossier.objects.filter(pk=dossier.pk).update(
        status="running",
        progress=20,
        progress_note="timeline",
        attempts=attempts,
        build_seq=attempts,
        started_at=now - timedelta(seconds=beat_seconds_ago + 30),
        heartbeat_at=now - timedelta(seconds=beat_seconds_ago),
    )
    return row


def test_retry_dossiers_restarts_a_new_build_whose_worker_died_and_twice_queues_nothing_twice(
    queued, alice, alice_incident
):
    dossier = order(alice, alice_incident.case)
    worker("killed", seen_seconds_ago=120)  # no heartbeat for two minutes: down
    old_row = crash_mid_build(dossier, worker_id="killed", beat_seconds_ago=100)

    call_command("retry_dossiers", stdout=io.StringIO())
    dossier.refresh_from_db()
    assert dossier.status == "pending" and dossier.progress == 0
    assert rows(dossier, TaskResultStatus.READY).count() == 1
    old_row.refresh_from_db()
    assert old_row.status == TaskResultStatus.FAILED  # the orphan no longer claims to be running

    call_command("retry_dossiers", stdout=io.StringIO())
    assert rows(dossier, TaskResultStatus.READY).count() == 1
    assert not rows(dossier, TaskResultStatus.RUNNING).exists()


def test_retry_dossiers_restarts_a_new_build_that_stopped_running(queued, alice, alice_incident):
    dossier = order(alice, alice_incident.case)
    # Ordered a minute ago, running for 5 minutes without a heartbeat (its worker was killed): the
    # old retry looked only at builds ordered more than 30 minutes ago and left this one alone.
    rows(dossier, TaskResultStatus.READY).get().claim("plain-db-worker")
    Dossier.objects.filter(pk=dossier.pk).update(
        status="running", progress=2, started_at=timezone.now() - timedelta(minutes=5)
    )
    call_command("retry_dossiers", stdout=io.StringIO())
    dossier.refresh_from_db()
    assert dossier.status == "pending" and dossier.progress == 0
    assert rows(dossier, TaskResultStatus.READY).count() == 1
    assert not rows(dossier, TaskResultStatus.RUNNING).exists()


def test_retry_dossiers_run_twice_queues_a_waiting_build_once(queued, alice, alice_incident):
    dossier = order(alice, alice_incident.case)
    call_command("retry_dossiers", "--minutes", "0", stdout=io.StringIO())
    call_command("retry_dossiers", "--minutes", "0", stdout=io.StringIO())
    assert rows(dossier).count() == 1 and rows(dossier, TaskResultStatus.READY).count() == 1
    assert Dossier.objects.get(pk=dossier.pk).status == "pending"


def test_a_build_whose_heartbeat_stopped_is_queued_again_only_after_the_stall_time(
    queued, alice, alice_incident
):
    from complaints.services import dossier_sweep

    dossier = order(alice, alice_incident.case)
    # A plain db_worker records no heartbeat of its own: only the build's heartbeat tells.
    crash_mid_build(dossier, worker_id="plain-db-worker", beat_seconds_ago=60)
    report = dossier_sweep()
    assert not report.requeued and Dossier.objects.get(pk=dossier.pk).status == "running"

    Dossier.objects.filter(pk=dossier.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=181))
    report = dossier_sweep()
    assert report.requeued == [dossier.number]
    assert Dossier.objects.get(pk=dossier.pk).status == "pending"
    assert rows(dossier, TaskResultStatus.READY).count() == 1
    assert not rows(dossier, TaskResultStatus.RUNNING).exists()


def test_a_build_that_stopped_twice_is_failed_with_a_plain_reason(queued, alice, alice_incident):
    from accounts.models import Profile
    from complaints.services import dossier_sweep

    Profile.objects.update_or_create(user=alice, defaults={"language": "en"})
    dossier = order(alice, alice_incident.case)
    crash_mid_build(dossier, worker_id="plain-db-worker", beat_seconds_ago=200, attempts=2)

    report = dossier_sweep()
    dossier.refresh_from_db()
    assert report.failed == [dossier.number] and not report.requeued
    assert dossier.status == "failed"
    assert dossier.error == "The build stopped twice without finishing (worker crashed?)."
    assert not rows(dossier, TaskResultStatus.READY).exists()
    assert not rows(dossier, TaskResultStatus.RUNNING).exists()
    # Nothing more happens on the next sweep; a person can still ask for a retry.
    assert not dossier_sweep().requeued


def test_a_live_build_is_left_alone_and_a_retry_does_not_queue_it_twice(queued, alice, alice_incident):
    from complaints.services import dossier_retry, dossier_sweep

    dossier = order(alice, alice_incident.case)
    worker("alive", seen_seconds_ago=2)
    crash_mid_build(dossier, worker_id="alive", beat_seconds_ago=5)  # not a crash: still beating

    assert not dossier_sweep().requeued
    dossier_retry(dossier=Dossier.objects.get(pk=dossier.pk))
    dossier.refresh_from_db()
    assert dossier.status == "running" and dossier.progress == 20
    assert rows(dossier).count() == 1 and rows(dossier, TaskResultStatus.RUNNING).count() == 1


def test_retrying_a_queued_build_queues_nothing_more(queued, alice, alice_incident):
    from complaints.services import dossier_retry

    dossier = order(alice, alice_incident.case)
    dossier_retry(dossier=dossier)
    dossier_retry(dossier=dossier)
    assert rows(dossier).count() == 1 and Dossier.objects.get(pk=dossier.pk).status == "pending"


def test_a_lost_queue_entry_is_queued_once_and_duplicates_are_dropped(queued, alice, alice_incident):
    from complaints.services import dossier_sweep
    from complaints.tasks import build_dossier

    lost = order(alice, alice_incident.case)
    rows(lost).delete()  # e.g. pruned, or queued under another backend
    doubled = order(alice, alice_incident.case)
    build_dossier.enqueue(doubled.pk)  # what the old retry did when run twice
    build_dossier.enqueue(doubled.pk)

    report = dossier_sweep()
    assert report.requeued == [lost.number] and report.duplicates == 2
    assert rows(lost, TaskResultStatus.READY).count() == 1
    assert rows(doubled, TaskResultStatus.READY).count() == 1
    assert not dossier_sweep().requeued and rows(lost).count() == 1


def test_rows_left_running_by_a_dead_worker_are_failed_and_others_kept(queued, alice, alice_incident):
    from complaints.services import dossier_sweep
    from complaints.tasks import build_dossier

    worker("dead", seen_seconds_ago=300)
    worker("alive", seen_seconds_ago=1)
    claimed = {}
    for worker_id in ("dead", "alive", "unknown"):
        result = build_dossier.enqueue(10_000_000 + len(claimed))  # not a dossier: any task's row
        row = DBTaskResult.objects.get(pk=result.id)
        row.claim(worker_id)
        claimed[worker_id] = row

    assert dossier_sweep().orphaned_tasks == 1
    status = {key: DBTaskResult.objects.get(pk=row.pk).status for key, row in claimed.items()}
    assert status == {
        "dead": TaskResultStatus.FAILED,
        "alive": TaskResultStatus.RUNNING,
        "unknown": TaskResultStatus.RUNNING,  # a worker that records no heartbeat cannot be judged
    }


def test_a_build_counts_its_attempt_moves_its_heartbeat_and_logs_its_number(alice, filled_case, caplog):
    from complaints.services import dossier_create

    with caplog.at_level(logging.INFO, logger="complaints.building"):
        dossier = dossier_create(owner=alice, case=filled_case, addressee="nfra")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    assert dossier.attempts == 1 and dossier.heartbeat_at >= dossier.started_at
    messages = [record.getMessage() for record in caplog.records]
    assert f"dossier {dossier.number} started (attempt 1)" in messages
    assert any(message.startswith(f"dossier {dossier.number} finished") for message in messages)


def test_a_superseded_build_writes_no_progress(alice, alice_incident):
    from complaints.building import _progress

    dossier = Dossier.objects.create(owner=alice, case=alice_incident.case, addressee="nfra")
    Dossier.objects.filter(pk=dossier.pk).update(status="running", build_seq=2, progress=10)
    _progress(dossier.pk, 50, "old build", build_seq=1)
    assert Dossier.objects.get(pk=dossier.pk).progress == 10
    _progress(dossier.pk, 50, "current build", build_seq=2)
    assert Dossier.objects.get(pk=dossier.pk).progress == 50


def test_the_heartbeat_thread_beats_while_a_build_works(transactional_db, django_user_model):
    from complaints.heartbeat import BuildHeartbeat
    from evidence.services import case_create

    owner = django_user_model.objects.create_user("hana", password="hana-password-1")
    case = case_create(owner=owner, title="心跳", creditor="huabei")
    long_ago = timezone.now() - timedelta(hours=1)
    dossier = Dossier.objects.create(owner=owner, case=case, addressee="nfra")
    Dossier.objects.filter(pk=dossier.pk).update(status="running", build_seq=1, heartbeat_at=long_ago)
    with BuildHeartbeat(dossier_id=dossier.pk, build_seq=1, interval=0.05):
        wait_for(lambda: Dossier.objects.get(pk=dossier.pk).heartbeat_at > long_ago)
    moved = Dossier.objects.get(pk=dossier.pk).heartbeat_at
    # A superseded build's thread beats nothing.
    with BuildHeartbeat(dossier_id=dossier.pk, build_seq=0, interval=0.05) as beat:
        beat._stop.wait(0.3)
    assert Dossier.objects.get(pk=dossier.pk).heartbeat_at == moved


# --- housekeeping ---------------------------------------------------------------------------------


def test_housekeeping_runs_every_step_once_at_a_time(queued, alice, alice_incident):
    from django.contrib.sessions.models import Session

    from complaints.housekeeping import LEASE_NAME, housekeeping, lease_release, lease_take
    from complaints.tasks import build_dossier

    Session.objects.create(
        session_key="x" * 32, session_data="", expire_date=timezone.now() - timedelta(days=1)
    )
    old = DBTaskResult.objects.get(pk=build_dossier.enqueue(10_000_000).id)  # finished a month ago
    DBTaskResult.objects.filter(pk=old.pk).update(
        status=TaskResultStatus.SUCCESSFUL, finished_at=timezone.now() - timedelta(days=30)
    )
    stuck = order(alice, alice_incident.case)
    worker("killed", seen_seconds_ago=600)
    crash_mid_build(stuck, worker_id="killed", beat_seconds_ago=400)

    holder = lease_take(LEASE_NAME, 60)  # another run (another worker, or cron) is under way
    assert holder and lease_take(LEASE_NAME, 60) is None
    assert housekeeping() is None
    assert Session.objects.exists()
    lease_release(LEASE_NAME, holder)

    results = housekeeping()
    assert results is not None and not any(value.startswith("error") for value in results.values()), results
    assert set(results) == {
        "sweep",
        "cleanup_uploads",
        "prune_db_task_results",
        "clearsessions",
        "forget_workers",
        "idempotency_keys",
    }
    assert not Session.objects.exists()
    assert not DBTaskResult.objects.filter(pk=old.pk).exists()
    assert Dossier.objects.get(pk=stuck.pk).status == "pending"
    assert rows(stuck, TaskResultStatus.READY).count() == 1
    # The lease is free again: the next run (from anywhere) does the work.
    assert housekeeping() is not None


def test_the_housekeeping_command_says_when_another_run_holds_the_lease(queued, db):
    from complaints.housekeeping import LEASE_NAME, lease_take

    lease_take(LEASE_NAME, 60)
    out = io.StringIO()
    call_command("housekeeping", stdout=out)
    assert "already running elsewhere" in out.getvalue()


# --- a real worker, killed with SIGKILL mid-build -------------------------------------------------


def start(env, *extra) -> subprocess.Popen:
    from tests.complaints.test_worker import BASE_DIR

    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "worker",
            "--no-startup-delay",
            "--no-reload",
            "--interval",
            "0.2",
            "--heartbeat-seconds",
            "0.5",
            "--heartbeat-grace-seconds",
            "1",
            "--stall-seconds",
            "8",
            "--sweep-seconds",
            "0.5",
            "--housekeeping-seconds",
            "0",
            *extra,
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.mark.django_db(transaction=True)
def test_after_kill_9_the_worker_is_reported_down_and_on_restart_every_build_runs_once(
    settings, evidence_storage, tmp_path, django_user_model, client
):
    from complaints.services import dossier_create
    from evidence.findings import case_violations_refresh
    from evidence.models import Incident
    from evidence.services import case_create
    from tests.complaints.test_worker import kill_worker, worker_env

    settings.TASKS = DB_BACKEND
    settings.WORKER_HEARTBEAT_GRACE_SECONDS = 1
    settings.HEALTH_DISK_MIN_FREE_MB = 0
    owner = django_user_model.objects.create_user("ivan", password="ivan-password-1")
    big = case_create(owner=owner, title="大案", creditor="huabei")
    start_at = datetime(2024, 1, 1, 8, tzinfo=ZoneInfo("Asia/Shanghai"))
    Incident.objects.bulk_create(
        [
            Incident(
                case=big,
                kind="call",
                occurred_at=start_at + timedelta(minutes=31 * i),
                counterpart_number="17012345678",
                answered=i % 2 == 0,
                description=f"第{i}次来电，要求立即还款",
            )
            for i in range(4000)
        ]
    )
    case_violations_refresh(case=big)
    small = case_create(owner=owner, title="小案", creditor="huabei")
    Incident.objects.bulk_create(
        [
            Incident(case=small, kind="call", occurred_at=start_at + timedelta(hours=i), description=f"{i}")
            for i in range(5)
        ]
    )
    env = worker_env(settings, evidence_storage, tmp_path)

    first = dossier_create(owner=owner, case=big, addressee="nfra")
    process = start(env)
    try:
        wait_for(lambda: client.get("/healthz").json()["worker"] == "ok")
        wait_for(lambda: Dossier.objects.filter(pk=first.pk, status="running", progress__gte=20).exists())
    finally:
        kill_worker(process)  # SIGKILL: no goodbye, no clean-up

    # The worker is reported down (the web node still serves: 200, "degraded"); a new order waits.
    second = dossier_create(owner=owner, case=small, addressee="alipay")
    health = wait_for(lambda: (lambda r: r.json()["worker"] == "down" and r)(client.get("/healthz")))
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    facts = health.json()
    assert facts["queue"]["pending"] == 1 and facts["queue"]["oldest_pending_seconds"] is not None
    assert facts["queue"]["running"] == 1  # the killed build's row, until a sweep fails it
    with pytest.raises(SystemExit) as status_exit:
        call_command("status", stdout=io.StringIO())
    assert status_exit.value.code == 1
    assert Dossier.objects.get(pk=first.pk).status == "running"  # nothing moves without a worker

    process = start(env)
    try:
        finished = wait_for(
            lambda: (
                Dossier.objects.filter(pk__in=[first.pk, second.pk], status__in=["ready", "failed"]).count()
                == 2
                and list(Dossier.objects.filter(pk__in=[first.pk, second.pk]).order_by("pk"))
            )
        )
        assert [dossier.status for dossier in finished] == ["ready", "ready"], [d.error for d in finished]
        # The killed build ran again once; the new order ran once; no queue row was doubled.
        assert [dossier.attempts for dossier in finished] == [2, 1]
        # A build's queue row is marked done just after the dossier turns ready: wait for that too.
        wait_for(
            lambda: (
                rows(first, TaskResultStatus.SUCCESSFUL).exists()
                and rows(second, TaskResultStatus.SUCCESSFUL).exists()
                and not DBTaskResult.objects.filter(
                    status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]
                ).exists()
            )
        )
        assert rows(first, TaskResultStatus.SUCCESSFUL).count() == 1
        assert rows(first, TaskResultStatus.FAILED).count() == 1  # the orphan of the killed worker
        assert rows(second).count() == 1 and rows(second, TaskResultStatus.SUCCESSFUL).exists()
        assert not DBTaskResult.objects.filter(
            status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]
        ).exists()
        health = client.get("/healthz").json()
        assert health["worker"] == "ok" and health["workers_alive"] == 1
    finally:
        kill_worker(process)
