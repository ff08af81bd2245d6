"""Times in the log and edit forms, on a phone-sized screen in Debian's Chromium (Playwright).

In Chinese, Django rendered the time of every incident form as "2026/11/30 06:11", which a
datetime-local input shows as empty: a new call could not be saved without typing its time, and
saving an edit wiped it. Every form now carries the ISO value the input needs, in both languages.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium package is not installed"
    ),
]

PHONE = {"width": 390, "height": 844}
KINDS = ("call", "sms", "visit", "third_party", "letter", "app_message", "other")


@pytest.fixture
def page(live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        context.close()
        browser.close()


@pytest.fixture
def owner_case(django_user_model):
    from evidence.services import case_create

    owner = django_user_model.objects.create_user("hana", password="hana-password-1")
    return owner, case_create(owner=owner, title="时间测试", creditor="huabei")


def log_in(page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "hana")
    page.fill("#id_password", "hana-password-1")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/cases/")


def local(value: str) -> datetime:
    """A datetime-local input's value as an aware time in the owner's zone (Asia/Shanghai)."""
    return timezone.make_aware(datetime.fromisoformat(value), timezone.get_default_timezone())


def save_each_kind_untouched_then_edit_untouched(page, live_server, case):
    from evidence.models import Incident

    for kind in KINDS:
        before = timezone.now().replace(microsecond=0)
        page.goto(f"{live_server.url}/cases/{case.pk}/log/{kind}/")
        shown = page.input_value("#id_occurred_at")
        assert shown, f"{kind}: the time input is empty"
        prefilled = local(shown)
        assert before - timedelta(seconds=1) <= prefilled <= timezone.now(), (kind, shown)
        page.click("form.incident-form button[type=submit].primary")
        page.wait_for_url("**/incidents/*/")
        incident = Incident.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[-1]))
        assert incident.kind == kind and incident.occurred_at == prefilled, (kind, shown)

        page.goto(f"{live_server.url}/incidents/{incident.pk}/edit/")
        assert page.input_value("#id_occurred_at"), f"{kind}: the edit form shows no time"
        page.click("form.incident-form button[type=submit].primary")
        page.wait_for_url(f"**/incidents/{incident.pk}/")
        stored = incident.occurred_at
        incident.refresh_from_db()
        assert incident.occurred_at == stored, kind


def test_every_log_form_saves_the_prefilled_time_and_an_edit_keeps_it_in_chinese(
    page, live_server, owner_case
):
    _owner, case = owner_case
    log_in(page, live_server)
    assert page.get_attribute("html", "lang") == "zh-Hans"
    save_each_kind_untouched_then_edit_untouched(page, live_server, case)


def test_the_same_in_english(page, live_server, owner_case):
    _owner, case = owner_case
    log_in(page, live_server)
    page.click("form.lang button[value=en]")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "en"
    save_each_kind_untouched_then_edit_untouched(page, live_server, case)


def test_an_edit_keeps_a_time_to_the_microsecond(page, live_server, owner_case):
    """Times from the API or a phone's clock carry microseconds; an untouched edit keeps them."""
    from evidence.services import incident_create

    _owner, case = owner_case
    moment = timezone.now() - timedelta(hours=3, microseconds=-123_456)
    incident = incident_create(case=case, kind="call", occurred_at=moment, counterpart_number="17012345678")
    log_in(page, live_server)
    for language in ("en", "zh-hans"):
        page.goto(f"{live_server.url}/incidents/{incident.pk}/edit/")
        page.click(f"form.lang button[value={language}]")
        page.wait_for_url(f"**/incidents/{incident.pk}/edit/")
        page.click("form.incident-form button[type=submit].primary")
        page.wait_for_url(f"**/incidents/{incident.pk}/")
        incident.refresh_from_db()
        assert incident.occurred_at == moment, language


def test_a_chosen_recording_offers_its_time_before_saving(page, live_server, owner_case, tmp_path):
    """Attaching a recording in the log form offers the time in its name; one tap fills the input,
    and the incident is saved at that time with the recording kept."""
    from evidence.models import EvidenceFile, Incident
    from tests.conftest import amr_bytes

    _owner, case = owner_case
    source = tmp_path / "通话录音@催收(17012345678)_20240315231000.amr"
    source.write_bytes(amr_bytes(frames=100))
    log_in(page, live_server)
    page.goto(f"{live_server.url}/cases/{case.pk}/log/call/")
    page.set_input_files("#id_attachment", str(source))
    offer = page.wait_for_selector("button.use-file-time")
    assert "2024-03-15 23:10" in offer.inner_text()
    offer.click()
    assert page.input_value("#id_occurred_at").startswith("2024-03-15T23:10")
    page.click("form.incident-form button[type=submit].primary")
    page.wait_for_url("**/incidents/*/")
    incident = Incident.objects.get(case=case)
    assert incident.occurred_at == local("2024-03-15T23:10:00")
    assert EvidenceFile.objects.get(incident=incident).original_name == source.name
