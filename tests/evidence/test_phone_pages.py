"""The phone pages' server side: files shared into the app are filed in the chosen case, a visit
recording sent twice is stored once, history and deletions read as plain words, 110 is offered
when a threat is logged, and the dossier's next steps call the right number."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from evidence.models import EvidenceFile, Incident, PhoneImport
from tests.conftest import amr_bytes, calls_xml, png_bytes, wav_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def alice_client(alice, tmp_path, settings):
    settings.RESUMABLE_UPLOAD_DIR = tmp_path / "spool"
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


def csrf_of(client, url="/share/") -> str:
    page = client.get(url)
    return str(page.context["csrf_token"])


def share_form(client) -> dict:
    """The share page's form as shown: its CSRF token and the share it files (evidence/sharing.py)."""
    page = client.get("/share/")
    return {"csrfmiddlewaretoken": str(page.context["csrf_token"]), "batch": page.context["batch"]}


def test_two_shared_files_are_filed_in_the_chosen_case(alice_client, alice, alice_case):
    from evidence.services import case_create

    other = case_create(owner=alice, title="白条", creditor="baitiao")
    recording = amr_bytes(frames=250)
    shared = [
        SimpleUploadedFile("通话录音@催收(17012345678)_20240315233000.amr", recording),
        SimpleUploadedFile("Screenshot_20240316-101500.png", png_bytes()),
    ]
    # The share sheet posts without a CSRF token; that only stages the files.
    staged = alice_client.post("/share/receive/", {"files": shared})
    assert staged.status_code == 302 and staged["Location"] == "/share/"
    assert EvidenceFile.objects.count() == 0

    page = alice_client.get("/share/")
    assert page.status_code == 200
    assert [item["name"] for item in page.context["staged"]] == [f.name for f in shared]
    token = str(page.context["csrf_token"])
    filed = alice_client.post(
        "/share/", {"case": alice_case.pk, "csrfmiddlewaretoken": token, "batch": page.context["batch"]}
    )
    assert filed.status_code == 302 and filed["Location"] == f"/cases/{alice_case.pk}/"

    kept = EvidenceFile.objects.filter(owner=alice).order_by("original_name")
    assert kept.count() == 2
    assert {e.incident.case_id for e in kept} == {alice_case.pk}
    assert not Incident.objects.filter(case=other).exists()
    call = Incident.objects.get(case=alice_case, kind="call")
    assert call.counterpart_number == "17012345678"
    assert call.occurred_at == datetime(2024, 3, 15, 23, 30, tzinfo=SHANGHAI)
    # Staged files are gone once filed: sharing them again needs a new share.
    assert alice_client.get("/share/").context["staged"] == []


def test_a_shared_call_log_opens_the_import_preview(alice_client, alice, alice_case):
    export = calls_xml([("17012345678", datetime(2024, 3, 15, 23, 10, tzinfo=SHANGHAI), 1, 61, "")])
    alice_client.post("/share/receive/", {"files": [SimpleUploadedFile("calls.xml", export)]})
    answer = alice_client.post("/share/", {"case": alice_case.pk, **share_form(alice_client)})
    phone_import = PhoneImport.objects.get(case=alice_case)
    assert answer["Location"] == f"/imports/{phone_import.pk}/"
    assert Incident.objects.filter(case=alice_case).count() == 0  # nothing imported before the choice


def test_shared_files_cannot_be_filed_into_another_users_case(alice_client, bob):
    from evidence.services import case_create

    bobs = case_create(owner=bob, title="bob", creditor="huabei")
    alice_client.post("/share/receive/", {"files": [SimpleUploadedFile("a.wav", wav_bytes())]})
    answer = alice_client.post("/share/", {"case": bobs.pk, **share_form(alice_client)})
    assert answer.status_code == 404
    assert not EvidenceFile.objects.exists()


def test_filing_shared_files_needs_the_csrf_token(alice_client, alice_case):
    alice_client.post("/share/receive/", {"files": [SimpleUploadedFile("a.wav", wav_bytes())]})
    assert alice_client.post("/share/", {"case": alice_case.pk}).status_code == 403
    assert not EvidenceFile.objects.exists()


def test_the_manifest_is_a_share_target_for_recordings_screenshots_and_exports(client):
    from django.contrib.staticfiles import finders

    with open(finders.find("manifest.webmanifest"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    target = manifest["share_target"]
    assert target["action"] == "/share/receive/" and target["method"] == "POST"
    assert target["enctype"] == "multipart/form-data"
    accepted = target["params"]["files"][0]["accept"]
    for kind in ("audio/*", "image/*", "application/pdf", ".xml", ".csv"):
        assert kind in accepted


def test_a_visit_recording_sent_twice_with_one_key_is_stored_once(alice_client, alice, alice_case):
    token = csrf_of(alice_client, f"/cases/{alice_case.pk}/log/visit/")
    started = (timezone.now() - timedelta(seconds=8)).isoformat()

    def send():
        return alice_client.post(
            f"/cases/{alice_case.pk}/record-visit/",
            {
                "file": SimpleUploadedFile("visit-20240315T150000.wav", wav_bytes(3.0)),
                "started_at": started,
                "elapsed_seconds": "3",
            },
            HTTP_X_CSRFTOKEN=token,
            HTTP_IDEMPOTENCY_KEY="0b6c7e52-6a0e-4d8e-9a57-0c1d2e3f4a5b",
        )

    first, again = send(), send()
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert EvidenceFile.objects.filter(owner=alice).count() == 1
    assert Incident.objects.filter(case=alice_case, kind="visit").count() == 1
    assert first.json()["sha256"] == EvidenceFile.objects.get().sha256


def test_amendments_read_as_changed_fields_with_local_times(alice_client, alice_incident):
    from evidence.services import incident_update

    incident_update(
        incident=alice_incident,
        occurred_at=datetime(2024, 3, 15, 23, 35, tzinfo=SHANGHAI),
        flags=["threat", "disclosure"],
    )
    page = alice_client.get(f"/incidents/{alice_incident.pk}/").content.decode()
    history = page[page.index('class="history"') :]
    assert "发生时间" in history or "occurred at" in history
    assert "2024年3月15日 23:05:00" in history and "2024年3月15日 23:35:00" in history
    assert "15:05:00+00:00" not in history and "['threat'" not in history
    assert "威胁" in history
    # A threat is logged: calling 110 is offered first.
    assert 'href="tel:110"' in page


def test_the_logged_delay_reads_as_hours_and_minutes(alice_client, alice_case):
    from evidence.services import incident_create

    incident = incident_create(
        case=alice_case, kind="call", occurred_at=timezone.now() - timedelta(hours=6, minutes=31, seconds=5)
    )
    page = alice_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "发生后 6 小时 31 分钟登记" in page or "logged 6 hours 31 minutes after it happened" in page


def test_deleted_incidents_and_files_stay_visible_on_the_case_page(alice_client, alice_incident):
    from evidence.services import evidence_delete, evidence_store, incident_create, incident_delete

    kept = evidence_store(incident=alice_incident, upload=SimpleUploadedFile("x.wav", wav_bytes()))
    sha = kept.sha256
    evidence_delete(evidence=kept)
    gone = incident_create(
        case=alice_incident.case, kind="sms", occurred_at=timezone.now(), counterpart_number="10690000"
    )
    incident_delete(incident=gone)
    page = alice_client.get(f"/cases/{alice_incident.case_id}/").content.decode()
    deleted = page[page.index('id="deleted"') :]
    assert sha in deleted and "x.wav" in deleted and "10690000" in deleted


@pytest.mark.parametrize(("addressee", "phone"), [("alipay", "95188"), ("nfra", "12378")])
def test_the_ready_page_offers_the_call_to_make(alice_client, alice_case, addressee, phone):
    from complaints.models import Dossier

    dossier = Dossier.objects.create(
        owner=alice_case.owner,
        case=alice_case,
        addressee=addressee,
        language="zh-hans",
        status="ready",
        seal="0" * 64,
        pdf_sha256="1" * 64,
        incident_ids=[],
    )
    page = alice_client.get(f"/dossiers/{dossier.pk}/").content.decode()
    assert f'href="tel:{phone}"' in page
    assert 'class="copy"' in page or "next-steps" in page
