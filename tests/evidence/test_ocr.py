"""Screenshots read by OCR: the text kept beside the image (API, page, search), SMS threads and call
logs proposed as incidents, merged with the phone's own call log (issue 15)."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import calls_xml, pdf_bytes
from tests.evidence.ocr_screens import font_available, render_call_log, render_sms

pytestmark = pytest.mark.skipif(not font_available(), reason="needs fonts-wqy-zenhei")

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Screenshots are named as Android names them: taken on Friday 2024-03-22 at 10:32.
SHOT = "Screenshot_20240322-103200.png"
THREAT = "你再不还钱，我们就去你家里找你，后果自负。"
NOTICE = "尊敬的客户，您的借呗账单本期应还1280.00元，请按时还款。"

CALL_ROWS = [
    # (number as the log shows it, digits, "when" as shown, local time it stands for, missed)
    ("171 2345 6789", "17123456789", "10:20", datetime(2024, 3, 22, 10, 20), True),
    ("171 2345 6789", "17123456789", "09:15", datetime(2024, 3, 22, 9, 15), True),
    ("+86 138 0013 8000", "13800138000", "昨天 21:14", datetime(2024, 3, 21, 21, 14), False),
    ("95188", "95188", "昨天 08:02", datetime(2024, 3, 21, 8, 2), False),
    ("186 8922 0365", "18689220365", "星期二 22:47", datetime(2024, 3, 19, 22, 47), True),
    ("156 1234 5678", "15612345678", "星期二 13:05", datetime(2024, 3, 19, 13, 5), False),
    ("133 8495 6587", "13384956587", "星期一 23:30", datetime(2024, 3, 18, 23, 30), True),
    ("177 0000 1111", "17700001111", "3月15日 20:11", datetime(2024, 3, 15, 20, 11), False),
    ("150 2222 3333", "15022223333", "3月12日 07:58", datetime(2024, 3, 12, 7, 58), True),
    ("1069 5555 0000", "106955550000", "03-10 19:40", datetime(2024, 3, 10, 19, 40), False),
]


def call_log_screen():
    rows = [
        {"who": shown, "count": 3 if i == 0 else 1, "when": when, "missed": missed, "second": "广东深圳 移动"}
        for i, (shown, _digits, when, _at, missed) in enumerate(CALL_ROWS)
    ]
    return render_call_log(rows, theme="light", lang="zh", style="miui")


def store_screenshot(incident, data: bytes, name: str, capture):
    from evidence.models import EvidenceFile
    from evidence.services import evidence_store

    with capture(execute=True):
        stored = evidence_store(
            incident=incident, upload=SimpleUploadedFile(name, data, content_type="image/png")
        )
    return EvidenceFile.objects.get(pk=stored.pk)  # as read after the worker stored its text


@pytest.fixture
def sms_screenshot(alice_incident, django_capture_on_commit_callbacks):
    screen = render_sms(
        "+86 171 2345 6789",
        [
            {"label": "星期二 10:32", "body": NOTICE, "sent": False},
            {"label": "昨天 21:14", "body": THREAT, "sent": False},
        ],
    )
    return store_screenshot(alice_incident, screen.png(), SHOT, django_capture_on_commit_callbacks)


def test_an_uploaded_sms_screenshot_is_read_in_the_background_and_its_text_is_in_the_api(
    alice_api, alice_incident, django_capture_on_commit_callbacks
):
    screen = render_sms("+86 171 2345 6789", [{"label": "昨天 21:14", "body": THREAT, "sent": False}])
    upload = SimpleUploadedFile(SHOT, screen.png(), content_type="image/png")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = alice_api.post(
            f"/api/v1/incidents/{alice_incident.pk}/evidence/", {"file": upload}, format="multipart"
        )
    assert response.status_code == 201
    # The upload answered before any OCR ran: the text waits for the worker.
    assert response.json()["text_status"] == "pending"
    assert response.json()["text"] is None
    for callback in callbacks:
        callback()
    evidence = alice_api.get(f"/api/v1/evidence/{response.json()['id']}/").json()
    assert evidence["text_status"] == "done"
    assert "后果自负" in evidence["text"]
    assert "17123456789" in evidence["text"].replace(" ", "")


def test_recognized_text_names_its_source_and_is_audited(sms_screenshot):
    from ledger.models import AuditEvent

    row = sms_screenshot.recognized_text
    assert row.status == "done" and row.sha256 == sms_screenshot.sha256
    assert row.engine.startswith("rapidocr")
    assert all({"text", "box", "score", "color"} <= line.keys() for line in row.lines)
    event = AuditEvent.objects.get(action="evidence.text", subject_id=str(sms_screenshot.pk))
    assert event.payload["source_sha256"] == sms_screenshot.sha256 and event.payload["status"] == "done"


def test_other_files_have_no_text_and_pdfs_are_never_read(alice_api, alice_incident):
    upload = SimpleUploadedFile("letter.pdf", pdf_bytes())
    response = alice_api.post(
        f"/api/v1/incidents/{alice_incident.pk}/evidence/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 201
    assert response.json()["text_status"] == "none" and response.json()["text"] is None


def test_the_sms_preview_logs_messages_with_sender_time_and_a_suggested_threat_flag(
    client, alice, alice_case, sms_screenshot
):
    client.force_login(alice)
    page = client.get(f"/evidence/{sms_screenshot.pk}/read/")
    assert page.status_code == 200
    found = page.context["found"]
    assert found["kind"] == "sms"
    threat = next(item for item in found["items"] if "后果自负" in item["body"])
    assert threat["number"] == "+8617123456789"
    assert threat["at"] == datetime(2024, 3, 21, 21, 14, tzinfo=SHANGHAI)
    assert "threat" in threat["flags"]
    notice = next(item for item in found["items"] if "借呗" in item["body"])
    assert notice["at"] == datetime(2024, 3, 19, 10, 32, tzinfo=SHANGHAI)  # the Tuesday before
    assert "threat" not in notice["flags"]
    response = client.post(
        f"/evidence/{sms_screenshot.pk}/read/",
        {f"pick_{threat['index']}": "on", f"flags_{threat['index']}": ["threat"]},
    )
    assert response.status_code == 302
    logged = alice_case.incidents.get(kind="sms")
    assert logged.counterpart_number == "+8617123456789"
    assert logged.occurred_at == datetime(2024, 3, 21, 21, 14, tzinfo=SHANGHAI)
    assert logged.flags == ["threat"] and "后果自负" in logged.description
    assert logged.sources[0]["kind"] == "ocr"
    # Ticking it again logs nothing twice.
    client.post(f"/evidence/{sms_screenshot.pk}/read/", {f"pick_{threat['index']}": "on"})
    assert alice_case.incidents.filter(kind="sms").count() == 1


def test_the_evidence_page_shows_the_text_and_the_caveat(client, alice, sms_screenshot):
    client.force_login(alice)
    page = client.get(f"/incidents/{sms_screenshot.incident_id}/").content.decode()
    assert "后果自负" in page
    assert f"/evidence/{sms_screenshot.pk}/read/" in page


def test_the_case_search_finds_words_in_screenshot_text(client, alice, alice_case, sms_screenshot):
    client.force_login(alice)
    found = client.get(f"/cases/{alice_case.pk}/", {"q": "后果自负"}).context["page"].object_list
    assert [incident.pk for incident in found] == [sms_screenshot.incident_id]
    assert not client.get(f"/cases/{alice_case.pk}/", {"q": "没有这句话"}).context["page"].object_list


def test_a_call_log_of_ten_rows_gives_ten_calls_and_joins_the_same_calls_from_calls_xml(
    alice, alice_case, alice_incident, django_capture_on_commit_callbacks
):
    from evidence.imports import phone_import_prepare, phone_import_run
    from evidence.proposals import proposals_log, propose

    # The phone's own call log first: the same ten calls, with their seconds.
    exported = [
        (
            digits,
            (at.replace(second=37)).replace(tzinfo=SHANGHAI),
            3 if missed else 1,
            0 if missed else 45,
            "",
        )
        for _shown, digits, _when, at, missed in CALL_ROWS
    ]
    upload = SimpleUploadedFile("calls.xml", calls_xml(exported))
    phone_import_run(
        phone_import=phone_import_prepare(case=alice_case, upload=upload),
        kinds=["incoming", "missed", "outgoing"],
    )
    before = alice_case.incidents.filter(kind="call").count()
    evidence = store_screenshot(
        alice_incident, call_log_screen().png(), SHOT, django_capture_on_commit_callbacks
    )
    found = propose(evidence=evidence, tz=SHANGHAI)
    assert found["kind"] == "calls"
    items = found["items"]
    assert len(items) == 10
    assert [item["number"].removeprefix("+86") for item in items] == [row[1] for row in CALL_ROWS]
    assert [item["at"] for item in items] == [row[3].replace(tzinfo=SHANGHAI) for row in CALL_ROWS]
    assert [item["direction"] == "missed" for item in items] == [row[4] for row in CALL_ROWS]
    assert items[0]["count"] == 3
    assert not any(item["uncertain"] for item in items)
    counts = proposals_log(evidence=evidence, case=alice_case, choices=items)
    assert counts == {"created": 0, "linked": 10, "already": 0}
    assert alice_case.incidents.filter(kind="call").count() == before
    joined = alice_case.incidents.get(counterpart_number="13800138000")
    assert [source["kind"] for source in joined.sources] == ["import", "ocr"]


def test_calls_logged_from_a_screenshot_are_joined_by_a_later_calls_xml(
    alice, alice_case, alice_incident, django_capture_on_commit_callbacks
):
    from evidence.imports import phone_import_prepare, phone_import_run
    from evidence.proposals import proposals_log, propose

    evidence = store_screenshot(
        alice_incident, call_log_screen().png(), SHOT, django_capture_on_commit_callbacks
    )
    items = propose(evidence=evidence, tz=SHANGHAI)["items"]
    assert proposals_log(evidence=evidence, case=alice_case, choices=items)["created"] == 10
    before = alice_case.incidents.filter(kind="call").count()
    exported = [
        (
            digits,
            (at.replace(second=12)).replace(tzinfo=SHANGHAI),
            3 if missed else 1,
            0 if missed else 45,
            "",
        )
        for _shown, digits, _when, at, missed in CALL_ROWS
    ]
    upload = SimpleUploadedFile("calls.xml", calls_xml(exported))
    counts = phone_import_run(
        phone_import=phone_import_prepare(case=alice_case, upload=upload),
        kinds=["incoming", "missed", "outgoing"],
    )
    assert counts["created"] == 0 and counts["linked"] == 10
    assert alice_case.incidents.filter(kind="call").count() == before


def test_relative_dates_are_resolved_against_the_screenshot_and_never_guessed_without_it():
    from evidence.proposals import parse_when

    taken = datetime(2024, 3, 22, 10, 32, tzinfo=SHANGHAI)  # a Friday
    cases = {
        "10:05": datetime(2024, 3, 22, 10, 5),
        "昨天 21:14": datetime(2024, 3, 21, 21, 14),
        "星期二 10:32": datetime(2024, 3, 19, 10, 32),
        "星期—13:05": datetime(2024, 3, 18, 13, 5),  # OCR reads 一 as a dash
        "星期五 08:00": datetime(2024, 3, 15, 8, 0),  # never today
        "3月15日 14:20": datetime(2024, 3, 15, 14, 20),
        "12月30日 09:00": datetime(2023, 12, 30, 9, 0),  # no year: the last such day
        "下午 2:41": None,  # later than the screenshot
        "凌晨 1:05": datetime(2024, 3, 22, 1, 5),
        "Yesterday 9:14 PM": datetime(2024, 3, 21, 21, 14),
        "Tue 10:47 PM": datetime(2024, 3, 19, 22, 47),
        "3/12/24 8:11 PM": datetime(2024, 3, 12, 20, 11),
        "2024年3月1日 09:30": datetime(2024, 3, 1, 9, 30),
    }
    for text, expected in cases.items():
        found = parse_when(text, taken)
        assert found["at"] == (expected.replace(tzinfo=SHANGHAI) if expected else None), text
        assert bool(found["uncertain"]) == (expected is None), text
    only_date = parse_when("昨天", taken)
    assert only_date["at"] is None and only_date["uncertain"]
    unknown = parse_when("昨天 21:14", None)
    assert unknown["at"] is None and unknown["uncertain"]
    assert parse_when("您的验证码是482913", taken) is None


def test_a_number_with_a_missing_digit_is_marked_uncertain():
    from evidence.proposals import read_who

    assert read_who("138 0013 800")["uncertain"]
    assert not read_who("138 0013 8000")["uncertain"]
    assert read_who("张经理 (3)") == {"number": "", "name": "张经理", "count": 3, "uncertain": ""}


def test_recognize_text_reads_again_with_redo(sms_screenshot):
    from django.core.management import call_command

    from ledger.models import AuditEvent

    call_command("recognize_text", "--evidence", str(sms_screenshot.pk), "--redo")
    assert AuditEvent.objects.filter(action="evidence.text", subject_id=str(sms_screenshot.pk)).count() == 2


def test_web_processes_never_load_the_ocr_engine():
    code = (
        "import django, sys; django.setup(); import config.urls, evidence.services, evidence.tasks, "
        "evidence.views, evidence.api; print(any(m in sys.modules for m in ('onnxruntime', 'cv2', "
        "'rapidocr_onnxruntime')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
        check=True,
    )
    assert result.stdout.strip() == "False"


def test_the_engine_needs_no_libgl_and_ships_its_models():
    """opencv-python-headless, not opencv-python: a server without libGL can import cv2; and the
    models are inside the installed package, so nothing is downloaded at run time."""
    import glob
    import os

    import cv2
    import rapidocr

    libraries = glob.glob(os.path.join(os.path.dirname(cv2.__file__), "cv2*.so"))
    linked = subprocess.run(["ldd", *libraries], capture_output=True, text=True).stdout
    assert libraries and "libGL.so" not in linked
    models = os.path.join(os.path.dirname(rapidocr.__file__), "models")
    assert {name.split("_")[-1] for name in os.listdir(models) if name.endswith(".onnx")} >= {"small.onnx"}
