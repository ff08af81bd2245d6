"""The follow-up journey on a phone-sized screen in Chinese, in Debian's Chromium driven by
Playwright: make the written notice and mark it sent with a screenshot; log a call to the employer
after it (flagged "after written notice", with the notice's date); log a complaint to 95188 with a
ticket number; move the clock past the deadline (FOLLOWUP_NOW) → one reminder e-mail and "overdue";
escalate → a 12378 dossier stating the ticket number, the complaint date, 逾期未答复 and the
contact after the notice."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from accounts.services import profile_for, profile_update
from complaints.models import Complaint, Dossier, StopNotice
from evidence.models import Incident
from evidence.services import case_create
from tests.clock import written_on
from tests.conftest import png_bytes

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
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

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        context = browser.new_context(
            viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
        )
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        context.close()
        browser.close()


def local_input(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")
def test_notice_contact_after_it_complaint_overdue_reminder_and_escalation(
    page, live_server, django_user_model, settings, tmp_path
):
    owner = django_user_model.objects.create_user(
        "hana", password="hana-password-1", email="hana@example.org"
    )
    profile_update(profile=profile_for(owner), display_name="韩小花", phone="13800002222")
    case = case_create(
        owner=owner, title="花呗催收", creditor="huabei", lender_name="重庆蚂蚁消费金融有限公司"
    )
    sent_at = timezone.now() - timedelta(hours=3)
    called_at = timezone.now() - timedelta(hours=2)
    complained_at = timezone.now() - timedelta(hours=1)
    screenshot = tmp_path / "Screenshot_notice.png"
    screenshot.write_bytes(png_bytes(size=(390, 844)))

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "hana")
    page.fill("#id_password", "hana-password-1")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/cases/")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    assert page.get_attribute("html", "lang").lower() == "zh-hans"

    # 1. The written notice: made, then marked sent with a screenshot of the chat.
    page.click(f"a[href='/cases/{case.pk}/notices/new/']")
    page.select_option("#id_allowed_channel", "app_message")
    page.fill("#id_hours_from", "09:00")
    page.fill("#id_hours_until", "20:00")
    # Written four hours ago (the live server runs in this process, so it reads the same clock): a
    # notice is never sent before it was written.
    with written_on(timezone.now() - timedelta(hours=4)):
        page.click("button[type=submit].primary")
        page.wait_for_url("**/notices/*/")
    assert "书面告知函" in page.input_value("#notice-text")
    assert "第十五条" in page.input_value("#notice-text")
    page.fill("#id_sent_at", local_input(sent_at))
    page.select_option("#id_channel", "online_chat")
    page.set_input_files("#id_proof", str(screenshot))
    page.click("button[type=submit].primary")
    page.wait_for_url(f"**/cases/{case.pk}/**")
    notice = StopNotice.objects.get()
    assert notice.sent_at is not None and notice.proof is not None
    notice_day = timezone.localtime(notice.sent_at).strftime("%Y-%m-%d")

    # 2. A call to the employer after it: flagged "after written notice", with the notice's date.
    page.click("a.kind-call")
    page.fill("#id_occurred_at", timezone.localtime(called_at).strftime("%Y-%m-%dT%H:%M:%S"))
    page.fill("#id_counterpart_number", "17012345678")
    page.check("input[name=contacted][value=employer]")
    page.fill("#id_description", "打到我单位前台，说我欠钱不还")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/incidents/*/")
    call = Incident.objects.get(description__startswith="打到我单位")
    assert "CN-NOTICE-1" in call.violation_rules
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    timeline = page.inner_text("ol.timeline")
    assert "书面告知后仍在告知范围外联系或联系第三方" in timeline
    assert f"本人已于{notice_day}书面告知" in timeline

    # 3. A complaint to 95188 with a ticket number.
    page.click(f"a[href='/cases/{case.pk}/complaints/new/']")
    page.select_option("#id_addressee", "alipay")
    page.select_option("#id_channel", "phone")
    page.fill("#id_sent_at", local_input(complained_at))
    page.fill("#id_ticket_number", "GD2026031200123")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/complaints/*/")
    complaint = Complaint.objects.get()
    complained_day = timezone.localtime(complaint.sent_at).strftime("%Y-%m-%d")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    assert page.locator("li.complaint.status-waiting").count() == 1

    # 4. The clock moves past the deadline: one reminder e-mail, however often the task runs.
    settings.FOLLOWUP_NOW = (timezone.now() + timedelta(days=17)).isoformat()
    call_command("send_reminders")
    call_command("send_reminders")
    overdue_mails = [m for m in mail.outbox if "GD2026031200123" in m.body]
    assert len(overdue_mails) == 1 and overdue_mails[0].to == ["hana@example.org"]
    page.reload()
    assert page.locator("li.complaint.status-overdue").count() == 1
    assert page.locator("p.banner.overdue").count() == 1

    # 5. Escalate in one tap: a 12378 dossier.
    page.click("button.escalate-nfra")
    page.wait_for_url("**/dossiers/*/")
    dossier = Dossier.objects.get()
    assert dossier.addressee == "nfra" and dossier.status == "ready", dossier.error
    path = tmp_path / "d.pdf"
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        path.write_bytes(handle.read())
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = text.replace("\n", "").replace(" ", "")
    for words in ("12378", "GD2026031200123", complained_day, "逾期未答复", "打到我单位前台", notice_day):
        assert words in flat, words
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.screenshot(path=os.environ.get("FOLLOWUP_SCREENSHOT", str(tmp_path / "case.png")), full_page=True)
