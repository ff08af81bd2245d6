"""Issue 25, acceptance 1 (second half): a 300,000-row calls import on SQLite, run by a real worker
process, beside 20 uploads of another user. Every upload answers 201 (the import holds the write
lock one short batch at a time, never for minutes), the import completes with the right counts, and
the worker is still alive afterwards."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.queues import QUEUES
from tests.complaints.test_worker import kill_worker, start_worker, worker_env
from tests.conftest import amr_bytes, api_client_for, wait_for

ROWS = 300_000
# 1 incoming, 3 missed, 5 rejected: every row is of a kind imported by default.
KINDS = (1, 3, 5)


def big_calls_xml(rows: int) -> bytes:
    """SMS Backup & Restore calls.xml, one call every 97 seconds from 2024-01-01 (about 11 months)."""
    start = int(datetime(2024, 1, 1).timestamp()) * 1000
    lines = [
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n",
        f'<calls count="{rows}" backup_set="big" backup_date="1730000000000" type="full">\n',
    ]
    lines.extend(
        f'<call number="1701{i % 4000:07d}" duration="{i % 120}" date="{start + 97_000 * i}" '
        f'type="{KINDS[i % 3]}" presentation="1" contact_name="(Unknown)" />\n'
        for i in range(rows)
    )
    lines.append("</calls>\n")
    return "".join(lines).encode()


def skip_on_postgresql():
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the write lock this test is about is SQLite's")


@pytest.mark.django_db(transaction=True)
def test_a_300000_row_import_in_the_background_never_stops_another_users_uploads(
    settings, evidence_storage, tmp_path, django_user_model
):
    from evidence.models import PhoneImport
    from evidence.services import case_create, incident_create

    skip_on_postgresql()
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": QUEUES}}
    alice = django_user_model.objects.create_user("alice", password="alice-password-1")
    bob = django_user_model.objects.create_user("bob", password="bob-password-1")
    alice_case = case_create(owner=alice, title="大量来电", creditor="huabei")
    bob_case = case_create(owner=bob, title="上门", creditor="jiebei")
    bob_incident = incident_create(
        case=bob_case, kind="call", occurred_at=datetime.fromisoformat("2025-03-15T23:05:00+08:00")
    )
    alice_api, bob_api = api_client_for(alice), api_client_for(bob)
    data = big_calls_xml(ROWS)

    began = time.monotonic()
    worker = start_worker(worker_env(settings, evidence_storage, tmp_path), "--queue-name", "imports")
    try:
        response = alice_api.post(
            "/api/v1/imports/",
            {"case": alice_case.pk, "file": SimpleUploadedFile("calls.xml", data)},
            format="multipart",
        )
        assert response.status_code == 202, response.content
        job_id = response.json()["id"]
        wait_for(lambda: PhoneImport.objects.filter(pk=job_id, status="running", progress__gt=0).exists())

        statuses = []
        for number in range(20):
            upload = SimpleUploadedFile(
                f"录音_1380000{number:04d}_20250315230{number % 10}00.amr", amr_bytes(frames=50 + number)
            )
            statuses.append(
                bob_api.post(
                    f"/api/v1/incidents/{bob_incident.pk}/evidence/", {"file": upload}, format="multipart"
                ).status_code
            )
        during = PhoneImport.objects.get(pk=job_id).status
        assert statuses == [201] * 20
        assert during == "running"  # the uploads really happened while the import was writing

        state = wait_for(
            lambda: (lambda s: s if s["status"] in ("done", "failed") else None)(
                alice_api.get(f"/api/v1/imports/{job_id}/").json()
            ),
            limit_seconds=900,
            step=0.5,
        )
        assert state["status"] == "done", state
        assert (state["created"], state["duplicates"], state["skipped"], state["implausible"]) == (
            ROWS,
            0,
            0,
            0,
        )
        assert alice_case.incidents.filter(kind="call").count() == ROWS
        assert worker.poll() is None  # the worker is still alive
    finally:
        kill_worker(worker)
    print(f"\n300,000-row background import beside 20 uploads: {time.monotonic() - began:.1f} s")
