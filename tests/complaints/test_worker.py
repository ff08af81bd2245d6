"""Dossier builds in a separate worker process (the database task backend and a real db_worker):
a worker killed part way leaves a dossier that is not ready, and a retry completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from complaints.models import Dossier
from core.queues import QUEUES
from evidence.models import Incident
from tests.conftest import wait_for

BASE_DIR = Path(__file__).resolve().parents[2]


def worker_env(settings, evidence_storage, tmp_path) -> dict:
    from django.db import connection

    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{database['NAME']}"
    else:
        url = (
            f"postgres://{database['USER']}:{database['PASSWORD'] or ''}@{database['HOST'] or 'localhost'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        {
            "DATABASE_URL": url,
            "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
            "DOSSIER_SIGNING_DIR": str(settings.DOSSIER_SIGNING_DIR),
            "DATA_DIR": str(tmp_path / "worker"),
            "LOG_LEVEL": "WARNING",
            "DJANGO_DEBUG": "1",
        }
    )
    if evidence_storage["kind"] == "filesystem":
        env["EVIDENCE_ROOT"] = str(evidence_storage["path"])
    else:
        env["EVIDENCE_S3_PREFIX"] = evidence_storage["prefix"]
    return env


def start_worker(env, *extra) -> subprocess.Popen:
    # --no-reload: without it a debug worker runs under the autoreloader, and killing the process
    # started here would leave the real worker running as an orphan. Its own session lets the test
    # kill every process the worker may have started.
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "db_worker",
            "--no-startup-delay",
            "--no-reload",
            "--interval",
            "0.2",
            *extra,
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill_worker(worker: subprocess.Popen) -> None:
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # already gone
    worker.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_a_build_whose_worker_is_killed_is_not_ready_and_completes_when_retried(
    settings, evidence_storage, tmp_path, django_user_model
):
    from complaints.services import dossier_create, dossier_retry
    from complaints.signing import check_signature
    from evidence.findings import case_violations_refresh
    from evidence.services import case_create

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": QUEUES}}
    owner = django_user_model.objects.create_user("ivan", password="ivan-password-1")
    case = case_create(owner=owner, title="大案", creditor="huabei")
    start = datetime(2024, 1, 1, 8, tzinfo=ZoneInfo("Asia/Shanghai"))
    Incident.objects.bulk_create(
        [
            Incident(
                case=case,
                kind="call",
                occurred_at=start + timedelta(minutes=31 * i),
                counterpart_number="17012345678",
                answered=i % 2 == 0,
                description=f"第{i}次来电，要求立即还款",
            )
            for i in range(4000)
        ]
    )
    case_violations_refresh(case=case)
    env = worker_env(settings, evidence_storage, tmp_path)

    dossier = dossier_create(owner=owner, case=case, addressee="nfra")
    assert Dossier.objects.get(pk=dossier.pk).status == "pending"  # queued, not built in this process

    worker = start_worker(env)
    try:
        wait_for(lambda: Dossier.objects.filter(pk=dossier.pk, status="running", progress__gte=20).exists())
    finally:
        kill_worker(worker)
    interrupted = Dossier.objects.get(pk=dossier.pk)
    assert interrupted.status != "ready" and not interrupted.seal and not interrupted.pdf_name
    # Nothing carries on building behind the test's back.
    progress = interrupted.progress
    time.sleep(2)
    assert Dossier.objects.get(pk=dossier.pk).progress == progress

    dossier_retry(dossier=interrupted)
    worker = start_worker(env, "--batch")
    try:
        finished = wait_for(
            lambda: Dossier.objects.filter(pk=dossier.pk, status__in=["ready", "failed"]).first()
        )
        worker.wait(timeout=120)
    finally:
        if worker.poll() is None:
            kill_worker(worker)
    assert finished.status == "ready", finished.error
    from django.core.files.storage import default_storage

    with default_storage.open(finished.pdf_name, "rb") as handle:
        assert check_signature(handle.read()).ok
