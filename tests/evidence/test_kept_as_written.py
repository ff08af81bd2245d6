"""Kept as written (issue 27, "what to build" 6): MMS from e-mail addresses and short codes are
imported with their sender as written; a hidden caller ticked on the import preview is imported as
hidden, never silently skipped."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.models import Incident, PhoneImport
from tests.conftest import epoch_ms

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 3, 15, 21, 40, tzinfo=SHANGHAI)


def mms(address: str, minute: int, text: str) -> str:
    return (
        f'  <mms date="{epoch_ms(AT.replace(minute=minute))}" msg_box="1" address="{address}" m_type="132" '
        f'read="1" contact_name="(Unknown)">\n'
        f'    <parts><part seq="0" ct="text/plain" text="{text}" /></parts>\n'
        f'    <addrs><addr address="{address}" type="137" charset="106" /></addrs>\n'
        f"  </mms>\n"
    )


def sms_xml() -> bytes:
    body = mms("notice@collect-example.cn", 1, "逾期通知") + mms("1069012345", 2, "再不还款将上门")
    return (
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
        f'<smses count="2" backup_set="x" backup_date="1710000000000" type="full">\n{body}</smses>\n'
    ).encode()


def calls_with_a_hidden_caller() -> bytes:
    rows = (
        f'  <call number="" duration="30" date="{epoch_ms(AT)}" type="1" presentation="2" contact_name="" />\n'
        f'  <call number="17012345678" duration="40" date="{epoch_ms(AT.replace(minute=50))}" type="1" '
        f'presentation="1" contact_name="" />\n'
    )
    return (
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
        f'<calls count="2" backup_set="x" backup_date="1710000000000" type="full">\n{rows}</calls>\n'
    ).encode()


def test_mms_from_an_email_address_and_a_short_code_are_kept_as_written(client, alice, alice_case):
    client.force_login(alice)
    response = client.post(
        f"/cases/{alice_case.pk}/import/", {"file": SimpleUploadedFile("sms.xml", sms_xml())}
    )
    assert response.status_code == 302
    phone_import = PhoneImport.objects.get(case=alice_case)
    senders = [p["number"] for p in phone_import.summary["counterparts"]]
    assert set(senders) == {"notice@collect-example.cn", "1069012345"}
    # Ticked on the preview: both imported, each sender as written.
    response = client.post(response["Location"], {"numbers": senders, "kinds": ["sms_received"]})
    assert response.status_code == 302, response.content.decode()[:2000]
    kept = dict(
        Incident.objects.filter(case=alice_case, kind="sms").values_list("counterpart_number", "description")
    )
    assert kept == {"notice@collect-example.cn": "逾期通知", "1069012345": "再不还款将上门"}


def test_a_hidden_caller_ticked_on_the_preview_is_imported_as_hidden(client, alice, alice_case):
    client.force_login(alice)
    response = client.post(
        f"/cases/{alice_case.pk}/import/",
        {"file": SimpleUploadedFile("calls.xml", calls_with_a_hidden_caller())},
    )
    preview = client.get(response["Location"]).content.decode()
    assert "（隐藏号码）" in preview
    # Only the hidden caller is ticked.
    response = client.post(response["Location"], {"numbers": [""], "kinds": ["incoming"]})
    assert response.status_code == 302
    (call,) = Incident.objects.filter(case=alice_case, kind="call")
    assert call.counterpart_number == "" and call.occurred_at == AT


def test_the_api_names_a_hidden_caller_hidden(alice_api, alice_case):
    response = alice_api.post(
        "/api/v1/imports/",
        {
            "case": alice_case.pk,
            "file": SimpleUploadedFile("calls.xml", calls_with_a_hidden_caller()),
            "numbers": "hidden",
        },
        format="multipart",
    )
    assert response.status_code == 201
    assert response.json()["created"] == 1 and response.json()["skipped"] == 1
    assert Incident.objects.get(case=alice_case, kind="call").counterpart_number == ""
