"""Only the person changes what they typed (issue 27, acceptance 3): a merge keeps a typed time and
shows the other source's beside it, choosing is an audited amendment; the person's own actions (a
notice sent, an export imported) are no contacts; a visit recorded and then described is one visit."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from complaints.notices import notice_create, notice_mark_sent
from evidence.models import Incident
from evidence.selectors import incident_timeline, kind_counts
from ledger.models import AuditEvent
from tests.conftest import calls_xml, png_bytes, wav_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")
COLLECTOR = "17012345678"
TYPED = datetime(2026, 3, 15, 1, 32, 34, tzinfo=SHANGHAI)
LOGGED = datetime(2026, 3, 15, 1, 30, 0, tzinfo=SHANGHAI)


def import_log(api, case, calls, name="calls.xml"):
    response = api.post(
        "/api/v1/imports/",
        {"case": case.pk, "file": SimpleUploadedFile(name, calls_xml(calls))},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()


def counts_on_case_page(client, case) -> str:
    return client.get(f"/cases/{case.pk}/").content.decode()


def test_an_import_never_changes_a_typed_time_and_the_person_chooses(client, alice, alice_api, alice_case):
    typed = alice_api.post(
        "/api/v1/incidents/",
        {
            "case": alice_case.pk,
            "kind": "call",
            "occurred_at": TYPED.isoformat(),
            "counterpart_number": COLLECTOR,
        },
        format="json",
    ).json()
    # The phone's log holds the same call (it lasted five minutes) at 01:30:00.
    result = import_log(alice_api, alice_case, [(COLLECTOR, LOGGED, 1, 300, "")])
    assert result["linked"] == 1 and result["created"] == 0

    incident = Incident.objects.get(pk=typed["id"])
    assert incident.occurred_at == TYPED  # unchanged
    assert incident.conflicts == [
        {
            "field": "occurred_at",
            "value": "2026-03-14T17:30:00+00:00",
            "source": "import",
            "ref": "calls.xml #1 (incoming)",
        }
    ]
    api_view = alice_api.get(f"/api/v1/incidents/{incident.pk}/").json()
    assert api_view["occurred_at"].startswith("2026-03-15T01:32:34")
    assert api_view["conflicts"][0]["field"] == "occurred_at"

    # The page shows both, side by side.
    client.force_login(alice)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "本人登记 2026-03-15 01:32:34 · 手机通话记录（来电）第1条 2026-03-15 01:30:00" in page

    # Choosing the log's time is an amendment in the history, and the difference is settled.
    response = client.post(f"/incidents/{incident.pk}/choose/", {"conflict": "0", "choice": "other"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.occurred_at == LOGGED and incident.conflicts == [] and incident.amended_at
    amend = AuditEvent.objects.filter(owner=alice, action="incident.amend", subject_id=str(incident.pk)).get()
    assert amend.payload["before"]["occurred_at"] == "2026-03-14T17:32:34+00:00"
    assert amend.payload["after"]["occurred_at"] == "2026-03-14T17:30:00+00:00"
    assert amend.payload["resolved"][0]["source"] == "import"
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert (
        'id="conflicts"' not in page and "2026年3月15日 01:32:34" in page
    )  # the history keeps the typed time


def test_keeping_the_typed_value_through_the_api_is_audited_too(alice, alice_api, alice_case):
    typed = alice_api.post(
        "/api/v1/incidents/",
        {
            "case": alice_case.pk,
            "kind": "call",
            "occurred_at": TYPED.isoformat(),
            "counterpart_number": COLLECTOR,
        },
        format="json",
    ).json()
    import_log(alice_api, alice_case, [(COLLECTOR, LOGGED, 1, 300, "")])
    response = alice_api.patch(
        f"/api/v1/incidents/{typed['id']}/", {"occurred_at": TYPED.isoformat()}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["conflicts"] == []
    assert response.json()["occurred_at"].startswith("2026-03-15T01:32:34")
    amend = AuditEvent.objects.get(owner=alice, action="incident.amend", subject_id=str(typed["id"]))
    assert amend.payload["resolved"][0]["value"] == "2026-03-14T17:30:00+00:00"


def test_a_call_typed_to_the_minute_takes_no_conflict_from_its_own_minute(alice_api, alice_case):
    typed = alice_api.post(
        "/api/v1/incidents/",
        {
            "case": alice_case.pk,
            "kind": "call",
            "occurred_at": "2026-03-15T01:30:00+08:00",
            "counterpart_number": COLLECTOR,
        },
        format="json",
    ).json()
    import_log(alice_api, alice_case, [(COLLECTOR, LOGGED.replace(second=41), 1, 60, "")])
    incident = Incident.objects.get(pk=typed["id"])
    assert incident.conflicts == [] and incident.occurred_at == LOGGED


def test_a_notice_sent_and_an_export_imported_change_no_count(client, alice, alice_api, alice_case):
    client.force_login(alice)
    import_log(alice_api, alice_case, [(COLLECTOR, LOGGED, 1, 300, "")])
    notice = notice_create(owner=alice, case=alice_case, allowed_channel="app_message")
    notice_mark_sent(
        notice=notice,
        sent_at=timezone.now(),
        channel="online_chat",
        proof=SimpleUploadedFile("Screenshot_20260316-100000.png", png_bytes(size=(300, 600))),
    )
    # Both kept their files under an entry of the case ...
    assert Incident.objects.filter(case=alice_case).count() == 3
    # ... but the contacts are the one call: in the API, the counts and the timeline.
    listed = alice_api.get(f"/api/v1/incidents/?case={alice_case.pk}").json()["results"]
    assert [i["kind"] for i in listed] == ["call"]
    page = counts_on_case_page(client, alice_case)
    assert "电话 <strong>1</strong>" in page and "信函 <strong>0</strong>" in page
    assert "其他 <strong>0</strong>" in page
    alice_case.refresh_from_db()
    assert {kind: n for kind, _label, n in kind_counts(case=alice_case) if n} == {"call": 1}
    assert [i.kind for i in incident_timeline(case=alice_case)] == ["call"]
    # The person's own actions are the case's activity.
    activity = alice_api.get(f"/api/v1/cases/{alice_case.pk}/activity/").json()["results"]
    assert {row["kind"] for row in activity} == {"import", "notice", "notice_sent"}
    assert all(row["at"] and row["what"] for row in activity)
    # No rule judges them.
    assert (
        not Incident.objects.filter(case=alice_case).exclude(kind="call").exclude(violation_rules="").exists()
    )


def test_a_visit_recorded_offline_then_described_in_the_form_is_one_visit(client, alice, alice_case):
    client.force_login(alice)
    recording = "3f1c2a4e-0000-4000-8000-000000000001"
    # The details form under the recorder is saved first (the recording still waits on the phone).
    response = client.post(
        f"/cases/{alice_case.pk}/log/visit/",
        {
            "occurred_at": "2026-03-15T10:00",
            "visitors": "2",
            "description": "两人上门",
            "recording_id": recording,
        },
    )
    assert response.status_code == 302
    # Then the recording arrives.
    response = client.post(
        f"/cases/{alice_case.pk}/record-visit/",
        {
            "file": SimpleUploadedFile("visit.wav", wav_bytes()),
            "elapsed_seconds": "2",
            "recording_id": recording,
        },
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201, response.content
    (visit,) = Incident.objects.filter(case=alice_case, kind="visit")
    assert visit.visitors == 2 and visit.evidence.count() == 1


def test_a_recording_sent_first_is_completed_by_the_form(client, alice, alice_case):
    client.force_login(alice)
    recording = "3f1c2a4e-0000-4000-8000-000000000002"
    response = client.post(
        f"/cases/{alice_case.pk}/record-visit/",
        {
            "file": SimpleUploadedFile("visit.wav", wav_bytes()),
            "elapsed_seconds": "2",
            "recording_id": recording,
        },
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201
    response = client.post(
        f"/cases/{alice_case.pk}/log/visit/",
        {"occurred_at": "2026-03-15T10:00", "visitors": "3", "recording_id": recording},
    )
    assert response.status_code == 302
    (visit,) = Incident.objects.filter(case=alice_case, kind="visit")
    assert visit.visitors == 3 and visit.evidence.count() == 1
    # Without the recorder's id, a second visit is a second visit.
    client.post(f"/cases/{alice_case.pk}/log/visit/", {"occurred_at": "2026-03-15T12:00", "visitors": "1"})
    assert Incident.objects.filter(case=alice_case, kind="visit").count() == 2
