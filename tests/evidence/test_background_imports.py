"""Large imports run in the background (issue 25, "big work never blocks others"; api-v1.md, third
wave): above IMPORT_SYNC_MAX_ROWS or IMPORT_SYNC_MAX_BYTES the API answers 202 and the import is
polled; it is written in batches of short transactions, each audited, so verify_evidence still
passes; an import interrupted part way carries on after its last batch; the web page follows it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from core.queues import QUEUES
from evidence.models import Incident, PhoneImport
from ledger.models import AuditEvent
from tests.conftest import calls_xml

SHANGHAI = ZoneInfo("Asia/Shanghai")


def calls(count: int, start: datetime | None = None):
    start = start or datetime(2025, 6, 1, 9, tzinfo=SHANGHAI)
    return [
        (f"1701234{i % 7:04d}", start + timedelta(minutes=17 * i), 1 + i % 3, i % 90, "")
        for i in range(count)
    ]


def post_import(api, case, data, name="calls.xml", **extra):
    return api.post(
        "/api/v1/imports/",
        {"case": case.pk, "file": SimpleUploadedFile(name, data), **extra},
        format="multipart",
    )


@pytest.fixture
def small_limits(settings):
    settings.IMPORT_SYNC_MAX_ROWS = 10
    settings.IMPORT_BATCH_ROWS = 4


def test_a_large_import_answers_202_then_is_polled_until_done_with_every_batch_audited(
    small_limits, alice, alice_api, alice_case, django_capture_on_commit_callbacks
):
    from evidence.integrity import verify_store

    with django_capture_on_commit_callbacks(execute=True):
        response = post_import(alice_api, alice_case, calls_xml(calls(23)))
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending" and isinstance(body["id"], int)

    state = alice_api.get(f"/api/v1/imports/{body['id']}/").json()
    # outgoing calls (type 2) are not imported by default: 8 of 23 are skipped
    assert state == {
        "id": body["id"],
        "status": "done",
        "progress": 100,
        "error": None,
        "created": 15,
        "duplicates": 0,
        "linked": 0,
        "skipped": 8,
        "implausible": 0,
        "format": "calls_xml",
        "export_sha256": state["export_sha256"],
    }
    assert Incident.objects.filter(case=alice_case, kind="call").count() == 15
    # One audit link per batch (at most 4 entries each), each holding the facts of its entries.
    batches = AuditEvent.objects.filter(owner=alice, action="import.create")
    sizes = [len(event.payload["facts"]) for event in batches]
    assert len(sizes) >= 4 and max(sizes) <= 4 and sum(sizes) == 15
    report = verify_store(owner=alice)
    assert report.ok, report.problems


def test_a_small_import_still_answers_201_at_once(small_limits, alice_api, alice_case):
    response = post_import(alice_api, alice_case, calls_xml(calls(6)))
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 4
    state = alice_api.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert state["status"] == "done" and state["created"] == 4


def test_a_file_above_the_byte_limit_runs_in_the_background_too(settings, alice_api, alice_case):
    settings.IMPORT_SYNC_MAX_BYTES = 1000
    response = post_import(alice_api, alice_case, calls_xml(calls(12)))
    assert response.status_code == 202 and response.json()["status"] == "pending"


def test_another_users_import_is_not_found(small_limits, alice_api, bob_api, alice_case):
    response = post_import(alice_api, alice_case, calls_xml(calls(12)))
    assert bob_api.get(f"/api/v1/imports/{response.json()['id']}/").status_code == 404


class Killed(BaseException):
    """What SIGKILL does to a run: it stops between two statements, and nothing catches it."""


def test_an_import_whose_worker_was_killed_is_queued_again_and_carries_on_after_its_last_batch(
    small_limits, settings, monkeypatch, alice, alice_api, alice_case, django_capture_on_commit_callbacks
):
    from complaints.jobs import jobs_sweep
    from evidence import imports
    from evidence.import_jobs import import_job_run
    from evidence.integrity import verify_store

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": QUEUES}}
    response = post_import(alice_api, alice_case, calls_xml(calls(30)))  # 20 to create, 10 skipped
    job = PhoneImport.objects.get(pk=response.json()["id"])
    # The test's transaction never commits, so the queue row is written here, as on_commit would.
    from evidence.import_jobs import run_import

    run_import.enqueue(job.pk)
    row = DBTaskResult.objects.filter(status=TaskResultStatus.READY, queue_name="imports").get()
    row.claim("killed-worker")

    progress = imports._import_progress
    calls_seen = []

    def dies_on_the_third_batch(*args, **kwargs):
        calls_seen.append(1)
        if len(calls_seen) == 3:
            raise Killed
        return progress(*args, **kwargs)

    monkeypatch.setattr(imports, "_import_progress", dies_on_the_third_batch)
    with pytest.raises(Killed):
        import_job_run(import_id=job.pk)
    monkeypatch.setattr(imports, "_import_progress", progress)
    job.refresh_from_db()
    assert job.status == "running" and 0 < job.result["read"] < 30
    kept = Incident.objects.filter(case=alice_case, kind="call").count()
    assert kept == job.result["created"] > 0  # two committed batches, nothing of the third

    # The worker is gone (it never recorded a heartbeat, and its row is old): the sweep queues the
    # import again at once, not after a stall time.
    PhoneImport.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    DBTaskResult.objects.filter(pk=row.pk).update(started_at=timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        done = jobs_sweep()
    assert "import" in done, done
    job.refresh_from_db()
    assert job.status == "pending"
    again = DBTaskResult.objects.filter(status=TaskResultStatus.READY, queue_name="imports").get()

    again.claim("worker-2")
    import_job_run(import_id=job.pk)
    state = alice_api.get(f"/api/v1/imports/{job.pk}/").json()
    assert state["status"] == "done" and state["created"] == 20 and state["skipped"] == 10
    assert state["duplicates"] == 0  # the entries of the first run are not counted twice
    assert Incident.objects.filter(case=alice_case, kind="call").count() == 20
    report = verify_store(owner=alice)
    assert report.ok, report.problems


def test_an_import_that_stops_too_often_fails_with_the_reason(small_limits, settings, alice_api, alice_case):
    from complaints.jobs import jobs_sweep

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": QUEUES}}
    settings.IMPORT_MAX_ATTEMPTS = 1
    job_id = post_import(alice_api, alice_case, calls_xml(calls(30))).json()["id"]
    PhoneImport.objects.filter(pk=job_id).update(
        status="running", attempts=1, heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    jobs_sweep()
    state = alice_api.get(f"/api/v1/imports/{job_id}/").json()
    assert state["status"] == "failed" and "stopped without finishing" in state["error"]


@pytest.mark.parametrize(
    ("language", "waiting", "done"),
    [
        ("en", "Importing in the background…", "Imported in the background: 15 new entries"),
        ("zh-hans", "正在后台导入…", "已在后台导入：15 条新记录"),
    ],
)
def test_the_import_page_follows_a_background_import_in_both_languages(
    small_limits, client, alice, alice_case, language, waiting, done, django_capture_on_commit_callbacks
):
    from accounts.services import profile_for, profile_update

    profile_update(profile=profile_for(alice), language=language)
    client.force_login(alice)
    upload = client.post(
        f"/cases/{alice_case.pk}/import/", {"file": SimpleUploadedFile("calls.xml", calls_xml(calls(23)))}
    )
    assert upload.status_code == 302, upload.content.decode()[:2000]
    page_url = upload["Location"]
    job = PhoneImport.objects.get(owner=alice)
    chosen = [person["number"] for person in job.summary["counterparts"]]
    posted = client.post(page_url, {"numbers": chosen, "kinds": ["incoming", "missed", "rejected"]})
    assert posted.status_code == 302
    job.refresh_from_db()
    assert job.status == "pending"
    page = client.get(page_url).content.decode()
    assert waiting in page and 'id="dossier-progress"' in page and "import-choice" not in page
    status = client.get(f"/imports/{job.pk}/status").json()
    assert status["status"] == "pending" and status["progress"] == 0

    from evidence.import_jobs import import_job_run

    import_job_run(import_id=job.pk)
    page = client.get(page_url).content.decode()
    assert done in page, page
