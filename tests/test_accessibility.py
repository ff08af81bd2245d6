"""The main pages, in Chinese on a 390×844 phone, pass axe-core (installed from the npm registry into
tests/axe by `npm ci --prefix tests/axe`, as .ci/run does) with no violation at all: a screen reader
can name every field and link, and the text has the contrast a tired eye needs. Every tap target on
them is at least 44×44 CSS px (checkboxes and radios with their labels)."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.evidence.test_browser_phone import MEASURE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium package is not installed"
    ),
    pytest.mark.skipif(
        not AXE.exists() and not os.environ.get("CI"), reason="run `npm ci --prefix tests/axe` first"
    ),
]

PHONE = {"width": 390, "height": 844}

# Every violation, one line each: the rule, how bad, and the first few elements it names.
RUN_AXE = """
async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v =>
    `${v.id} (${v.impact}): ${v.nodes.slice(0, 4).map(n => n.target.join(' ')).join(' | ')}`);
}
"""


@pytest.fixture
def phone_page(live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        # bypass_csp lets the test inject axe (the app's CSP rightly forbids inline scripts); the
        # pages themselves are unchanged.
        context = browser.new_context(
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="zh-CN",
            bypass_csp=True,
        )
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        context.close()
        browser.close()


def violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(RUN_AXE)


@pytest.fixture
def records(django_user_model):
    """A case with a visit, its recording and a real dossier, made before the browser starts (the
    dossier build may not run inside Playwright's event loop)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from complaints.services import dossier_create
    from evidence.services import case_create, evidence_store, incident_create
    from tests.conftest import wav_bytes

    owner = django_user_model.objects.create_user("ada", password="ada-password-1")
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
    # A real dossier (built at once by the tests' immediate task backend): its page carries the
    # summaries and next steps a person copies from.
    dossier = dossier_create(owner=owner, case=case, addressee="alipay")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    return {"case": case, "incident": incident, "dossier": dossier}


def test_axe_finds_no_violation_on_the_main_pages(records, phone_page, live_server):
    case, incident, dossier = records["case"], records["incident"], records["dossier"]

    page = phone_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "ada-password-1")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/cases/")

    pages = {
        "home": "/cases/",
        "case": f"/cases/{case.pk}/",
        "call form": f"/cases/{case.pk}/log/call/",
        "visit": f"/cases/{case.pk}/log/visit/",
        "incident": f"/incidents/{incident.pk}/",
        "recordings": f"/cases/{case.pk}/recordings/",
        "timeline": f"/cases/{case.pk}/?kind=visit#timeline",
        "builder": f"/cases/{case.pk}/dossiers/new/",
        "ready page": f"/dossiers/{dossier.pk}/",
        "profile": "/accounts/profile/",
    }
    found = {}
    for name, path in pages.items():
        page.goto(f"{live_server.url}{path}")
        # Folded sections count too: a person opens them.
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        found[name] = violations(page)
        # And every tap target at least 44×44 CSS px (a checkbox or radio measured with its label).
        found[name] += [f"tap target {small}" for small in page.evaluate(MEASURE)]
    print("\n".join(f"{name}: {line}" for name, v in found.items() for line in v))
    failing = {name: v for name, v in found.items() if v}
    assert failing == {}, "\n".join(f"{name}: {line}" for name, v in failing.items() for line in v)
