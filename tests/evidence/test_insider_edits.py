"""Changes made behind the services' back are named by verify_evidence, and the admin cannot make them.

A superuser once moved a night call to 09:00 in the admin (out of the quiet hours) and a direct
database update swapped an evidence row's SHA-256 and file: both passed verification. The chain now
vouches for every row: verify_evidence compares each row with the last snapshot the chain recorded.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.models import Case, EvidenceFile, Incident
from evidence.services import (
    evidence_delete,
    evidence_move,
    evidence_store,
    incident_create,
    incident_delete,
    incident_update,
)
from tests.conftest import amr_bytes, calls_xml, png_bytes
from tests.evidence.test_imports import COLLECTOR, post_import, sample_calls
from tests.evidence.test_integrity import run_verify

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def history(alice, alice_case, alice_api):
    """A store with every kind of write: creates, an amendment, a move, deletions, an import."""
    night = incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 2, 23, 10, tzinfo=SHANGHAI),
        counterpart_number="17012345678",
        duration_seconds=60,
    )
    other = incident_create(
        case=alice_case,
        kind="sms",
        occurred_at=datetime(2026, 3, 3, 9, 0, tzinfo=SHANGHAI),
        counterpart_number="10690000123",
        description="律师函",
    )
    recording = evidence_store(incident=night, upload=SimpleUploadedFile("rec.amr", amr_bytes()))
    shot = evidence_store(incident=night, upload=SimpleUploadedFile("shot.png", png_bytes()))
    evidence_move(evidence=shot, incident=other)
    incident_update(incident=other, description="律师函（伪造）", flags=["fake_legal_document"])
    gone = incident_create(
        case=alice_case, kind="call", occurred_at=datetime(2026, 3, 4, 12, 0, tzinfo=SHANGHAI)
    )
    evidence_store(incident=gone, upload=SimpleUploadedFile("gone.png", png_bytes(size=(30, 30))))
    incident_delete(incident=gone)
    spare = evidence_store(incident=other, upload=SimpleUploadedFile("spare.amr", amr_bytes(frames=20)))
    evidence_delete(evidence=spare)
    assert post_import(alice_api, alice_case, calls_xml(sample_calls()), numbers=COLLECTOR).status_code == 201
    return {"night": night, "other": other, "recording": recording, "shot": shot}


def test_an_untouched_history_verifies_clean(history):
    code, output = run_verify()
    assert code == 0, output


def test_a_time_changed_in_the_database_is_named(history):
    night = history["night"]
    Incident.objects.filter(pk=night.pk).update(occurred_at=datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))
    code, output = run_verify()
    assert code == 1
    assert (
        f"incident id {night.pk}" in output
        and "occurred_at" in output
        and "2026-03-02T15:10:00+00:00" in output
    )


def test_an_evidence_rows_hash_and_file_changed_in_the_database_are_named(history):
    recording, shot = history["recording"], history["shot"]
    EvidenceFile.objects.filter(pk=recording.pk).update(
        sha256=shot.sha256, size=shot.size, storage_name=shot.storage_name
    )
    code, output = run_verify()
    assert code == 1
    line = next(
        line for line in output.splitlines() if f"evidence id {recording.pk}" in line and "sha256" in line
    )
    assert recording.sha256 in line and shot.sha256 in line
    assert any(
        f"evidence id {recording.pk}" in line and "storage_name" in line for line in output.splitlines()
    )


def test_an_imported_call_changed_in_the_database_is_named(history, alice_case):
    imported = alice_case.incidents.exclude(import_key="").order_by("pk").first()
    Incident.objects.filter(pk=imported.pk).update(duration_seconds=1)
    code, output = run_verify()
    assert code == 1 and f"incident id {imported.pk}" in output and "imported" in output


def test_rows_added_or_removed_behind_the_services_back_are_named(history, alice_case):
    planted = Incident.objects.create(
        case=alice_case, kind="call", occurred_at=datetime(2026, 3, 5, 23, 0, tzinfo=SHANGHAI)
    )
    Incident.objects.filter(pk=history["other"].pk).delete()
    Case.objects.filter(pk=alice_case.pk).update(title="renamed")
    code, output = run_verify()
    assert code == 1
    assert f"incident id {planted.pk}" in output and "not in the audit chain" in output
    assert f"incident id {history['other'].pk}: in the audit chain but missing" in output
    assert f"case id {alice_case.pk}" in output and "title" in output


def test_the_admin_cannot_change_the_evidence_store(admin_client, history):
    night = history["night"]
    for model in ("case", "incident", "evidencefile"):
        assert admin_client.get(f"/admin/evidence/{model}/add/").status_code == 403
    page = admin_client.get(f"/admin/evidence/incident/{night.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    response = admin_client.post(
        f"/admin/evidence/incident/{night.pk}/change/",
        {"occurred_at_0": "2026-03-02", "occurred_at_1": "09:00:00", "kind": "call"},
    )
    assert response.status_code == 403
    assert (
        admin_client.post(f"/admin/evidence/incident/{night.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    for model in ("auditevent", "audithead"):
        assert admin_client.get(f"/admin/ledger/{model}/add/").status_code == 403
    night.refresh_from_db()
    assert night.occurred_at == datetime(2026, 3, 2, 23, 10, tzinfo=SHANGHAI)
