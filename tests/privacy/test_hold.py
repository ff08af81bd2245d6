"""A case on legal hold refuses every deletion (a file, an incident, the case, the account) with a
clear message and changes nothing; the dossier says the case is on hold."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from complaints.services import dossier_create
from evidence.models import Case, EvidenceFile, Incident
from evidence.services import evidence_delete, incident_delete
from ledger.models import AuditEvent
from privacy.models import Tombstone
from privacy.services import DeletionRefused, case_delete, case_hold, case_release
from tests.privacy.conftest import stored_names

REASON = "劳动仲裁进行中"


@pytest.fixture
def held(alice_api, filled_account):
    case = filled_account["cases"][0]
    response = alice_api.post(f"/api/v1/cases/{case.pk}/hold", {"reason": REASON}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["on_hold"] is True
    case.refresh_from_db()
    return case


def _snapshot(alice, evidence_storage):
    return (
        Incident.objects.filter(case__owner=alice).count(),
        EvidenceFile.all_objects.filter(owner=alice, withdrawn_at__isnull=True).count(),
        AuditEvent.objects.filter(owner=alice).count(),
        stored_names(evidence_storage),
    )


def test_a_held_case_refuses_deleting_evidence_and_incidents(alice, held, evidence_storage):
    before = _snapshot(alice, evidence_storage)
    evidence = EvidenceFile.objects.filter(incident__case=held).first()
    with pytest.raises(ValidationError) as refused:
        evidence_delete(evidence=evidence)
    assert REASON in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        incident_delete(incident=evidence.incident)
    assert REASON in str(refused.value)
    assert _snapshot(alice, evidence_storage) == before


def test_a_held_case_refuses_its_own_deletion(alice, held, evidence_storage):
    before = _snapshot(alice, evidence_storage)
    with pytest.raises(DeletionRefused) as refused:
        case_delete(case=held, password="alice-password-1")
    assert refused.value.code == "case_on_hold" and REASON in refused.value.message
    assert Case.objects.filter(pk=held.pk).exists()
    assert _snapshot(alice, evidence_storage) == before
    assert not Tombstone.objects.exists()


def test_a_held_case_refuses_deleting_the_account(alice, alice_api, held, evidence_storage):
    before = _snapshot(alice, evidence_storage)
    response = alice_api.delete("/api/v1/account/", {"password": "alice-password-1"}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "case_on_hold"
    assert held.title in error["message"] and REASON in error["message"]
    assert alice_api.get("/api/v1/cases/").status_code == 200
    assert _snapshot(alice, evidence_storage) == before


def test_the_incident_page_shows_the_refusal(client, alice, held):
    client.force_login(alice)
    incident = held.incidents.first()
    response = client.post(f"/incidents/{incident.pk}/delete/", follow=True)
    assert REASON in response.content.decode()
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_the_case_page_shows_the_hold_and_lifting_it_allows_deletion(client, alice, held, alice_api):
    client.force_login(alice)
    page = client.get(f"/cases/{held.pk}/").content.decode()
    assert REASON in page and f"/cases/{held.pk}/release/" in page
    assert client.post(f"/cases/{held.pk}/release/", {"password": "alice-password-1"}).status_code == 302
    held.refresh_from_db()
    assert held.hold_at is None
    actions = list(AuditEvent.objects.filter(owner=alice).values_list("action", flat=True))
    assert "case.hold" in actions and "case.release" in actions
    # Lifted: deleting works again (a file the dossier lists is withdrawn, as always).
    evidence = EvidenceFile.objects.filter(incident__case=held).first()
    evidence_delete(evidence=evidence)
    assert not EvidenceFile.objects.filter(pk=evidence.pk).exists()


def test_the_hold_page_sets_a_hold_with_its_reason(client, alice, alice_case):
    client.force_login(alice)
    assert client.get(f"/cases/{alice_case.pk}/hold/").status_code == 200
    assert client.post(f"/cases/{alice_case.pk}/hold/", {"reason": ""}).status_code == 200
    assert client.post(f"/cases/{alice_case.pk}/hold/", {"reason": REASON}).status_code == 302
    alice_case.refresh_from_db()
    assert alice_case.hold_reason == REASON and alice_case.hold_at is not None


def test_the_dossier_says_the_case_is_on_hold(alice, held):
    dossier = dossier_create(owner=alice, case=held, addressee="alipay")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    on_hold = json.loads(dossier.manifest)["dossier"]["on_hold"]
    assert on_hold["reason"] == REASON and on_hold["since"]
    case_release(case=held, password="alice-password-1")
    again = dossier_create(owner=alice, case=held, addressee="alipay")
    again.refresh_from_db()
    assert json.loads(again.manifest)["dossier"]["on_hold"] is None


def test_another_users_case_cannot_be_held(bob_api, alice_case):
    response = bob_api.post(f"/api/v1/cases/{alice_case.pk}/hold", {"reason": "x"}, format="json")
    assert response.status_code == 404


def test_a_hold_needs_a_reason(alice):
    case = Case.objects.create(owner=alice, title="t", creditor="other")
    with pytest.raises(ValidationError):
        case_hold(case=case, reason="  ")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")
def test_the_dossier_of_a_case_on_hold_says_so(alice, alice_case, alice_incident, tmp_path):
    case_hold(case=alice_case, reason="诉讼进行中")
    dossier = dossier_create(owner=alice, case=alice_case, addressee="alipay", language="zh-hans")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    path = tmp_path / "d.pdf"
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        path.write_bytes(handle.read())
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = "".join(text.split())
    assert "处于保全状态" in flat and "诉讼进行中" in flat


# --- lifting a hold needs the password (issue 25) ----------------------------------------------------


def test_the_api_lifts_a_hold_only_with_the_password(alice_api, held):
    url = f"/api/v1/cases/{held.pk}/hold"
    for body in ({}, {"password": ""}, {"password": "not-her-password"}):
        refused = alice_api.delete(url, body, format="json")
        assert refused.status_code == 403, refused.content
        error = refused.json()["error"]
        assert error["code"] in ("password_required", "wrong_password") and error["message"]
        held.refresh_from_db()
        assert held.hold_at is not None and held.hold_reason == REASON
    lifted = alice_api.delete(url, {"password": "alice-password-1"}, format="json")
    assert lifted.status_code == 200, lifted.content
    assert lifted.json()["on_hold"] is False
    held.refresh_from_db()
    assert held.hold_at is None


def test_the_release_page_asks_for_the_password_and_keeps_the_hold_without_it(client, alice, held):
    client.force_login(alice)
    page = client.get(f"/cases/{held.pk}/release/")
    assert page.status_code == 200 and 'type="password"' in page.content.decode()
    assert client.post(f"/cases/{held.pk}/release/", {}).status_code == 200
    assert client.post(f"/cases/{held.pk}/release/", {"password": "wrong"}).status_code == 200
    held.refresh_from_db()
    assert held.hold_at is not None
    assert client.post(f"/cases/{held.pk}/release/", {"password": "alice-password-1"}).status_code == 302
    held.refresh_from_db()
    assert held.hold_at is None


def test_guessing_the_password_through_the_hold_is_throttled(alice_api, held, settings):
    settings.LOGIN_RATE = "3/10min"
    url = f"/api/v1/cases/{held.pk}/hold"
    statuses = [
        alice_api.delete(url, {"password": f"guess-{n}"}, format="json").status_code for n in range(5)
    ]
    assert statuses == [403, 403, 403, 429, 429]
    held.refresh_from_db()
    assert held.hold_at is not None
