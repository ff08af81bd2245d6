"""A new user on a phone-sized screen, in Debian's Chromium driven by Playwright: sign up, create a
case, log a night call with a recording, see its SHA-256, download it and get the same bytes."""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import amr_bytes

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Outside CI a machine without chromium skips these; in CI (.ci/run installs it) they must run.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium package is not installed"
    ),
]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def page(live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls below are still safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        context = browser.new_context(
            viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, accept_downloads=True
        )
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        context.close()
        browser.close()


def test_a_new_user_logs_a_night_call_with_a_recording_and_downloads_it(page, live_server, tmp_path):
    recording = amr_bytes(frames=750)
    source = tmp_path / "通话录音@催收(17012345678)_20240315233000.amr"
    source.write_bytes(recording)

    page.goto(f"{live_server.url}/accounts/signup/")
    assert "注册" in page.content()
    page.fill("#id_username", "newcomer")
    page.fill("#id_password1", "a-long-pass-phrase-42")
    page.fill("#id_password2", "a-long-pass-phrase-42")
    page.click("button[type=submit].primary")

    # The recovery codes come first, shown once (issue 29).
    page.wait_for_url("**/accounts/recovery-codes/new/")
    assert page.locator("#recovery-codes li").count() == 10
    page.click("a.button.primary")
    page.wait_for_url("**/cases/new/")
    page.fill("#id_title", "花呗催收")
    page.select_option("#id_creditor", "huabei")
    page.click("button[type=submit].primary")

    page.wait_for_url("**/cases/*/")
    page.click("a.kind-call")
    night = (timezone.localtime() - timedelta(days=1)).replace(hour=23, minute=30, second=0)
    page.fill("#id_occurred_at", night.strftime("%Y-%m-%dT%H:%M:%S"))
    page.fill("#id_duration", "0:15")
    page.select_option("#id_answered", "true")
    page.fill("#id_counterpart_number", "17012345678")
    page.check("input[name=flags][value=threat]")
    page.fill("#id_description", "晚上十一点半打来，威胁要上门")
    page.click("button[type=submit].primary")

    page.wait_for_url("**/incidents/*/")
    page.set_input_files("#upload-input", str(source))
    digest = hashlib.sha256(recording).hexdigest()
    # The script uploads, shows the hash under the progress bar, then reloads to list the file.
    page.wait_for_selector(f"code.sha:has-text('{digest}')", timeout=30_000)
    assert "时长：15秒" in page.inner_text(".file-facts")  # the AMR duration, counted from frames

    with page.expect_download() as info:
        page.click("a[download]")
    downloaded = tmp_path / "downloaded.amr"
    info.value.save_as(downloaded)
    assert downloaded.read_bytes() == recording

    page.click("text=← 花呗催收")
    timeline = page.inner_text("ol.timeline")
    assert night.strftime("%Y-%m-%d 23:30:00") in timeline
    assert "威胁恐吓" in timeline


def test_a_large_upload_survives_a_dropped_connection(page, live_server, tmp_path, django_user_model):
    """The page sends big files in resumable pieces; one piece is lost on the way, and the upload
    still completes with the SHA-256 of the whole file."""
    from evidence.models import EvidenceFile
    from evidence.services import case_create, incident_create

    owner = django_user_model.objects.create_user("gina", password="gina-password-1")
    case = case_create(owner=owner, title="大文件", creditor="huabei")
    incident = incident_create(case=case, kind="call", occurred_at=timezone.now() - timedelta(hours=1))
    recording = amr_bytes(frames=300_000)  # about 9.6 MB
    source = tmp_path / "long-call.amr"
    source.write_bytes(recording)

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "gina")
    page.fill("#id_password", "gina-password-1")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/cases/")

    dropped = []

    def flaky(route):
        offset = int(route.request.headers.get("upload-offset", "0"))
        if route.request.method == "PATCH" and not dropped and offset > 0:
            dropped.append(route.request.headers.get("upload-offset"))
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/v1/uploads/**", flaky)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    page.set_input_files("#upload-input", str(source))
    digest = hashlib.sha256(recording).hexdigest()
    page.wait_for_selector(f"code.sha:has-text('{digest}')", timeout=90_000)
    assert dropped, "no piece was dropped: the test did not exercise resuming"
    assert EvidenceFile.objects.get(owner=owner).sha256 == digest


def test_a_new_user_imports_the_collectors_calls_from_calls_xml(
    page, live_server, tmp_path, django_user_model
):
    """On a phone-sized screen: upload calls.xml, see the preview, import only the collector's
    number; the timeline shows those calls at the right local times with their provenance; a second
    import creates nothing."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from evidence.models import Incident
    from evidence.services import case_create
    from tests.conftest import calls_xml

    shanghai = ZoneInfo("Asia/Shanghai")
    owner = django_user_model.objects.create_user("hana", password="hana-password-1")
    case = case_create(owner=owner, title="花呗", creditor="huabei", collectors="17012345678")
    export = tmp_path / "calls.xml"
    export.write_bytes(
        calls_xml(
            [
                ("17012345678", datetime(2024, 3, 15, 23, 10, 5, tzinfo=shanghai), 1, 61, "(Unknown)"),
                ("17012345678", datetime(2024, 3, 16, 7, 45, 0, tzinfo=shanghai), 3, 0, "(Unknown)"),
                ("13900000000", datetime(2024, 3, 16, 12, 0, 0, tzinfo=shanghai), 1, 300, "妈妈"),
            ]
        )
    )

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "hana")
    page.fill("#id_password", "hana-password-1")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/cases/")

    def import_once():
        page.goto(f"{live_server.url}/cases/{case.pk}/")
        page.click("text=导入通话和短信记录")
        page.set_input_files("#id_file", str(export))
        page.click("button[type=submit].primary")
        page.wait_for_url("**/imports/*/")
        assert page.inner_text(".stat-calls") == "3"
        collector = page.locator("tr.known input[type=checkbox]")
        assert collector.count() == 1 and collector.is_checked()
        assert not page.locator("tr:not(.known) input[type=checkbox]").first.is_checked()
        page.click("button[type=submit].primary")
        page.wait_for_url(f"**/cases/{case.pk}/")
        return page.inner_text(".messages")

    first = import_once()
    assert "2" in first
    timeline = page.inner_text("ol.timeline")
    assert "2024-03-15 23:10:05" in timeline and "2024-03-16 07:45:00" in timeline
    assert "13900000000" not in timeline
    assert "从手机导入" in timeline
    page.click("ol.timeline a.row:has-text('2024-03-15 23:10:05')")
    assert "calls.xml" in page.inner_text(".facts")

    second = import_once()
    assert Incident.objects.filter(case=case, kind="call").count() == 2
    assert "导入 0 条" in second or "0" in second.split("；")[0]
