"""Bad input never answers 500 and never imports wrong (issue 10, item 10): implausible dates and
odd digits in phone exports, NaN/infinite WebM durations, broken visit-recorder fields, malformed
or foreign incident ids on the move form, and off-site `next` redirects."""

from __future__ import annotations

import io
import json
import struct
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from evidence.models import EvidenceFile, Incident, PhoneImport
from ledger.models import AuditEvent
from tests.conftest import amr_bytes, calls_xml, epoch_ms

SHANGHAI = ZoneInfo("Asia/Shanghai")
MOMENT = datetime(2024, 3, 15, 22, 30, tzinfo=SHANGHAI)
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.fixture
def english(alice):
    """Messages are checked in English."""
    from accounts.services import profile_for, profile_update

    profile_update(profile=profile_for(alice), language="en")


def blobs(prefix: str = "evidence") -> list[str]:
    """Every stored file under `prefix`, through the storage API (a folder or an S3 bucket alike)."""
    try:
        folders, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return []
    found = [f"{prefix}/{name}" for name in files]
    for folder in folders:
        found += blobs(f"{prefix}/{folder}")
    return found


def post_import(api, case, data: bytes, name: str = "calls.xml", **extra):
    return api.post(
        "/api/v1/imports/",
        {"case": case.pk, "file": SimpleUploadedFile(name, data), **extra},
        format="multipart",
    )


def call_row(**attributes) -> dict:
    row = {
        "number": "17012345678",
        "duration": "95",
        "date": str(epoch_ms(MOMENT)),
        "type": "1",
        "presentation": "1",
        "contact_name": "(Unknown)",
    }
    row.update(attributes)
    return row


def raw_calls_xml(rows: list[dict]) -> bytes:
    """calls.xml with every attribute written exactly as given."""
    body = "".join("  <call " + " ".join(f'{k}="{v}"' for k, v in row.items()) + " />\n" for row in rows)
    return (
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
        f'<calls count="{len(rows)}">\n{body}</calls>\n'
    ).encode()


def far_future_ms() -> str:
    return str(epoch_ms(timezone.now() + timedelta(days=3)))


# Dates an export must never import: year 9999 (its last millisecond overflowed the local-time
# preview), epoch milliseconds 10^18 (beyond datetime), year 0001 (negative epoch), 1970 values, the
# future, and digits other than ASCII (int() reads full-width digits; str.isdigit() accepts "²").
BAD_XML_DATES = [
    pytest.param("253402300799999", id="year-9999-last-ms"),
    pytest.param("253370764800000", id="year-9999"),
    pytest.param(str(10**18), id="epoch-ms-1e18"),
    pytest.param("-62135596800000", id="year-0001"),
    pytest.param("86400000", id="1970"),
    pytest.param("0", id="zero"),
    pytest.param("", id="empty"),
    pytest.param("1e12", id="exponent"),
    pytest.param("²", id="superscript-two"),
    pytest.param(str(epoch_ms(MOMENT + timedelta(hours=1))).translate(FULL_WIDTH), id="full-width"),
    pytest.param("9" * 5000, id="5000-digits"),
    pytest.param("future", id="three-days-ahead"),
]


def _date(value: str) -> str:
    return far_future_ms() if value == "future" else value


@pytest.mark.parametrize("bad", BAD_XML_DATES)
def test_api_import_skips_and_counts_entries_with_implausible_dates(alice_api, alice_case, bad):
    data = raw_calls_xml([call_row(), call_row(date=_date(bad), number="17099999999")])
    response = post_import(alice_api, alice_case, data)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["created"] == 1 and body["implausible"] == 1
    incident = Incident.objects.get(case=alice_case, kind="call")
    assert incident.occurred_at == MOMENT and incident.counterpart_number == "17012345678"
    assert PhoneImport.objects.get().result["implausible"] == 1


@pytest.mark.parametrize("bad", BAD_XML_DATES)
def test_preview_counts_implausible_dates_and_import_skips_them(client, alice, alice_case, english, bad):
    client.force_login(alice)
    data = raw_calls_xml([call_row(), call_row(date=_date(bad), number="17099999999")])
    response = client.post(f"/cases/{alice_case.pk}/import/", {"file": SimpleUploadedFile("calls.xml", data)})
    assert response.status_code == 302, response.content
    phone_import = PhoneImport.objects.get()
    summary = phone_import.summary
    assert summary["calls"] == 1 and summary["implausible"] == 1
    assert datetime.fromisoformat(summary["first"]) == MOMENT == datetime.fromisoformat(summary["last"])
    assert [p["number"] for p in summary["counterparts"]] == ["17012345678"]
    assert client.get(f"/imports/{phone_import.pk}/").status_code == 200
    done = client.post(f"/imports/{phone_import.pk}/", {"numbers": ["17012345678"], "kinds": ["incoming"]})
    assert done.status_code == 302
    phone_import.refresh_from_db()
    assert phone_import.result["created"] == 1 and phone_import.result["implausible"] == 1
    assert Incident.objects.get(kind="call").occurred_at == MOMENT


@pytest.mark.parametrize("bad", BAD_XML_DATES)
def test_an_export_with_only_implausible_dates_is_refused_and_leaves_nothing(
    alice_api, alice_case, english, django_capture_on_commit_callbacks, bad
):
    data = raw_calls_xml([call_row(date=_date(bad)), call_row(date=_date(bad), number="17099999999")])
    with django_capture_on_commit_callbacks(execute=True):
        response = post_import(alice_api, alice_case, data)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_import"
    assert "2 entries skipped: implausible date" in error["message"]
    assert Incident.objects.count() == 0 and EvidenceFile.objects.count() == 0
    assert PhoneImport.objects.count() == 0
    assert blobs() == []  # the export this call stored is gone again


@pytest.mark.parametrize("bad", BAD_XML_DATES)
def test_the_preview_page_refuses_an_export_with_only_implausible_dates(
    client, alice, alice_case, english, bad
):
    client.force_login(alice)
    data = raw_calls_xml([call_row(date=_date(bad))])
    response = client.post(f"/cases/{alice_case.pk}/import/", {"file": SimpleUploadedFile("calls.xml", data)})
    assert response.status_code == 200
    assert "1 entry skipped: implausible date" in response.content.decode()
    assert PhoneImport.objects.count() == 0 and Incident.objects.count() == 0
    assert blobs() == []


@pytest.mark.parametrize(
    "attributes,duration",
    [
        pytest.param({"duration": "²"}, None, id="duration-superscript"),
        pytest.param({"duration": "１２３"}, None, id="duration-full-width"),
        pytest.param({"duration": "99999999999"}, None, id="duration-beyond-a-day"),
        pytest.param({"duration": "-5"}, None, id="duration-negative"),
        pytest.param({"type": "²"}, 95, id="type-superscript"),
        pytest.param({"type": "9" * 5000}, 95, id="type-5000-digits"),
    ],
)
def test_odd_digits_in_durations_and_types_import_as_unknown(alice_api, alice_case, attributes, duration):
    response = post_import(alice_api, alice_case, raw_calls_xml([call_row(**attributes)]))
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 1
    incident = Incident.objects.get(kind="call")
    assert incident.occurred_at == MOMENT and incident.duration_seconds == duration


def sms_xml(*, sms_date: str, mms_date: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
        '<smses count="2">\n'
        f'  <sms protocol="0" address="10690000123" date="{sms_date}" type="1" body="还钱" read="1" '
        'contact_name="(Unknown)" />\n'
        f'  <mms date="{mms_date}" msg_box="²" address="10690000123" contact_name="(Unknown)">\n'
        '    <parts><part seq="0" ct="text/plain" text="律师函" /></parts>\n'
        "  </mms>\n"
        "</smses>\n"
    ).encode()


@pytest.mark.parametrize("mms_date", ["²", "１７１０５１２２００", "0", "99999999999999999999"])
def test_mms_with_odd_dates_are_skipped(alice_api, alice_case, mms_date):
    data = sms_xml(sms_date=str(epoch_ms(MOMENT)), mms_date=mms_date)
    response = post_import(alice_api, alice_case, data, name="sms.xml")
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 1 and response.json()["implausible"] == 1
    assert Incident.objects.get(kind="sms").occurred_at == MOMENT


def test_sms_dates_in_epoch_seconds_are_not_stored_as_1970(alice_api, alice_case):
    # phone-formats.md: some exports write 10-digit epoch seconds in <sms> as well as <mms>.
    seconds = str(int(MOMENT.timestamp()))
    data = sms_xml(sms_date=seconds, mms_date=seconds)
    response = post_import(alice_api, alice_case, data, name="sms.xml")
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 2 and response.json()["implausible"] == 0
    assert {i.occurred_at for i in Incident.objects.filter(kind="sms")} == {MOMENT}


IMAZING_HEADER = "Call type,Date,Duration,Number,Contact,Location,Service\n"
GOOD_ROW = "Incoming,2024-03-15 22:30:00,00:01:35,17012345678,,China,Phone\n"


@pytest.mark.parametrize(
    "date",
    [
        pytest.param("9999-12-31 23:59:59", id="year-9999"),
        pytest.param("0001-01-01 00:00:00", id="year-0001"),
        pytest.param("1999-12-31 10:00:00", id="1999"),
        pytest.param("2024-02-30 10:00:00", id="impossible-day"),
        pytest.param("２０２４-03-15 10:00:00", id="full-width"),
        pytest.param("2024-03-15 1²:00:00", id="superscript"),
        pytest.param("", id="empty"),
    ],
)
def test_imazing_rows_with_implausible_dates_are_skipped(alice_api, alice_case, date):
    data = (IMAZING_HEADER + GOOD_ROW + f"Missed,{date},00:00:00,17099999999,,China,Phone\n").encode()
    response = post_import(alice_api, alice_case, data, name="calls.csv")
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 1 and response.json()["implausible"] == 1
    assert Incident.objects.get(kind="call").occurred_at == MOMENT


def test_imazing_rows_missing_cells_are_skipped(alice_api, alice_case):
    data = (IMAZING_HEADER + GOOD_ROW + "Missed\n").encode()
    response = post_import(alice_api, alice_case, data, name="calls.csv")
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 1 and response.json()["implausible"] == 1


@pytest.mark.parametrize("duration", ["0:0²:00", "００:０１:００", "-1:00", "99999999:00:00", "1:2:3:4"])
def test_imazing_odd_durations_import_as_unknown(alice_api, alice_case, duration):
    data = (IMAZING_HEADER + f"Incoming,2024-03-15 22:30:00,{duration},17012345678,,China,Phone\n").encode()
    response = post_import(alice_api, alice_case, data, name="calls.csv")
    assert response.status_code == 201, response.content
    assert Incident.objects.get(kind="call").duration_seconds is None


def test_a_csv_field_beyond_the_csv_module_limit_is_a_clear_400(
    alice_api, alice_case, english, django_capture_on_commit_callbacks
):
    data = (IMAZING_HEADER + GOOD_ROW + 'Incoming,"' + "x" * 200_000 + '",0:01,170,,,\n').encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_import(alice_api, alice_case, data, name="calls.csv")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_import"
    assert Incident.objects.count() == 0 and PhoneImport.objects.count() == 0 and blobs() == []


def test_a_refused_run_keeps_a_blob_that_evidence_already_holds(
    alice_api, alice_case, english, django_capture_on_commit_callbacks
):
    """The same export imported before is kept as evidence; a refused re-import must not delete the
    blob both share, whether an earlier import row names it or only the evidence row does."""
    data = calls_xml([("17012345678", MOMENT, 1, 95, "")])
    assert post_import(alice_api, alice_case, data).status_code == 201
    export = EvidenceFile.objects.get(content_type="application/xml")
    stored = blobs()
    with django_capture_on_commit_callbacks(execute=True):
        refused = post_import(alice_api, alice_case, data, kinds="nonsense")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid"
    assert blobs() == stored
    PhoneImport.objects.all().delete()  # only the evidence row names the blob now
    with django_capture_on_commit_callbacks(execute=True):
        refused = post_import(alice_api, alice_case, data, kinds="nonsense")
    assert refused.status_code == 400
    assert blobs() == stored
    download = alice_api.get(f"/api/v1/evidence/{export.pk}/download")
    assert download.status_code == 200 and b"".join(download.streaming_content) == data


def test_a_refused_run_of_new_bytes_removes_only_its_own_blob(
    alice_api, alice_case, english, django_capture_on_commit_callbacks
):
    first = calls_xml([("17012345678", MOMENT, 1, 95, "")])
    assert post_import(alice_api, alice_case, first).status_code == 201
    stored = blobs()
    other = calls_xml([("17012345678", MOMENT + timedelta(hours=1), 1, 95, "")])
    with django_capture_on_commit_callbacks(execute=True):
        refused = post_import(alice_api, alice_case, other, kinds="nonsense")
    assert refused.status_code == 400
    assert blobs() == stored and PhoneImport.objects.count() == 1


# --- WebM durations that are not numbers ---------------------------------------------------------


def ebml(element_id: bytes, body: bytes) -> bytes:
    assert len(body) < 127
    return element_id + bytes([0x80 | len(body)]) + body


def webm_with_duration(raw: bytes) -> bytes:
    """A WebM whose Info holds a Duration element with exactly these bytes, and no blocks."""
    info = ebml(b"\x2a\xd7\xb1", struct.pack(">I", 1_000_000)) + ebml(b"\x44\x89", raw)
    unknown = b"\x01\xff\xff\xff\xff\xff\xff\xff"
    return (
        ebml(b"\x1a\x45\xdf\xa3", b"\x42\x82\x84webm")
        + b"\x18\x53\x80\x67"
        + unknown
        + ebml(b"\x15\x49\xa9\x66", info)
    )


BAD_DURATIONS = [
    pytest.param(struct.pack(">d", float("nan")), id="nan64"),
    pytest.param(struct.pack(">f", float("nan")), id="nan32"),
    pytest.param(struct.pack(">d", float("inf")), id="inf"),
    pytest.param(struct.pack(">d", float("-inf")), id="-inf"),
    pytest.param(struct.pack(">f", float("inf")), id="inf32"),
    pytest.param(struct.pack(">d", -5000.0), id="negative"),
    pytest.param(struct.pack(">d", 1e300), id="1e300"),
]


@pytest.mark.parametrize("raw", BAD_DURATIONS)
def test_webm_duration_that_is_not_a_number_is_unknown(raw):
    from evidence.metadata import audio_metadata, webm_duration

    assert webm_duration(io.BytesIO(webm_with_duration(raw))) is None
    assert "duration_seconds" not in audio_metadata(io.BytesIO(webm_with_duration(raw)), "webm")


def strict_json(value) -> str:
    return json.dumps(value, allow_nan=False)  # raises on NaN and infinities, as PostgreSQL's jsonb does


@pytest.mark.parametrize("raw", BAD_DURATIONS)
def test_webm_with_bad_duration_is_kept_with_unknown_duration(alice_api, alice_case, alice_incident, raw):
    data = webm_with_duration(raw)
    plain = alice_api.post(
        f"/api/v1/incidents/{alice_incident.pk}/evidence/",
        {"file": SimpleUploadedFile("visit.webm", data)},
        format="multipart",
    )
    assert plain.status_code == 201, plain.content
    assert b"NaN" not in plain.content and b"Infinity" not in plain.content
    assert "duration_seconds" not in plain.json()["metadata"]
    filed = alice_api.post(
        "/api/v1/evidence/",
        {"case": alice_case.pk, "file": SimpleUploadedFile("visit.webm", data)},
        format="multipart",
    )
    assert filed.status_code == 201, filed.content
    assert Incident.objects.get(pk=filed.json()["incident"]).duration_seconds is None
    for evidence in EvidenceFile.objects.all():
        strict_json(evidence.metadata)
    assert alice_api.get(f"/api/v1/evidence/{plain.json()['id']}/").status_code == 200


# --- file-name times beyond any plausible date ---------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "通话录音@催收(17012345678)_00010101000000.amr",
        "通话录音@催收(17012345678)_99991231235959.amr",
        "Call recording 17012345678_991231_235959.m4a",  # 1999
        "20991231_235959.000-1200_in_17012345678.oga",
    ],
)
def test_recording_names_with_implausible_times_carry_no_time(alice_api, alice_case, name):
    from evidence.metadata import parse_file_name

    assert "time" not in parse_file_name(name, SHANGHAI)
    response = alice_api.post(
        "/api/v1/evidence/",
        {"case": alice_case.pk, "file": SimpleUploadedFile(name, amr_bytes())},
        format="multipart",
    )
    assert response.status_code == 201, response.content


# --- the visit recorder ---------------------------------------------------------------------------


def record_visit(client, case, data: bytes, name: str = "visit.webm", **fields):
    return client.post(
        f"/cases/{case.pk}/record-visit/",
        {"file": SimpleUploadedFile(name, data), **fields},
        HTTP_ACCEPT="application/json",
    )


NO_DURATION_WEBM = webm_with_duration(struct.pack(">d", float("nan")))


@pytest.mark.parametrize(
    "started_at",
    [
        "2026-13-45T25:61",
        "2026-02-30T10:00:00+08:00",
        "abc",
        "0001-01-01T00:00:00",
        "0001-01-01T00:00:00+00:00",
        "9999-12-31T23:59:59-12:00",
        "2024-03-15T10:00:00",  # no zone
        "2024-03-15T10:00:00+99:00",
        "",
    ],
)
def test_visit_with_a_bad_start_time_falls_back_to_the_servers_estimate(
    client, alice, alice_case, started_at
):
    client.force_login(alice)
    before = timezone.now()
    response = record_visit(client, alice_case, NO_DURATION_WEBM, started_at=started_at, elapsed_seconds="30")
    after = timezone.now()
    assert response.status_code == 201, response.content
    assert response.json()["ok"] is True
    incident = Incident.objects.get(pk=response.json()["incident"])
    assert incident.kind == "visit"
    # now − elapsed, as the server saw it while answering
    assert before - timedelta(seconds=30) <= incident.occurred_at <= after - timedelta(seconds=30)
    evidence = EvidenceFile.objects.get(incident=incident)
    assert evidence.metadata["duration_seconds"] == 30.0
    strict_json(evidence.metadata)


@pytest.mark.parametrize("elapsed", ["abc", "nan", "-5", "1e309", "-inf", "inf", "90000", "１２"])
def test_visit_with_a_bad_elapsed_time_keeps_the_recording_with_unknown_duration(
    client, alice, alice_case, elapsed
):
    client.force_login(alice)
    before = timezone.now()
    started = before.astimezone(UTC).isoformat()
    response = record_visit(client, alice_case, NO_DURATION_WEBM, started_at=started, elapsed_seconds=elapsed)
    after = timezone.now()
    assert response.status_code == 201, response.content
    incident = Incident.objects.get(pk=response.json()["incident"])
    assert before - timedelta(seconds=1) <= incident.occurred_at <= after
    assert incident.duration_seconds is None
    evidence = EvidenceFile.objects.get(incident=incident)
    assert "duration_seconds" not in evidence.metadata
    strict_json(evidence.metadata)


def test_visit_start_from_the_phone_is_still_used_when_it_agrees(client, alice, alice_case):
    client.force_login(alice)
    started = (timezone.now() - timedelta(seconds=95)).replace(microsecond=0)
    response = record_visit(
        client, alice_case, NO_DURATION_WEBM, started_at=started.isoformat(), elapsed_seconds="90"
    )
    assert response.status_code == 201, response.content
    assert Incident.objects.get(pk=response.json()["incident"]).occurred_at == started


# --- moving evidence to another incident ----------------------------------------------------------


@pytest.fixture
def filed(alice_case, alice_incident):
    """Alice's recording under her call, and another call of the same case to move it to."""
    from evidence.services import evidence_store, incident_create

    evidence = evidence_store(incident=alice_incident, upload=SimpleUploadedFile("a.amr", amr_bytes()))
    target = incident_create(
        case=alice_case, kind="call", occurred_at=MOMENT + timedelta(hours=1), counterpart_number="170"
    )
    return evidence, target


def moves() -> int:
    return AuditEvent.objects.filter(action="evidence.move").count()


@pytest.mark.parametrize(
    "value", ["abc", "", "1.5", "１", "²", "99999999999999999999999", "-1", "0x10", "1; DROP TABLE x"]
)
def test_move_with_a_malformed_incident_is_a_form_error(client, alice, english, filed, value):
    evidence, _target = filed
    filed_under = evidence.incident_id
    client.force_login(alice)
    response = client.post(f"/evidence/{evidence.pk}/move/", {"incident": value})
    assert response.status_code == 302
    assert response["Location"] == reverse("incident_detail", args=[filed_under])
    page = client.get(response["Location"])
    assert "Choose the incident to move this file to." in page.content.decode()
    evidence.refresh_from_db()
    assert evidence.incident_id == filed_under and moves() == 0


def test_move_to_another_users_incident_is_not_found(client, alice, bob, filed):
    from evidence.services import case_create, incident_create

    evidence, _target = filed
    bobs = incident_create(
        case=case_create(owner=bob, title="b", creditor="huabei"), kind="call", occurred_at=MOMENT
    )
    client.force_login(alice)
    assert client.post(f"/evidence/{evidence.pk}/move/", {"incident": bobs.pk}).status_code == 404
    client.force_login(bob)  # and bob cannot move alice's evidence, even onto his own incident
    assert client.post(f"/evidence/{evidence.pk}/move/", {"incident": bobs.pk}).status_code == 404
    evidence.refresh_from_db()
    assert evidence.incident_id != bobs.pk and moves() == 0


def test_move_to_an_incident_of_another_case_is_refused_clearly(client, alice, english, filed):
    from evidence.services import case_create, incident_create

    evidence, _target = filed
    elsewhere = incident_create(
        case=case_create(owner=alice, title="other", creditor="jiebei"), kind="call", occurred_at=MOMENT
    )
    client.force_login(alice)
    response = client.post(f"/evidence/{evidence.pk}/move/", {"incident": elsewhere.pk}, follow=True)
    assert response.status_code == 200
    assert "The incident must be in the same case." in response.content.decode()
    evidence.refresh_from_db()
    assert evidence.incident_id != elsewhere.pk and moves() == 0


OFF_SITE = [
    "https://evil.example/",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https:evil.example",
    "http://testserver.evil.example/",
    "javascript:alert(1)",
    " //evil.example",
]


@pytest.mark.parametrize("next_url", OFF_SITE)
def test_move_ignores_an_off_site_next(client, alice, filed, next_url):
    evidence, target = filed
    client.force_login(alice)
    response = client.post(f"/evidence/{evidence.pk}/move/", {"incident": target.pk, "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == reverse("incident_detail", args=[target.pk])
    evidence.refresh_from_db()
    assert evidence.incident_id == target.pk


@pytest.mark.parametrize("next_url", OFF_SITE)
def test_a_refused_move_ignores_an_off_site_next_too(client, alice, filed, next_url):
    evidence, _target = filed
    client.force_login(alice)
    response = client.post(f"/evidence/{evidence.pk}/move/", {"incident": "abc", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == reverse("incident_detail", args=[evidence.incident_id])


def test_move_follows_an_on_site_next(client, alice, alice_case, filed):
    evidence, target = filed
    client.force_login(alice)
    back = f"/cases/{alice_case.pk}/recordings/?page=2"
    response = client.post(f"/evidence/{evidence.pk}/move/", {"incident": target.pk, "next": back})
    assert response.status_code == 302 and response["Location"] == back
