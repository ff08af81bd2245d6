"""Deleting evidence never damages what was issued or what is still being imported: a file an issued
dossier lists, or an import still reads, is withdrawn (hidden, audited, kept); a bundle that cannot be
complete is refused loudly instead of silently lacking a file."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from complaints.services import dossier_create
from evidence.models import EvidenceFile, Incident, PhoneImport
from evidence.services import evidence_store, incident_create
from tests.conftest import amr_bytes, calls_xml
from tests.evidence.test_imports import COLLECTOR, post_import, sample_calls
from tests.evidence.test_integrity import run_verify

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def issued(alice, alice_case):
    call = incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 2, 23, 10, tzinfo=SHANGHAI),
        counterpart_number="17012345678",
        flags=["threat"],
    )
    recording = evidence_store(incident=call, upload=SimpleUploadedFile("rec.amr", amr_bytes()))
    dossier = dossier_create(owner=alice, case=alice_case, addressee="alipay")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    return call, recording, dossier


def test_a_file_in_an_issued_dossier_is_hidden_not_destroyed(client, alice, alice_api, issued, tmp_path):
    call, recording, dossier = issued
    client.force_login(alice)
    assert client.post(f"/evidence/{recording.pk}/delete/").status_code == 302
    # Gone for the owner: the page, the API and downloads no longer show it.
    assert alice_api.get(f"/api/v1/evidence/{recording.pk}/").status_code == 404
    assert client.get(f"/evidence/{recording.pk}/download/").status_code == 404
    assert "rec.amr" not in client.get(f"/incidents/{call.pk}/").content.decode()
    # Kept for the dossier: its bundle is complete and checks out with sha256sum alone.
    response = client.get(f"/dossiers/{dossier.pk}/bundle/")
    assert response.status_code == 200
    bundle = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    bundle.extractall(tmp_path / "b")
    assert (
        subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path / "b", capture_output=True).returncode
        == 0
    )
    assert any(name.endswith("rec.amr") for name in bundle.namelist())
    # The deletion is in the audit chain, and the store still verifies clean.
    code, output = run_verify()
    assert code == 0, output
    withdrawn = EvidenceFile.all_objects.get(pk=recording.pk)
    assert withdrawn.withdrawn_at is not None and withdrawn.holds == [f"dossier {dossier.number}"]
    # A new dossier no longer includes it.
    again = dossier_create(owner=alice, case=call.case, addressee="alipay")
    again.refresh_from_db()
    assert all(entry["id"] != recording.pk for entry in json.loads(again.manifest)["evidence"])


def test_an_incident_in_an_issued_dossier_is_not_deleted(client, alice, issued):
    call, _recording, dossier = issued
    client.force_login(alice)
    response = client.post(f"/incidents/{call.pk}/delete/", follow=True)
    assert Incident.objects.filter(pk=call.pk).exists()
    assert dossier.number in response.content.decode()


def test_a_bundle_that_cannot_be_complete_is_refused_not_partial(client, alice, alice_api, issued):
    _call, recording, dossier = issued
    EvidenceFile.all_objects.filter(pk=recording.pk).delete()  # behind the services' back
    client.force_login(alice)
    response = client.get(f"/dossiers/{dossier.pk}/bundle/")
    assert response.status_code == 409 and "rec.amr" in response.content.decode()
    api = alice_api.get(f"/api/v1/dossiers/{dossier.pk}/bundle")
    assert api.status_code == 409 and api.json()["error"]["code"] == "bundle_incomplete"


def test_deleting_an_export_a_pending_import_reads_keeps_the_preview_working(
    client, alice, alice_api, alice_case
):
    assert post_import(alice_api, alice_case, calls_xml(sample_calls()), numbers=COLLECTOR).status_code == 201
    export = EvidenceFile.objects.get(incident__case=alice_case, original_name="calls.xml")
    client.force_login(alice)
    page = client.post(
        f"/cases/{alice_case.pk}/import/",
        {"file": SimpleUploadedFile("calls.xml", calls_xml(sample_calls()))},
    )
    pending = PhoneImport.objects.filter(imported_at__isnull=True).latest("pk")
    assert page.status_code == 302
    assert client.post(f"/evidence/{export.pk}/delete/").status_code == 302
    assert client.get(f"/imports/{pending.pk}/").status_code == 200
    numbers = [p["number"] for p in pending.summary["counterparts"]]
    run = client.post(
        f"/imports/{pending.pk}/", {"kinds": ["incoming", "missed", "rejected"], "numbers": numbers}
    )
    assert run.status_code == 302
    code, output = run_verify()
    assert code == 0, output
