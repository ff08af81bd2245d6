"""A cell a spreadsheet would run as a formula (`=HYPERLINK(...)` in an SMS, a planted number in an
imported call log) is written as text in every CSV the app writes: the export's incidents.csv and a
bundle's calls.csv (issue 25, M6). Bundles sealed before keep their calls.csv and still verify."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from complaints.summary import calls_csv
from core.csv_cells import neutralise
from tests.conftest import epoch_ms
from tests.privacy.conftest import download_export, zip_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
LINK = '=HYPERLINK("http://x","y")'
PLANTED = "=1+cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    "value, written",
    [
        (LINK, "'" + LINK),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-Abc", "'-Abc"),
        # Numbers, signed or not, name no function and no cell: phone numbers stay as dialled.
        ("+86 138 0013 8000", "+86 138 0013 8000"),
        ("+1 (555) 010-0199", "+1 (555) 010-0199"),
        ("-5", "-5"),
        ("13800138000", "13800138000"),
        ("还钱 = 上门", "还钱 = 上门"),
        ("", ""),
        (None, None),
        (95, 95),
    ],
)
def test_cells_that_would_run_as_formulas_gain_a_quote_and_nothing_else_changes(value, written):
    assert neutralise(value) == written


def export_rows(api) -> list[dict]:
    started = api.post("/api/v1/export/")
    assert started.status_code == 202, started.content
    status = api.get(f"/api/v1/export/{started.json()['id']}/").json()
    assert status["status"] == "ready", status
    archive = zip_of(download_export(api, status["id"]))
    return list(csv.DictReader(io.StringIO(archive.read("incidents.csv").decode("utf-8-sig"))))


def test_an_sms_body_sent_through_the_api_is_text_in_the_exported_csv(alice_api, alice_case):
    response = alice_api.post(
        "/api/v1/incidents/",
        {
            "case": alice_case.pk,
            "kind": "sms",
            "occurred_at": "2026-03-16T09:00:00+08:00",
            "counterpart_number": "+8610690000123",
            "description": LINK,
            "counterpart_name": "@催收",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    # The API and the JSON keep the exact words; only the spreadsheet file quotes them.
    assert response.json()["description"] == LINK
    (row,) = export_rows(alice_api)
    assert row["description"] == "'" + LINK
    assert row["counterpart_name"] == "'@催收"
    assert row["counterpart_number"] == "+8610690000123"


SMS_XML = """<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<smses count="1">
  <sms protocol="0" address="10690000123" date="{date}" type="1" subject="null" body="{body}" read="1" contact_name="(Unknown)" />
</smses>
"""


def test_an_imported_sms_body_is_text_in_the_exported_csv(alice_api, alice_case):
    body = LINK.replace('"', "&quot;")
    data = SMS_XML.format(date=epoch_ms(datetime(2026, 3, 16, 9, 0, tzinfo=SHANGHAI)), body=body)
    response = alice_api.post(
        "/api/v1/imports/",
        {
            "case": alice_case.pk,
            "file": SimpleUploadedFile("sms.xml", data.encode()),
            "kinds": "sms_received",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 1
    (row,) = [row for row in export_rows(alice_api) if row["kind"] == "sms"]
    assert row["description"] == "'" + LINK


def test_a_planted_number_is_text_in_the_bundles_calls_csv_and_the_bundle_verifies(
    alice, alice_api, alice_case, tmp_path
):
    from complaints.services import dossier_create
    from complaints.verification import bundle_file, verify_upload

    # A number as typed (or sent by a phone shortcut): imports keep only digits, the API keeps text.
    for number, minute in ((PLANTED, 10), ("+86 171 2345 6789", 20)):
        response = alice_api.post(
            "/api/v1/incidents/",
            {
                "case": alice_case.pk,
                "kind": "call",
                "occurred_at": f"2026-03-15T23:{minute}:00+08:00",
                "counterpart_number": number,
                "duration_seconds": 30,
            },
            format="json",
        )
        assert response.status_code == 201, response.content
    dossier = dossier_create(owner=alice, case=alice_case, addressee="alipay", language="zh-hans")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    with bundle_file(dossier) as spool:
        data = spool.read()
    bundle = zipfile.ZipFile(io.BytesIO(data))
    rows = list(csv.DictReader(io.StringIO(bundle.read("calls.csv").decode("utf-8-sig"))))
    numbers = {row["number"] for row in rows}
    assert not any(number.startswith("=") for number in numbers), numbers
    assert any(number.startswith("'=") for number in numbers), numbers
    # The sealed manifest keeps what the phone said; only the spreadsheet quotes it.
    calls = [i for i in json.loads(dossier.manifest)["incidents"] if i["kind"] == "call"]
    assert {c["counterpart_number"] for c in calls} == {n.removeprefix("'") for n in numbers}
    path = tmp_path / "bundle.zip"
    path.write_bytes(data)
    with path.open("rb") as handle:
        verdict = verify_upload(handle)
    assert verdict.valid, verdict.problems


def test_a_manifest_sealed_before_format_3_derives_its_calls_csv_as_it_was_issued():
    manifest = {
        "format": "collection-evidence-dossier/2",
        "dossier": {"time_zone": "Asia/Shanghai"},
        "incidents": [
            {
                "kind": "call",
                "ref": "#6",
                "counterpart_number": PLANTED,
                "occurred_at": "2025-11-18T15:41:00+00:00",
                "answered": True,
                "duration_seconds": 95,
                "source": "api",
                "source_ref": "",
            }
        ],
    }
    # Verification derives calls.csv again from the sealed manifest and compares: an old bundle's
    # file, written verbatim, must come out byte for byte the same.
    assert f"\r\n#6,{PLANTED},2025-11-18 23:41:00,".encode() in calls_csv(manifest)
    newer = {**manifest, "format": "collection-evidence-dossier/3"}
    assert f"\r\n#6,'{PLANTED},2025-11-18 23:41:00,".encode() in calls_csv(newer)
