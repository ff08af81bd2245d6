"""On a 390×844 phone in Chinese: forms sent without network are kept on the phone and arrive once
when it returns (static/js/outbox.js), their pages still open offline (static/js/sw.js), and a visit
logged with the phone's location shows it on the entry and in the police report."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from django.core.files.storage import default_storage

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium package is not installed"
    ),
]

PHONE = {"width": 390, "height": 844}
WAITING = "未发送，等待网络"
SAVED = "已保存 ✓"


@pytest.fixture
def browser(live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        yield browser
        browser.close()


def phone(browser, live_server, username, password, **options):
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN", **options
    )
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/cases/")
    return context, page


def test_forms_sent_offline_survive_a_reload_and_arrive_once(browser, live_server, django_user_model):
    from complaints.models import Complaint
    from evidence.models import Incident
    from evidence.services import case_create

    owner = django_user_model.objects.create_user("kay", password="kay-password-1")
    case = case_create(owner=owner, title="花呗", creditor="huabei")
    context, page = phone(browser, live_server, "kay", "kay-password-1")
    visit = f"{live_server.url}/cases/{case.pk}/log/visit/"
    call = f"{live_server.url}/cases/{case.pk}/log/call/"
    complaint = f"{live_server.url}/cases/{case.pk}/complaints/new/"
    page.goto(visit)
    page.reload()  # now under the service worker
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30_000)
    for url in (visit, call, complaint):  # seen once online: the phone keeps a copy of each form
        page.goto(url)
    page.wait_for_function(
        "async () => (await (await caches.open('pages-v1')).keys()).length >= 3", timeout=30_000
    )

    context.set_offline(True)
    page.goto(visit)  # offline: the kept copy, not the browser's error page
    page.fill("#id_place", "上海市某小区3号楼")
    page.fill("#id_description", "两个人在门口说明天还来，拍了门牌")
    page.click("form.incident-form button[type=submit].primary")
    page.wait_for_selector("#form-outbox li.state-pending")

    page.goto(call)
    page.fill("#id_counterpart_number", "17088886666")
    page.fill("#id_description", "威胁要去单位")
    page.click("form.incident-form button[type=submit].primary")
    page.wait_for_function("() => document.querySelectorAll('#form-outbox li.state-pending').length === 2")

    page.goto(complaint)
    page.fill("#id_ticket_number", "工单-20260302-01")
    page.click("form[data-outbox] button[type=submit].primary")
    page.wait_for_function("() => document.querySelectorAll('#form-outbox li.state-pending').length === 3")

    page.reload()  # still offline: the page renders, and the three wait on the phone
    assert page.locator("h1").first.is_visible()
    page.wait_for_function("() => document.querySelectorAll('#form-outbox li.state-pending').length === 3")
    assert page.locator("#form-outbox li.state-pending").first.inner_text().count(WAITING) == 1
    assert Incident.objects.filter(case=case).count() == 0 and Complaint.objects.count() == 0

    context.set_offline(False)
    page.wait_for_function(
        "() => document.querySelectorAll('#form-outbox li.state-saved').length === 3", timeout=60_000
    )
    assert SAVED in page.locator("#form-outbox").inner_text()
    # The next pages send nothing again (they list what was saved, with nothing pending).
    page.goto(f"{live_server.url}/cases/")
    page.wait_for_function(
        "() => document.querySelectorAll('#form-outbox li.state-saved').length === 3"
        " && !document.querySelector('#form-outbox li.state-pending')"
    )
    page.reload()
    page.wait_for_selector("#form-outbox li.state-saved")
    context.close()

    visits = Incident.objects.filter(case=case, kind="visit")
    calls = Incident.objects.filter(case=case, kind="call")
    assert visits.count() == 1 and calls.count() == 1 and Complaint.objects.filter(case=case).count() == 1
    assert visits.get().description == "两个人在门口说明天还来，拍了门牌"
    assert visits.get().place == "上海市某小区3号楼"
    assert calls.get().counterpart_number == "17088886666" and calls.get().description == "威胁要去单位"
    assert Complaint.objects.get().ticket_number == "工单-20260302-01"


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")
def test_a_visit_logged_with_the_location_shows_it_and_the_police_report_prints_it(
    live_server, monkeypatch, django_user_model, tmp_path
):
    from playwright.sync_api import sync_playwright

    from complaints.services import dossier_create
    from evidence.models import Incident
    from evidence.services import case_create

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    owner = django_user_model.objects.create_user("lin", password="lin-password-1")
    case = case_create(owner=owner, title="上门", creditor="huabei")
    # Its own Playwright, ended before the dossier is built (pyHanko runs its own event loop).
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context, page = phone(
            browser,
            live_server,
            "lin",
            "lin-password-1",
            geolocation={"latitude": 31.230416, "longitude": 121.473701, "accuracy": 25},
        )
        context.grant_permissions(["geolocation"], origin=live_server.url)
        page.goto(f"{live_server.url}/cases/{case.pk}/log/visit/")
        page.click("#location-picker button.locate")
        page.wait_for_selector("#location-picker .location-status:has-text('31.230416')")
        assert "25" in page.inner_text("#location-picker .location-status")  # the accuracy is shown
        page.fill("#id_place", "上海市黄浦区某路100弄")
        page.fill("#id_description", "三个人堵在门口")
        page.check("input[name=flags][value=threat]")
        page.click("form.incident-form button[type=submit].primary")
        page.wait_for_url("**/incidents/*/")
        shown = page.inner_text("dl.facts")
        assert "上海市黄浦区某路100弄" in shown and "31.230416" in shown and "121.473701" in shown
        browser.close()

    incident = Incident.objects.get(case=case, kind="visit")
    assert incident.location == {"lat": 31.230416, "lon": 121.473701, "accuracy_m": 25.0}
    dossier = dossier_create(
        owner=owner, case=case, addressee="police", language="zh-hans", requests=["file_case"]
    )
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    path = tmp_path / "police.pdf"
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        path.write_bytes(handle.read())
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = "".join(text.split())
    assert "纬度31.230416" in flat and "经度121.473701" in flat and "精度约25米" in flat
    assert "上海市黄浦区某路100弄" in flat
