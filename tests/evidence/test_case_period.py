"""A case's period (issue 27, acceptance 4): the debt's start is asked when a case is created; an
import shows how many entries fall before it and leaves them out unless ticked in; a dossier starts
there, so a number seen only in the years before is never listed as a collector."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.core.files.uploadedfile import SimpleUploadedFile

from complaints.services import dossier_create
from evidence.models import Case, Incident, PhoneImport
from evidence.services import case_create
from ledger.models import AuditEvent
from tests.conftest import calls_xml

SHANGHAI = ZoneInfo("Asia/Shanghai")
COLLECTOR = "17012345678"
OLD_FRIEND = "13900001234"


def old_and_new_calls():
    """A 2014 call from an unrelated number, then two collection calls after the debt began."""
    return [
        (OLD_FRIEND, datetime(2014, 10, 22, 9, 0, tzinfo=SHANGHAI), 1, 60, ""),
        (COLLECTOR, datetime(2026, 3, 15, 21, 40, tzinfo=SHANGHAI), 1, 60, ""),
        (COLLECTOR, datetime(2026, 3, 16, 22, 10, tzinfo=SHANGHAI), 1, 45, ""),
    ]


def test_the_debts_start_is_asked_and_kept_on_the_case(client, alice, alice_api):
    response = alice_api.post(
        "/api/v1/cases/",
        {"title": "花呗", "creditor": "huabei", "period_start": "2026-01-05"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["period_start"] == "2026-01-05"
    case = Case.objects.get(pk=response.json()["id"])
    assert case.period_start == date(2026, 1, 5)
    created = AuditEvent.objects.get(owner=alice, action="case.create")
    assert created.payload["after"]["period_start"] == "2026-01-05"
    # A date in the future is refused with a reason, and nothing is created.
    response = alice_api.post(
        "/api/v1/cases/", {"title": "x", "creditor": "huabei", "period_start": "2099-01-01"}, format="json"
    )
    assert response.status_code == 400 and "period_start" in response.json()["error"]["fields"]
    assert Case.objects.count() == 1
    # The form asks it, the case page shows it, and it can be edited.
    client.force_login(alice)
    assert 'name="period_start"' in client.get("/cases/new/").content.decode()
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "2026-01-05" in page and 'id="period-start"' in page
    response = client.post(
        f"/cases/{case.pk}/edit/",
        {"title": "花呗", "creditor": "huabei", "period_start": "2025-12-01", "rule_pack": "cn"},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.period_start == date(2025, 12, 1)


def test_an_import_leaves_out_entries_before_the_debt_unless_asked(client, alice, alice_api):
    case = case_create(owner=alice, title="花呗", creditor="huabei", period_start=date(2026, 1, 1))
    client.force_login(alice)
    # The preview says how many fall before and offers to tick them in.
    response = client.post(
        f"/cases/{case.pk}/import/", {"file": SimpleUploadedFile("calls.xml", calls_xml(old_and_new_calls()))}
    )
    assert response.status_code == 302
    preview = client.get(response["Location"]).content.decode()
    assert 'id="before-period"' in preview and "有 1 条记录早于这笔欠款开始的日期（2026-01-01）" in preview
    assert 'name="include_before_period"' in preview
    phone_import = PhoneImport.objects.get(case=case)
    assert phone_import.summary["before_period"] == 1

    # The API, by default: left out and counted.
    response = alice_api.post(
        "/api/v1/imports/",
        {"case": case.pk, "file": SimpleUploadedFile("calls.xml", calls_xml(old_and_new_calls()))},
        format="multipart",
    )
    assert response.status_code == 201
    assert response.json()["before_period"] == 1 and response.json()["created"] == 2
    numbers = set(
        Incident.objects.filter(case=case, kind="call").values_list("counterpart_number", flat=True)
    )
    assert numbers == {COLLECTOR}

    # Asked for: imported.
    response = alice_api.post(
        "/api/v1/imports/",
        {
            "case": case.pk,
            "file": SimpleUploadedFile("calls.xml", calls_xml(old_and_new_calls())),
            "include_before_period": "true",
        },
        format="multipart",
    )
    assert response.status_code == 201
    assert response.json()["before_period"] == 0 and response.json()["created"] == 1


def test_a_dossier_covers_the_cases_period(alice, alice_api):
    case = case_create(owner=alice, title="花呗", creditor="huabei")
    alice_api.post(
        "/api/v1/imports/",
        {"case": case.pk, "file": SimpleUploadedFile("calls.xml", calls_xml(old_and_new_calls()))},
        format="multipart",
    )
    assert Incident.objects.filter(case=case, counterpart_number=OLD_FRIEND).exists()  # no period yet
    case.period_start = date(2026, 1, 1)
    case.save(update_fields=["period_start"])
    dossier = dossier_create(owner=alice, case=case, addressee="alipay")
    assert dossier.date_from == date(2026, 1, 1)
    listed = set(
        Incident.objects.filter(pk__in=dossier.incident_ids).values_list("counterpart_number", flat=True)
    )
    assert OLD_FRIEND not in listed and COLLECTOR in listed
