"""On a 390×844 phone screen in Chinese, with the network failing: a visit recording survives going
offline, a reload and coming back, and arrives once and whole; a large upload resumes by itself after
ten seconds offline; every tap target on the main pages is at least 44×44 CSS px."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import amr_bytes

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium package is not installed"
    ),
]

PHONE = {"width": 390, "height": 844}
WAITING = ("未保存，等待网络", "Not saved yet, waiting for the network")
SAVED = ("已安全保存 ✓", "Safely saved ✓")


@pytest.fixture
def browser(live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
            ],
        )
        yield browser
        browser.close()


def phone(browser, live_server, username, password):
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    context.grant_permissions(["microphone"], origin=live_server.url)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/cases/")
    return context, page


def wait_for_service_worker(page):
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30_000)


def test_a_visit_recorded_offline_survives_a_reload_and_arrives_once(browser, live_server, django_user_model):
    from evidence.models import EvidenceFile, Incident
    from evidence.services import case_create

    owner = django_user_model.objects.create_user("ivy", password="ivy-password-1")
    case = case_create(owner=owner, title="上门", creditor="huabei")
    context, page = phone(browser, live_server, "ivy", "ivy-password-1")
    page.goto(f"{live_server.url}/cases/{case.pk}/log/visit/")
    page.reload()  # now under the service worker, which keeps the offline page
    wait_for_service_worker(page)

    page.click("#visit-recorder .record-toggle")
    page.wait_for_selector("#visit-recorder .timer:text-matches('00:0[5-9]')")
    context.set_offline(True)
    page.click("#visit-recorder .record-toggle")
    # The panel stops saying it records, and says the audio waits on the phone.
    page.wait_for_function(
        "t => t.some(x => document.querySelector('#visit-recorder .status').textContent.includes(x))",
        arg=list(WAITING),
    )
    assert "recording" not in (page.get_attribute("#visit-recorder", "class") or "")

    page.reload()  # offline: the service worker's page, which lists what waits on this phone
    pending = page.wait_for_selector("#outbox li.state-pending")
    assert any(text in pending.inner_text() for text in WAITING)
    assert EvidenceFile.objects.count() == 0

    context.set_offline(False)
    saved = page.wait_for_selector("#outbox li.state-saved", timeout=60_000)
    assert any(text in saved.inner_text() for text in SAVED)
    saved.query_selector("summary").click()
    shown_sha = saved.inner_text()

    page.goto(f"{live_server.url}/cases/")  # the next visit sends nothing again
    page.wait_for_timeout(1500)
    context.close()

    evidence = EvidenceFile.objects.get(owner=owner)
    assert evidence.sha256 in shown_sha
    assert evidence.provenance == "recorded"
    # Read from the file itself, not from the page's timer: the whole recording arrived.
    assert evidence.metadata["duration_seconds"] >= 4.5
    assert "duration_source" not in evidence.metadata
    assert Incident.objects.filter(case=case, kind="visit").count() == 1


def test_a_large_upload_resumes_by_itself_after_ten_seconds_offline(
    browser, live_server, django_user_model, tmp_path
):
    from evidence.models import EvidenceFile
    from evidence.services import case_create, incident_create

    owner = django_user_model.objects.create_user("june", password="june-password-1")
    case = case_create(owner=owner, title="大文件", creditor="huabei")
    incident = incident_create(case=case, kind="call", occurred_at=timezone.now() - timedelta(hours=1))
    recording = amr_bytes(frames=12 * 1024 * 1024 // 32)  # 12 MB
    source = tmp_path / "long-call.amr"
    source.write_bytes(recording)
    digest = hashlib.sha256(recording).hexdigest()

    context, page = phone(browser, live_server, "june", "june-password-1")
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    assert page.locator(".upload .limit").is_visible()  # the limit is shown before choosing
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    slow = {"offline": False, "latency": 40, "downloadThroughput": 2_000_000, "uploadThroughput": 700_000}
    cdp.send("Network.emulateNetworkConditions", slow)
    page.set_input_files("#upload-input", str(source))
    page.wait_for_function(
        "() => document.querySelector('.progress-list progress').value >= 25", timeout=60_000
    )
    cdp.send("Network.emulateNetworkConditions", {**slow, "offline": True})
    time.sleep(10)
    assert not EvidenceFile.objects.exists()
    # It says it waits, in the page's language, instead of "Failed to fetch".
    assert any(text in page.inner_text(".progress-list") for text in WAITING)
    cdp.send("Network.emulateNetworkConditions", slow)
    page.wait_for_selector(f"code.sha:has-text('{digest}')", state="attached", timeout=180_000)
    context.close()
    assert EvidenceFile.objects.get(owner=owner).sha256 == digest


# --- 44×44 ------------------------------------------------------------------------------------------

MEASURE = """
() => {
  const small = [];
  const seen = new Set();
  const visible = el => {
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const check = (el, what) => {
    if (seen.has(el) || !visible(el)) return;
    seen.add(el);
    const r = el.getBoundingClientRect();
    if (r.width < 44 - 0.5 || r.height < 44 - 0.5) {
      small.push(`${what} "${(el.innerText || el.value || el.name || '').trim().slice(0, 40)}" ${Math.round(r.width)}×${Math.round(r.height)}`);
    }
  };
  document.querySelectorAll('a[href], button, summary, select, textarea, input').forEach(el => {
    if (el.type === 'hidden') return;
    if (el.type === 'checkbox' || el.type === 'radio') {
      // Measured together with its label: the label is what a finger taps.
      const label = el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`));
      check(label || el, `${el.type} label`);
      return;
    }
    if (el.type === 'file' && el.closest('label')) { check(el.closest('label'), 'file label'); return; }
    check(el, el.tagName.toLowerCase());
  });
  return small;
}
"""


def test_every_tap_target_on_the_main_pages_is_at_least_44_px(browser, live_server, django_user_model):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from complaints.models import Dossier
    from evidence.services import case_create, evidence_store, incident_create, incident_delete
    from tests.conftest import wav_bytes

    owner = django_user_model.objects.create_user("kim", password="kim-password-1")
    case = case_create(owner=owner, title="花呗", creditor="huabei", collectors="17012345678")
    incident = incident_create(
        case=case,
        kind="visit",
        occurred_at=timezone.now().replace(hour=23, minute=10) - timedelta(days=1),
        counterpart_number="17012345678",
        flags=["threat", "entered_home"],
        contacted=["family"],
        description="两人上门，威胁",
        visitors=2,
    )
    evidence_store(incident=incident, upload=SimpleUploadedFile("visit.wav", wav_bytes()))
    incident_delete(incident=incident_create(case=case, kind="sms", occurred_at=timezone.now()))
    dossier = Dossier.objects.create(
        owner=owner,
        case=case,
        addressee="alipay",
        language="zh-hans",
        status="ready",
        seal="0" * 64,
        pdf_sha256="1" * 64,
        incident_ids=[incident.pk],
        pages=3,
    )

    anonymous = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    page = anonymous.new_page()
    page.goto(f"{live_server.url}/")
    problems = {"/": page.evaluate(MEASURE)}
    anonymous.close()

    context, page = phone(browser, live_server, "kim", "kim-password-1")
    pages = [
        "/cases/",
        f"/cases/{case.pk}/",
        f"/cases/{case.pk}/?kind=visit#timeline",
        f"/incidents/{incident.pk}/",
        f"/cases/{case.pk}/log/visit/",
        f"/cases/{case.pk}/recordings/",
        f"/dossiers/{dossier.pk}/",
        f"/cases/{case.pk}/dossiers/new/",
        "/share/",
        "/accounts/profile/",
    ]
    for path in pages:
        page.goto(f"{live_server.url}{path}")
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        problems[path] = page.evaluate(MEASURE)
    context.close()
    failing = {path: small for path, small in problems.items() if small}
    assert failing == {}, "\n".join(f"{p}: {s}" for p, s in failing.items())
