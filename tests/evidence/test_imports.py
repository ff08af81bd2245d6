"""Importing the phone's own call and message logs, and filing recordings under the calls."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.models import EvidenceFile, Incident, PhoneImport
from ledger.models import AuditEvent
from tests.conftest import amr_bytes, calls_xml, epoch_ms, png_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")
COLLECTOR = "17012345678"


def sample_calls():
    base = datetime(2026, 3, 15, 22, 30, tzinfo=SHANGHAI)
    return [
        (COLLECTOR, base, 1, 95, "(Unknown)"),  # answered, at night
        ("+86 170 1234 5678", base + timedelta(minutes=20), 3, 0, "催收"),  # missed, same collector
        (COLLECTOR, base + timedelta(hours=12), 5, 0, ""),  # rejected
        ("13900000000", base + timedelta(hours=13), 1, 300, "妈妈"),  # family: not a collector
        (COLLECTOR, base + timedelta(hours=14), 2, 10, ""),  # outgoing: off by default
    ]


def post_import(api, case, data, name="calls.xml", **extra):
    return api.post(
        "/api/v1/imports/",
        {"case": case.pk, "file": SimpleUploadedFile(name, data), **extra},
        format="multipart",
    )


def test_calls_import_through_the_api_only_for_chosen_numbers(alice_api, alice_case):
    response = post_import(alice_api, alice_case, calls_xml(sample_calls()), numbers=COLLECTOR)
    assert response.status_code == 201, response.content
    assert {k: response.json()[k] for k in ("created", "duplicates", "skipped")} == {
        "created": 3,
        "duplicates": 0,
        "skipped": 2,
    }
    calls = Incident.objects.filter(case=alice_case, kind="call").order_by("occurred_at")
    assert [c.occurred_at for c in calls] == [s[1] for s in sample_calls()[:3]]  # times from the epoch field
    assert [c.answered for c in calls] == [True, False, False]
    assert {c.counterpart_number for c in calls} == {"17012345678", "+8617012345678"}
    export = EvidenceFile.objects.get(content_type="application/xml")
    assert all(c.source_evidence_id == export.pk and c.source == "import" for c in calls)
    assert AuditEvent.objects.filter(action="import.create").count() == 1
    assert "CN-TIME-1" in calls[0].violation_rules  # findings are refreshed after the import


def test_importing_again_or_an_overlapping_backup_creates_nothing_twice(alice_api, alice_case):
    first = post_import(alice_api, alice_case, calls_xml(sample_calls()[:3])).json()
    again = post_import(alice_api, alice_case, calls_xml(sample_calls()[:3])).json()
    assert first["created"] == 3 and again["created"] == 0 and again["duplicates"] == 3
    later = post_import(alice_api, alice_case, calls_xml(sample_calls()), name="calls-later.xml").json()
    # The later backup holds the first three again plus two more; outgoing is off by default.
    assert later["created"] == 1 and later["duplicates"] == 3 and later["skipped"] == 1
    assert Incident.objects.filter(case=alice_case, kind="call").count() == 4


SMS_XML = """<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<smses count="3">
  <sms protocol="0" address="10690000123" date="{d1}" type="1" subject="null" body="还钱&#55357;&#56832;否则上门" toa="null" sc_toa="null" service_center="null" read="1" status="-1" locked="0" date_sent="0" readable_date="x" contact_name="(Unknown)" />
  <sms protocol="0" address="10690000123" date="{d2}" type="2" subject="null" body="我会还" toa="null" read="1" status="-1" contact_name="null" />
  <mms date="{d3}" msg_box="1" address="10690000123~13800000000" m_type="132" read="1" contact_name="(Unknown)">
    <parts>
      <part seq="-1" ct="application/smil" name="null" text="&lt;smil&gt;&lt;/smil&gt;" />
      <part seq="0" ct="text/plain" name="null" text="律师函见附件" />
      <part seq="1" ct="image/png" name="notice.png" data="{image}" />
    </parts>
    <addrs><addr address="10690000123" type="137" charset="106" /><addr address="13800000000" type="151" charset="106" /></addrs>
  </mms>
</smses>
"""


def test_sms_with_surrogate_pair_emoji_mms_image_and_null_attributes(alice_api, alice_case):
    moment = datetime(2026, 3, 16, 9, 0, tzinfo=SHANGHAI)
    image = png_bytes(size=(80, 60))
    data = SMS_XML.format(
        d1=epoch_ms(moment),
        d2=epoch_ms(moment + timedelta(minutes=1)),
        d3=epoch_ms(moment + timedelta(minutes=2)),
        image=base64.b64encode(image).decode(),
    )
    response = post_import(alice_api, alice_case, data.encode(), name="sms.xml", kinds="sms_received")
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 2 and response.json()["skipped"] == 1  # the sent one
    received = Incident.objects.filter(case=alice_case, kind="sms").order_by("occurred_at")
    assert received[0].description == "还钱\U0001f600否则上门"
    assert received[0].counterpart_name == ""  # "(Unknown)" means no name
    mms = received[1]
    assert mms.description == "律师函见附件" and mms.counterpart_number == "10690000123"
    attached = mms.evidence.get()
    assert attached.content_type == "image/png" and attached.provenance == "imported"
    import hashlib

    assert attached.sha256 == hashlib.sha256(image).hexdigest()


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<calls count="1"><call number="&lol2;" date="1710000000000" type="1" duration="1" /></calls>"""


@pytest.mark.parametrize(
    "name,data,code,status,words",
    [
        ("calls.xml", BOMB, "invalid_import", 400, "DTD"),
        ("calls.xml", calls_xml(sample_calls())[:-40], "invalid_import", 400, "incomplete"),
        ("calls.csv", b"Name,When,Length\nx,2026-01-01,3\n", "invalid_import", 400, "Call type"),
        (
            "calls.csv",
            b"Call type,Date,Duration,Number\nIncoming,2026-02-30 10:00:00,00:01:00,170\n",
            "invalid_import",
            400,
            "impossible date",
        ),
        ("calls.xml", b"<?xml version='1.0'?><contacts><c/></contacts>", "invalid_import", 400, "<contacts>"),
        ("calls.mp3", b"ID3\x04" + bytes(100), "unsupported_type", 415, "SMS Backup"),
    ],
)
def test_bad_exports_are_refused_clearly_and_create_nothing(
    alice, alice_api, alice_case, name, data, code, status, words
):
    from accounts.services import profile_for, profile_update

    profile_update(profile=profile_for(alice), language="en")  # the messages are checked in English
    response = post_import(alice_api, alice_case, data, name=name)
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and words in error["message"]
    assert Incident.objects.count() == 0 and EvidenceFile.objects.count() == 0


def test_imazing_csv_reads_local_times(alice_api, alice_case):
    data = (
        b"Call type,Date,Duration,Number,Contact,Location,Service\n"
        b"Incoming,2026-03-15 23:05:00,00:02:05,+86 170 1234 5678,,China,Phone\n"
        b"Missed,2026-03-15 23:30:00,00:00:00,+86 170 1234 5678,,China,Phone\n"
    )
    response = post_import(alice_api, alice_case, data, name="calls.csv")
    assert response.json()["created"] == 2
    first = Incident.objects.filter(kind="call").order_by("occurred_at").first()
    assert (
        first.occurred_at == datetime(2026, 3, 15, 23, 5, tzinfo=SHANGHAI) and first.duration_seconds == 125
    )


def test_preview_page_ranks_numbers_and_marks_known_collectors(client, alice, alice_case):
    from evidence.services import case_update

    case_update(case=alice_case, collectors="某催收公司\n170 1234 5678")
    client.force_login(alice)
    response = client.post(
        f"/cases/{alice_case.pk}/import/",
        {"file": SimpleUploadedFile("calls.xml", calls_xml(sample_calls()))},
    )
    phone_import = PhoneImport.objects.get()
    assert response["Location"] == f"/imports/{phone_import.pk}/"
    summary = phone_import.summary
    assert summary["calls"] == 5 and summary["messages"] == 0
    top = summary["counterparts"][0]
    assert top["number"] == "17012345678" and top["calls"] == 3 and top["known"] and top["night"] == 1
    assert not [p for p in summary["counterparts"] if p["number"] == "13900000000"][0]["known"]
    page = client.get(f"/imports/{phone_import.pk}/")
    assert page.context["form"]["numbers"].value() == ["17012345678", "+8617012345678"]
    assert Incident.objects.count() == 0  # nothing imported by looking
    done = client.post(
        f"/imports/{phone_import.pk}/",
        {"numbers": ["17012345678", "+8617012345678"], "kinds": ["incoming", "missed", "rejected"]},
    )
    assert done.status_code == 302
    assert Incident.objects.filter(kind="call").count() == 3


# --- recordings filed under imported calls -------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "通话录音@催收(17012345678)_20260315223100.mp3",  # MIUI
        "催收@+86 170 1234 5678_20260315223100.amr",  # Huawei
        "Call recording 17012345678_260315_223100.m4a",  # Samsung
        "20260315_143100.000+0000_in_sim1_17012345678.oga",  # BCR, UTC offset in the name
    ],
)
def test_recordings_are_filed_under_the_matching_imported_call(alice_api, alice_case, name):
    post_import(alice_api, alice_case, calls_xml(sample_calls()), numbers=COLLECTOR)
    call = Incident.objects.get(kind="call", occurred_at=datetime(2026, 3, 15, 22, 30, tzinfo=SHANGHAI))
    response = alice_api.post(
        "/api/v1/evidence/",
        {"case": alice_case.pk, "file": SimpleUploadedFile(name, amr_bytes())},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["incident"] == call.pk


def test_an_unmatched_recording_becomes_a_new_call(client, alice, alice_case, alice_api):
    post_import(alice_api, alice_case, calls_xml(sample_calls()), numbers=COLLECTOR)
    before = Incident.objects.count()
    client.force_login(alice)
    response = client.post(
        f"/cases/{alice_case.pk}/recordings/",
        {
            "files": [
                SimpleUploadedFile("通话录音@陌生(13511112222)_20260320101010.amr", amr_bytes()),
                SimpleUploadedFile("通话录音@催收(17012345678)_20260315223100.amr", amr_bytes(frames=300)),
            ]
        },
        HTTP_ACCEPT="application/json",
    )
    results = response.json()["results"]
    assert [r["filed"] for r in results] == ["new", "matched"]
    assert Incident.objects.count() == before + 1
    new = Incident.objects.get(pk=results[0]["incident"])
    assert new.kind == "call" and new.counterpart_number == "13511112222"
    page = client.get(f"/cases/{alice_case.pk}/recordings/").content.decode()
    assert "通话录音@陌生(13511112222)_20260320101010.amr" in page
    # Fixing a match: move the new one under the imported call.
    target = Incident.objects.get(kind="call", occurred_at=datetime(2026, 3, 15, 22, 30, tzinfo=SHANGHAI))
    client.post(f"/evidence/{results[0]['id']}/move/", {"incident": target.pk})
    assert EvidenceFile.objects.get(pk=results[0]["id"]).incident_id == target.pk
    assert AuditEvent.objects.filter(action="evidence.move").exists()
    # The entry made for that recording alone was the same call: it is gone, not a second row.
    assert not Incident.objects.filter(pk=new.pk).exists()
    assert Incident.objects.count() == before
    assert "recording" in {s["kind"] for s in Incident.objects.get(pk=target.pk).sources}


def test_imported_incidents_and_their_export_appear_in_the_dossier(alice, alice_api, alice_case):
    import json

    from complaints.services import dossier_create

    post_import(alice_api, alice_case, calls_xml(sample_calls()), numbers=COLLECTOR)
    dossier = dossier_create(
        owner=alice,
        case=alice_case,
        addressee="alipay",
        incident_ids=list(Incident.objects.filter(kind="call").values_list("pk", flat=True)),
    )
    dossier.refresh_from_db()
    manifest = json.loads(dossier.manifest)
    export = [e for e in manifest["evidence"] if e["content_type"] == "application/xml"]
    assert len(export) == 1
    assert all(i["source_evidence"] == export[0]["ref"] for i in manifest["incidents"])


def test_import_errors_are_in_the_users_language(alice_api, alice_case):
    response = post_import(alice_api, alice_case, BOMB)
    assert response.status_code == 400 and "DTD" in response.json()["error"]["message"]
    assert "安全" in response.json()["error"]["message"]


def test_the_entry_holding_an_export_is_not_counted_as_a_collection_event(alice, alice_api, alice_case):
    import json

    from complaints.services import dossier_create

    post_import(alice_api, alice_case, calls_xml(sample_calls()), numbers=COLLECTOR)
    calls = Incident.objects.filter(case=alice_case, kind="call").count()
    assert alice_case.incidents.count() == calls + 1  # the imported calls and the entry holding the export
    dossier = dossier_create(owner=alice, case=alice_case, addressee="alipay")
    dossier.refresh_from_db()
    manifest = json.loads(dossier.manifest)
    assert manifest["statistics"]["total"] == calls == len(manifest["incidents"])
    assert all(i["kind"] == "call" for i in manifest["incidents"])
    assert any(e["content_type"] == "application/xml" for e in manifest["evidence"])
