"""Every job kind is swept when its worker stops (issue 25, "Big work never blocks others", and
acceptance 3): a worker killed mid-export and mid-OCR leaves an export "running", an image "pending"
and their queue rows claimed by a worker that records no heartbeat any more. One sweep later the
export has failed with the reason (its partial zip removed, a new request starts a new export) and
the image is queued again, then failed with the reason once it has stopped too often; /healthz shows
every kind and every queue with its oldest job's age. Workers serve every queue unless told which.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from core.queues import QUEUES
from tests.conftest import png_bytes


@pytest.fixture
def queued(settings, tmp_path):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": QUEUES}}
    settings.OCR_ENABLED = True
    settings.OCR_MAX_ATTEMPTS = 1
    settings.EXPORT_TEMP_DIR = str(tmp_path / "spool")
    (tmp_path / "spool").mkdir()
    return tmp_path / "spool"


def killed_worker():
    from complaints.models import WorkerHeartbeat

    now = timezone.now()
    return WorkerHeartbeat.objects.create(
        worker_id="killed",
        host="node-1",
        pid=4242,
        started_at=now - timedelta(hours=1),
        seen_at=now - timedelta(seconds=120),  # two minutes without a heartbeat: down
        down_after_seconds=45,
    )


def claimed(task_path_end: str) -> DBTaskResult:
    row = DBTaskResult.objects.filter(status=TaskResultStatus.READY, task_path__endswith=task_path_end).get()
    row.claim("killed")
    return row


def kill_mid_ocr(evidence) -> DBTaskResult:
    """A queued reading of the image, taken by the worker that is then killed."""
    from evidence.models import RecognizedText
    from evidence.tasks import recognize_text

    recognize_text.enqueue(evidence.pk)  # what on_commit does once the upload commits
    RecognizedText.objects.filter(evidence=evidence).update(queued_at=timezone.now() - timedelta(minutes=2))
    return claimed(".recognize_text")


def test_a_worker_killed_mid_export_and_mid_ocr_leaves_nothing_stuck(
    queued, client, alice, alice_incident, django_capture_on_commit_callbacks
):
    from complaints.jobs import jobs_sweep
    from evidence.models import RecognizedText
    from evidence.services import evidence_store
    from privacy.models import Export
    from privacy.services import export_create

    image = evidence_store(
        incident=alice_incident, upload=SimpleUploadedFile("Screenshot_20240315-230600.png", png_bytes())
    )
    assert RecognizedText.objects.get(evidence=image).status == "pending"
    export = export_create(owner=alice)
    killed_worker()
    export_row = claimed(".build_export")
    # Killed at 40%, a heartbeat only 100 s old (the stall time is 15 minutes): it is its worker
    # being down that tells the sweep, at once.
    Export.objects.filter(pk=export.pk).update(
        status="running",
        progress=40,
        started_at=timezone.now(),
        heartbeat_at=timezone.now() - timedelta(seconds=100),
    )
    partial = queued / f"export-{export.pk}-k1ll3d.zip"
    partial.write_bytes(b"PK\x03\x04 half a zip")
    other = queued / "export-notes.txt"  # not a spool file of an export: left alone
    other.write_text("keep")
    ocr_row = kill_mid_ocr(image)

    facts = client.get("/healthz").json()
    assert facts["jobs"]["export"]["running"] == 1
    assert facts["queues"]["default"]["running"] == 1 and facts["queues"]["ocr"]["running"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        done = jobs_sweep()
    assert {"export", "ocr"} <= set(done), done

    export.refresh_from_db()
    assert export.status == "failed" and "stopped without finishing" in export.error
    assert not partial.exists() and other.exists()
    export_row.refresh_from_db()
    assert export_row.status == TaskResultStatus.FAILED
    assert export_create(owner=alice).pk != export.pk  # a new request starts a new export

    text = RecognizedText.objects.get(evidence=image)
    assert text.status == "pending" and text.attempts == 1  # queued again, on its own queue
    ocr_row.refresh_from_db()
    assert ocr_row.status == TaskResultStatus.FAILED
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY, queue_name="ocr").count() == 1

    facts = client.get("/healthz").json()
    assert facts["jobs"]["export"]["failed_24h"] == 1
    assert "stopped without finishing" in facts["jobs"]["export"]["last_error"]
    assert facts["jobs"]["ocr"]["pending"] == 1 and facts["jobs"]["ocr"]["oldest_seconds"] >= 0
    assert facts["queues"]["ocr"]["pending"] == 1 and facts["queues"]["ocr"]["oldest_pending_seconds"] >= 0
    assert set(facts["jobs"]) >= {"dossier", "export", "import", "ocr", "stamping", "purge"}

    # Killed again while reading it: OCR_MAX_ATTEMPTS (1) runs were queued again, so it fails now.
    DBTaskResult.objects.filter(status=TaskResultStatus.READY, queue_name="ocr").get().claim("killed")
    RecognizedText.objects.filter(pk=text.pk).update(queued_at=timezone.now() - timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):
        jobs_sweep()
    text.refresh_from_db()
    assert text.status == "failed" and "stopped without finishing" in text.error
    facts = client.get("/healthz").json()
    assert facts["jobs"]["ocr"]["failed_24h"] == 1 and "stopped" in facts["jobs"]["ocr"]["last_error"]
    assert alice_api_text_status(alice, image) == "failed"


def alice_api_text_status(owner, evidence) -> str:
    from tests.conftest import api_client_for

    return api_client_for(owner).get(f"/api/v1/evidence/{evidence.pk}/").json()["text_status"]


def test_a_running_job_of_a_live_worker_is_left_alone(queued, client, alice, alice_incident):
    from complaints.jobs import jobs_sweep
    from complaints.models import WorkerHeartbeat
    from privacy.models import Export
    from privacy.services import export_create

    export = export_create(owner=alice)
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        worker_id="killed", host="node-1", pid=1, started_at=now, seen_at=now, down_after_seconds=45
    )
    claimed(".build_export")
    Export.objects.filter(pk=export.pk).update(status="running", started_at=now, heartbeat_at=now)
    partial = queued / f"export-{export.pk}-busy.zip"
    partial.write_bytes(b"PK")
    assert "export" not in jobs_sweep()
    assert Export.objects.get(pk=export.pk).status == "running" and partial.exists()


def test_the_worker_serves_every_queue_unless_told_which(queued):
    from complaints.management.commands.worker import Command

    parser = Command().create_parser("manage.py", "worker")
    assert parser.parse_args([]).queue_name == "*"
    assert parser.parse_args(["--queue-name", "imports,ocr"]).queue_name == "imports,ocr"


def test_ocr_and_imports_have_queues_of_their_own():
    from complaints.tasks import build_dossier
    from evidence.import_jobs import run_import
    from evidence.tasks import recognize_text
    from privacy.tasks import build_export

    assert (recognize_text.queue_name, run_import.queue_name) == ("ocr", "imports")
    assert build_dossier.queue_name == build_export.queue_name == "default"
