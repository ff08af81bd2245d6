"""Issue 30: a case shared with a helper — roles, isolation, the access log on the owner's chain."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from evidence.models import CaseShare, Incident
from evidence.services import case_create
from ledger.models import AuditEvent
from tests.conftest import api_client_for, wav_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol(django_user_model):
    user = django_user_model.objects.create_user("carol", password="carol-password-1")
    from accounts.services import profile_for

    profile = profile_for(user)
    profile.display_name = "王律师"
    profile.save()
    return user


@pytest.fixture
def carol_api(carol):
    return api_client_for(carol)


@pytest.fixture
def other_case(alice):
    return case_create(owner=alice, title="白条", creditor="baitiao")


@pytest.fixture
def recording(alice_api, alice_incident):
    data = wav_bytes(1.0)
    response = alice_api.post(
        f"/api/v1/incidents/{alice_incident.pk}/evidence/",
        {"file": io.BytesIO(data)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"], data


def share(alice_api, case, role, **extra):
    response = alice_api.post(f"/api/v1/cases/{case.pk}/shares/", {"role": role, **extra}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert {"id", "code", "url", "role", "expires_at"} <= set(body)
    assert body["role"] == role and body["code"] in body["url"]
    return body


def accept(api, code):
    return api.post("/api/v1/shares/accept", {"code": code}, format="json")


def dossier_for(api, case):
    response = api.post("/api/v1/dossiers/", {"case": case.pk, "addressee": "alipay"}, format="json")
    assert response.status_code in (201, 202), response.content
    return response.json()


def test_read_role_reads_everything_writes_nothing_and_loses_it_all_on_revocation(
    alice_api, carol_api, alice_case, other_case, alice_incident, recording
):
    evidence_id, data = recording
    issued = dossier_for(alice_api, alice_case)
    body = share(alice_api, alice_case, "read", note="法律援助")
    # Before accepting the helper sees nothing.
    assert carol_api.get(f"/api/v1/cases/{alice_case.pk}/").status_code == 404
    accepted = accept(carol_api, body["code"])
    assert accepted.status_code == 200
    assert {k: accepted.json()[k] for k in ("case", "role")} == {"case": alice_case.pk, "role": "read"}

    listed = carol_api.get("/api/v1/cases/").json()["results"]
    assert [(c["id"], c["role"]) for c in listed] == [(alice_case.pk, "read")]
    assert {c["role"] for c in alice_api.get("/api/v1/cases/").json()["results"]} == {"owner"}
    assert carol_api.get(f"/api/v1/cases/{alice_case.pk}/").json()["title"] == alice_case.title
    incidents = carol_api.get(f"/api/v1/incidents/?case={alice_case.pk}").json()["results"]
    assert [i["id"] for i in incidents] == [alice_incident.pk]
    assert incidents[0]["entered_by"] == "owner"
    assert carol_api.get(f"/api/v1/incidents/{alice_incident.pk}/").status_code == 200
    assert (
        carol_api.get(f"/api/v1/evidence/{evidence_id}/").json()["sha256"] == hashlib.sha256(data).hexdigest()
    )
    download = carol_api.get(f"/api/v1/evidence/{evidence_id}/download")
    assert b"".join(download.streaming_content) == data
    assert carol_api.get(f"/api/v1/dossiers/{issued['id']}/").json()["status"] == "ready"
    pdf = carol_api.get(f"/api/v1/dossiers/{issued['id']}/pdf")
    assert hashlib.sha256(b"".join(pdf.streaming_content)).hexdigest() == issued["pdf_sha256"]

    # Every write → 403, and nothing changes.
    before = Incident.objects.count()
    writes = [
        carol_api.post(
            "/api/v1/incidents/",
            {"case": alice_case.pk, "kind": "call", "occurred_at": "2026-03-01T22:00:00+08:00"},
            format="json",
        ),
        carol_api.patch(f"/api/v1/incidents/{alice_incident.pk}/", {"description": "x"}, format="json"),
        carol_api.post(
            f"/api/v1/incidents/{alice_incident.pk}/evidence/",
            {"file": io.BytesIO(wav_bytes(0.5))},
            format="multipart",
        ),
        carol_api.post("/api/v1/dossiers/", {"case": alice_case.pk, "addressee": "alipay"}, format="json"),
        carol_api.post(f"/api/v1/cases/{alice_case.pk}/shares/", {"role": "read"}, format="json"),
        carol_api.post(f"/api/v1/cases/{alice_case.pk}/hold", {"reason": "诉讼"}, format="json"),
        carol_api.post(
            "/api/v1/notices/",
            {"case": alice_case.pk, "allowed_channel": "sms", "allowed_hours": "09:00-20:00"},
            format="json",
        ),
    ]
    assert [w.status_code for w in writes] == [403] * len(writes), [w.content for w in writes]
    assert all(w.json()["error"]["code"] == "forbidden" for w in writes)
    assert Incident.objects.count() == before
    alice_case.refresh_from_db()
    assert alice_case.hold_at is None and alice_case.shares.count() == 1

    # The owner's other case: 404 throughout.
    assert carol_api.get(f"/api/v1/cases/{other_case.pk}/").status_code == 404
    assert carol_api.get(f"/api/v1/incidents/?case={other_case.pk}").status_code == 404

    # Revoked: every read → 404, as for a stranger.
    assert alice_api.delete(f"/api/v1/shares/{body['id']}/").status_code == 204
    for url in (
        f"/api/v1/cases/{alice_case.pk}/",
        f"/api/v1/incidents/?case={alice_case.pk}",
        f"/api/v1/incidents/{alice_incident.pk}/",
        f"/api/v1/evidence/{evidence_id}/",
        f"/api/v1/evidence/{evidence_id}/download",
        f"/api/v1/dossiers/{issued['id']}/",
        f"/api/v1/dossiers/{issued['id']}/pdf",
    ):
        assert carol_api.get(url).status_code == 404, url
    assert carol_api.get("/api/v1/cases/").json()["results"] == []
    states = {
        s["id"]: s["state"] for s in alice_api.get(f"/api/v1/cases/{alice_case.pk}/shares/").json()["results"]
    }
    assert states == {body["id"]: "revoked"}


def test_assist_role_logs_and_drafts_but_only_the_owner_issues(
    alice_api, carol_api, alice_case, alice_incident, alice
):
    body = share(alice_api, alice_case, "assist")
    assert accept(carol_api, body["code"]).json()["role"] == "assist"
    logged = carol_api.post(
        "/api/v1/incidents/",
        {
            "case": alice_case.pk,
            "kind": "call",
            "occurred_at": "2026-03-02T23:10:00+08:00",
            "counterpart_number": "17000000000",
            "description": "律师记录：深夜来电",
        },
        format="json",
    )
    assert logged.status_code == 201, logged.content
    assert logged.json()["entered_by"] == "王律师"
    incident = Incident.objects.get(pk=logged.json()["id"])
    assert incident.entered_by.username == "carol" and incident.case_id == alice_case.pk
    listed = {
        i["id"]: i["entered_by"]
        for i in alice_api.get(f"/api/v1/incidents/?case={alice_case.pk}").json()["results"]
    }
    assert listed == {alice_incident.pk: "owner", incident.pk: "王律师"}

    draft = dossier_for(carol_api, alice_case)
    assert draft["status"] == "draft" and draft["drafted_by"] == "王律师"
    assert carol_api.get(f"/api/v1/dossiers/{draft['id']}/pdf").status_code == 404  # nothing built yet
    # Issuing, notices, deletion of the account's data, export of the case, hold, further sharing: the owner's.
    assert carol_api.post(f"/api/v1/dossiers/{draft['id']}/issue").status_code == 403
    assert carol_api.post(f"/api/v1/dossiers/{draft['id']}/retry").status_code == 403
    assert (
        carol_api.post(
            "/api/v1/notices/",
            {"case": alice_case.pk, "allowed_channel": "sms", "allowed_hours": "09:00-20:00"},
            format="json",
        ).status_code
        == 403
    )
    assert (
        carol_api.post(f"/api/v1/cases/{alice_case.pk}/hold", {"reason": "诉讼"}, format="json").status_code
        == 403
    )
    assert (
        carol_api.delete(f"/api/v1/cases/{alice_case.pk}/hold", {"password": "x"}, format="json").status_code
        == 403
    )
    assert (
        carol_api.post(f"/api/v1/cases/{alice_case.pk}/shares/", {"role": "read"}, format="json").status_code
        == 403
    )
    assert carol_api.get(f"/api/v1/cases/{alice_case.pk}/access-log/").status_code == 403
    assert carol_api.delete(f"/api/v1/shares/{body['id']}/").status_code == 403

    issued = alice_api.post(f"/api/v1/dossiers/{draft['id']}/issue")
    assert issued.status_code in (201, 202), issued.content
    done = alice_api.get(f"/api/v1/dossiers/{draft['id']}/").json()
    assert done["status"] == "ready" and len(done["seal"]) == 64
    assert alice_api.post(f"/api/v1/dossiers/{draft['id']}/issue").status_code == 400


def test_access_log_lists_each_action_in_order_and_the_chain_notices_a_removed_one(
    alice_api, carol_api, alice_case, alice_incident, recording, alice
):
    evidence_id, _data = recording
    body = share(alice_api, alice_case, "read")
    accept(carol_api, body["code"])
    carol_api.get(f"/api/v1/cases/{alice_case.pk}/")
    carol_api.get(f"/api/v1/incidents/{alice_incident.pk}/")
    carol_api.get(f"/api/v1/evidence/{evidence_id}/download")
    log = alice_api.get(f"/api/v1/cases/{alice_case.pk}/access-log/")
    assert log.status_code == 200
    rows = log.json()["results"]
    assert [r["action"] for r in rows] == ["download", "view_incident", "view_case"]
    assert {r["who"] for r in rows} == {"王律师"}
    assert all({"who", "action", "object", "at"} <= set(r) for r in rows)
    assert alice_incident.ref and alice_incident.ref in rows[1]["object"]
    assert rows[0]["at"] >= rows[1]["at"] >= rows[2]["at"]

    call_command("verify_evidence", stdout=io.StringIO())  # intact
    AuditEvent.objects.filter(owner=alice, action="helper.view_incident").delete()
    with pytest.raises(CommandError):
        call_command("verify_evidence", stdout=io.StringIO())


def test_expired_used_and_wrong_codes_get_clear_errors(alice_api, carol_api, bob_api, alice_case):
    body = share(alice_api, alice_case, "read")
    assert accept(carol_api, body["code"]).status_code == 200
    reused = accept(bob_api, body["code"])
    assert reused.status_code == 400
    assert "already been used" in str(reused.json()) or "已被使用" in str(reused.json())
    wrong = accept(bob_api, "ABCD-EFGH-JKMN")
    assert wrong.status_code == 400 and "code" in wrong.json()["error"]["fields"]
    short = accept(bob_api, "123")
    assert short.status_code == 400
    expired = share(alice_api, alice_case, "read")
    CaseShare.objects.filter(pk=expired["id"]).update(expires_at=timezone.now() - timedelta(minutes=1))
    late = accept(bob_api, expired["code"])
    assert late.status_code == 400
    assert "expired" in str(late.json()) or "过期" in str(late.json())
    assert bob_api.get(f"/api/v1/cases/{alice_case.pk}/").status_code == 404
    past = alice_api.post(
        f"/api/v1/cases/{alice_case.pk}/shares/",
        {"role": "read", "expires_at": "2020-01-01T00:00:00+08:00"},
        format="json",
    )
    assert past.status_code == 400
    bad_role = alice_api.post(f"/api/v1/cases/{alice_case.pk}/shares/", {"role": "admin"}, format="json")
    assert bad_role.status_code == 400
    # A share that expires after acceptance ends access too.
    CaseShare.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert carol_api.get(f"/api/v1/cases/{alice_case.pk}/").status_code == 404


def test_a_hold_ends_no_share_and_deleting_the_account_ends_every_share(
    alice_api, carol_api, alice_case, alice
):
    body = share(alice_api, alice_case, "read")
    accept(carol_api, body["code"])
    assert (
        alice_api.post(f"/api/v1/cases/{alice_case.pk}/hold", {"reason": "诉讼中"}, format="json").status_code
        == 200
    )
    assert carol_api.get(f"/api/v1/cases/{alice_case.pk}/").status_code == 200
    alice_api.delete(f"/api/v1/cases/{alice_case.pk}/hold", {"password": "alice-password-1"}, format="json")
    response = alice_api.delete("/api/v1/account/", {"password": "alice-password-1"}, format="json")
    assert response.status_code == 204, response.content
    assert carol_api.get("/api/v1/cases/").json()["results"] == []
    assert CaseShare.objects.count() == 0


@pytest.mark.skipif(__import__("shutil").which("pdftotext") is None, reason="poppler-utils is not installed")
def test_the_dossier_labels_the_helpers_entry_as_theirs(
    alice_api, carol_api, alice_case, alice_incident, tmp_path
):
    import subprocess

    accept(carol_api, share(alice_api, alice_case, "assist")["code"])
    logged = carol_api.post(
        "/api/v1/incidents/",
        {
            "case": alice_case.pk,
            "kind": "sms",
            "occurred_at": "2024-03-16T09:00:00+08:00",
            "description": "协助人代登记",
        },
        format="json",
    )
    assert logged.status_code == 201
    issued = dossier_for(alice_api, alice_case)
    pdf = tmp_path / "dossier.pdf"
    pdf.write_bytes(b"".join(alice_api.get(f"/api/v1/dossiers/{issued['id']}/pdf").streaming_content))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "协助人登记" in text  # the helper's entry
    assert "本人登记" in text  # the owner's own entry beside it


@pytest.mark.skipif(__import__("shutil").which("pdftotext") is None, reason="poppler-utils is not installed")
def test_a_helper_named_as_agent_is_printed_on_the_letter_with_their_contact(
    alice_api, carol_api, carol, alice_case, alice_incident, tmp_path
):
    import subprocess

    from accounts.services import profile_for
    from evidence import shares as sharing

    profile = profile_for(carol)
    profile.phone = "13900001111"
    profile.save()
    body = share(alice_api, alice_case, "read")
    accept(carol_api, body["code"])

    def letter_text() -> str:
        issued = dossier_for(alice_api, alice_case)
        pdf = tmp_path / f"dossier-{issued['id']}.pdf"
        pdf.write_bytes(b"".join(alice_api.get(f"/api/v1/dossiers/{issued['id']}/pdf").streaming_content))
        return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout

    assert "代理人" not in letter_text()  # sharing alone names nobody
    sharing.share_set_agent(share=CaseShare.objects.get(pk=body["id"]), agent=True)
    text = letter_text()
    assert "代理人" in text and "王律师" in text and "13900001111" in text
    alice_api.delete(f"/api/v1/shares/{body['id']}/")
    assert "王律师" not in letter_text()  # the share ended: no longer named
