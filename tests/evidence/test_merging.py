"""One real call, one row; never an invented time (issue 11, items 2 and 3).

Whatever arrives first — the recordings of calls or the phone's call log — each real call is one
incident carrying both sources, and the counts the rules and dossiers print are those of a clean
single import. A file whose time cannot be read is "time unknown", never the upload time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.integrity import verify_store
from evidence.models import Incident
from evidence.services import case_create
from ledger.models import AuditEvent
from tests.conftest import amr_bytes, calls_xml

SHANGHAI = ZoneInfo("Asia/Shanghai")
COLLECTOR = "17012345678"
BASE = datetime(2026, 3, 15, 21, 40, tzinfo=SHANGHAI)


def real_calls():
    """Nine calls from one collector: five in one night (four after 22:00), two the next evening, and
    two missed calls half a minute apart (two calls, not one)."""
    night = [BASE + timedelta(minutes=m) for m in (0, 25, 47, 70, 95)]  # 21:40 … 23:15
    calls = [(COLLECTOR, at, 1, 60 + i * 10, "催收") for i, at in enumerate(night)]
    calls.append(("+86 170 1234 5678", BASE + timedelta(hours=20), 1, 120, ""))
    calls.append((COLLECTOR, BASE + timedelta(hours=21), 1, 45, ""))
    calls.append((COLLECTOR, BASE + timedelta(hours=22), 3, 0, ""))
    calls.append((COLLECTOR, BASE + timedelta(hours=22, seconds=30), 3, 0, ""))
    return calls


def recording_names():
    """MIUI-style names for the answered calls: the recording starts a few seconds after the call."""
    names = []
    for number, at, kind, _duration, _name in real_calls():
        if kind != 1:
            continue
        start = (at + timedelta(seconds=3)).astimezone(SHANGHAI)
        digits = number.replace(" ", "").replace("+86", "")
        names.append(f"通话录音@催收({digits})_{start:%Y%m%d%H%M%S}.amr")
    return names


def upload_recordings(api, case):
    for index, name in enumerate(recording_names()):
        response = api.post(
            "/api/v1/evidence/",
            {"case": case.pk, "file": SimpleUploadedFile(name, amr_bytes(frames=200 + index))},
            format="multipart",
        )
        assert response.status_code == 201, response.content


def import_calls(api, case, name="calls.xml"):
    response = api.post(
        "/api/v1/imports/",
        {"case": case.pk, "file": SimpleUploadedFile(name, calls_xml(real_calls()))},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()


def clean_summary(alice, api):
    clean = case_create(owner=alice, title="clean", creditor="huabei")
    import_calls(api, clean)
    clean.refresh_from_db()
    return clean.violation_summary, clean.incidents.filter(kind="call").count()


def calls_of(case):
    return list(Incident.objects.filter(case=case, kind="call").order_by("occurred_at"))


@pytest.mark.parametrize(
    "recordings_first", [True, False], ids=["recordings-then-log", "log-then-recordings"]
)
def test_each_real_call_is_one_incident_with_both_sources(alice, alice_api, alice_case, recordings_first):
    if recordings_first:
        upload_recordings(alice_api, alice_case)
        result = import_calls(alice_api, alice_case)
        assert result["linked"] == len(recording_names()) and result["created"] == 9 - len(recording_names())
    else:
        import_calls(alice_api, alice_case)
        upload_recordings(alice_api, alice_case)
    calls = calls_of(alice_case)
    assert len(calls) == 9  # the two missed calls 30 s apart stay two calls
    # Every answered call carries its recording and the call log; the times are the log's own.
    log_times = sorted(at for _n, at, _k, _d, _c in real_calls())
    assert [c.occurred_at for c in calls] == log_times
    answered = [c for c in calls if c.answered]
    assert len(answered) == len(recording_names())
    for call in answered:
        kinds = {s["kind"] for s in alice_api.get(f"/api/v1/incidents/{call.pk}/").json()["sources"]}
        assert kinds == {"recording", "import"}, call
        assert call.evidence.count() == 1
        assert call.source_evidence_id is not None  # the kept export backs it, either way round
        assert call.amended_at is None  # a join with the phone's log is not an amendment by the person
    expected_summary, expected_calls = clean_summary(alice, alice_api)
    assert expected_calls == 9
    alice_case.refresh_from_db()
    assert alice_case.violation_summary == expected_summary
    assert alice_case.violation_summary.get("CN-TIME-1") == 4  # 22:05, 22:27, 22:50, 23:15
    # Importing the same log again links nothing more and creates nothing.
    again = import_calls(alice_api, alice_case, name="calls-again.xml")
    assert (again["created"], again["linked"], again["duplicates"]) == (0, 0, 9)
    assert verify_store(owner=alice).problems == []


def test_the_merge_is_audited_and_the_import_preview_and_response_count_linked(alice, alice_api, alice_case):
    upload_recordings(alice_api, alice_case)
    result = import_calls(alice_api, alice_case)
    assert result["linked"] == len(recording_names())
    # One audit link for the import's joins, holding each incident's statement after it.
    (merge,) = AuditEvent.objects.filter(owner=alice, action="import.merge")
    merged = merge.payload["merged"]
    assert len(merged) == len(recording_names())
    assert all(m["source"]["kind"] == "import" and "occurred_at" in m["snapshot"] for m in merged)
    # Recordings filed under calls already imported: one link each.
    upload_recordings(alice_api, case_create(owner=alice, title="other", creditor="huabei"))
    other = Incident.objects.filter(case__title="other")
    assert other.count() == len(recording_names())  # no log there: each recording is its own call


def test_the_import_preview_says_how_many_entries_will_be_linked(client, alice, alice_api, alice_case):
    upload_recordings(alice_api, alice_case)
    client.force_login(alice)
    response = client.post(
        f"/cases/{alice_case.pk}/import/", {"file": SimpleUploadedFile("calls.xml", calls_xml(real_calls()))}
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    linked = len(recording_names())
    assert 'id="will-link"' in page and f"{linked} " in page.split('id="will-link"')[1][:40]
    assert Incident.objects.filter(case=alice_case, kind="call").count() == linked  # nothing imported yet


def test_the_same_call_in_two_exports_that_write_the_number_differently_is_one_row(alice_api, alice_case):
    at = BASE + timedelta(hours=1)
    first = alice_api.post(
        "/api/v1/imports/",
        {"case": alice_case.pk, "file": SimpleUploadedFile("a.xml", calls_xml([(COLLECTOR, at, 1, 30, "")]))},
        format="multipart",
    ).json()
    second = alice_api.post(
        "/api/v1/imports/",
        {
            "case": alice_case.pk,
            "file": SimpleUploadedFile("b.xml", calls_xml([("+86 170-1234-5678", at, 1, 30, "")])),
        },
        format="multipart",
    ).json()
    assert (first["created"], second["created"], second["linked"]) == (1, 0, 1)
    assert Incident.objects.filter(case=alice_case, kind="call").count() == 1


def test_an_api_entry_for_a_call_already_logged_returns_it(alice_api, alice_case):
    alice_api.post(
        "/api/v1/imports/",
        {
            "case": alice_case.pk,
            "file": SimpleUploadedFile("c.xml", calls_xml([(COLLECTOR, BASE, 1, 300, "")])),
        },
        format="multipart",
    )
    call = Incident.objects.get(case=alice_case, kind="call")
    body = {
        "case": alice_case.pk,
        "kind": "call",
        "occurred_at": (BASE + timedelta(seconds=40)).isoformat(),
        "counterpart_number": "+86 17012345678",
        "flags": ["threat"],
    }
    response = alice_api.post("/api/v1/incidents/", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == call.pk
    assert [s["kind"] for s in response.json()["sources"]] == ["import", "manual"]
    # A missed call a minute after the first ended is another call.
    later = {**body, "occurred_at": (BASE + timedelta(minutes=6)).isoformat()}
    assert alice_api.post("/api/v1/incidents/", later, format="json").status_code == 201
    assert Incident.objects.filter(case=alice_case, kind="call").count() == 2


def test_a_hand_typed_call_like_one_already_logged_asks_first(client, alice, alice_case, alice_api):
    alice_api.post(
        "/api/v1/imports/",
        {
            "case": alice_case.pk,
            "file": SimpleUploadedFile("c.xml", calls_xml([(COLLECTOR, BASE, 1, 60, "")])),
        },
        format="multipart",
    )
    client.force_login(alice)
    url = f"/cases/{alice_case.pk}/log/call/"
    data = {"occurred_at": "2026-03-15T21:40", "counterpart_number": COLLECTOR}
    response = client.post(url, data)
    assert response.status_code == 200
    assert 'id="possible-duplicate"' in response.content.decode()
    assert Incident.objects.filter(case=alice_case, kind="call").count() == 1
    response = client.post(url, {**data, "log_anyway": "1"})
    assert response.status_code == 302
    assert Incident.objects.filter(case=alice_case, kind="call").count() == 2


# --- time unknown ---------------------------------------------------------------------------------


def test_a_recording_without_a_time_is_time_unknown_and_triggers_no_time_rule(alice, alice_api, alice_case):
    response = alice_api.post(
        "/api/v1/evidence/",
        {"case": alice_case.pk, "file": SimpleUploadedFile("录音 3.amr", amr_bytes())},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    incident_id = response.json()["incident"]
    body = alice_api.get(f"/api/v1/incidents/{incident_id}/").json()
    assert body["occurred_at"] is None and body["time_status"] == "unknown"
    assert body["violations"] == []
    # Set its time at night: the rules are evaluated again.
    night = datetime(2026, 3, 16, 23, 10, tzinfo=SHANGHAI).isoformat()
    patched = alice_api.patch(f"/api/v1/incidents/{incident_id}/", {"occurred_at": night}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["time_status"] == "known"
    assert "CN-TIME-1" in [v["rule"] for v in patched.json()["violations"]]
    assert AuditEvent.objects.filter(action="incident.amend", subject_id=str(incident_id)).exists()
    # And a time, once known, cannot be made unknown again.
    back = alice_api.patch(f"/api/v1/incidents/{incident_id}/", {"occurred_at": None}, format="json")
    assert back.status_code == 400


def test_an_unknown_time_is_listed_to_confirm_and_printed_as_unknown(alice, alice_api, alice_case, client):
    alice_api.post(
        "/api/v1/evidence/",
        {"case": alice_case.pk, "file": SimpleUploadedFile("voice memo.amr", amr_bytes())},
        format="multipart",
    )
    incident = Incident.objects.get(case=alice_case)
    client.force_login(alice)
    case_page = client.get(f"/cases/{alice_case.pk}/").content.decode()
    assert 'id="time-to-confirm"' in case_page and f"/incidents/{incident.pk}/" in case_page
    detail = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "时间未知" in detail
    # The edit form shows no invented time.
    edit = client.get(f"/incidents/{incident.pk}/edit/").content.decode()
    assert 'name="occurred_at"' in edit and 'name="occurred_at" value=' not in edit.replace(
        'name="occurred_at" value=""', ""
    )
