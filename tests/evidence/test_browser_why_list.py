"""Issue 29's "why" list in a real browser (Chinese, 390×844): 复制 says 已复制 once the clipboard has
the text; the visit recorder shows a sound level that moves; the offline page's heading follows the
network instead of saying 没有网络 after the network is back."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium package is not installed"
    ),
]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def ready_dossier(alice_incident):
    """Built before the browser starts: the build may not run inside Playwright's event loop."""
    from complaints.services import dossier_create

    dossier = dossier_create(owner=alice_incident.case.owner, case=alice_incident.case, addressee="alipay")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    return dossier


@pytest.fixture
def page(alice, live_server, monkeypatch):
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
        context = browser.new_context(
            viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
        )
        context.grant_permissions(["microphone", "clipboard-read", "clipboard-write"], origin=live_server.url)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", "alice")
        page.fill("#id_password", "alice-password-1")
        page.click("button[type=submit].primary")
        page.wait_for_url("**/cases/")
        yield page
        context.close()
        browser.close()


def test_copy_says_copied_and_the_clipboard_holds_the_summary(ready_dossier, page, live_server):
    page.goto(f"{live_server.url}/dossiers/{ready_dossier.pk}/")
    button = page.locator("button.copy[data-copy='#summary-short']")
    assert button.inner_text() == "复制"
    button.click()
    page.wait_for_function(
        "() => document.querySelector(\"button.copy[data-copy='#summary-short']\").textContent === '已复制'"
    )
    assert page.evaluate("navigator.clipboard.readText()") == page.input_value("#summary-short").strip()


def test_the_recorder_shows_a_sound_level_that_moves(alice_case, page, live_server):
    page.goto(f"{live_server.url}/cases/{alice_case.pk}/log/visit/")
    assert page.locator("#visit-recorder meter.level").is_hidden()
    page.click("#visit-recorder .record-toggle")
    # Chromium's fake microphone plays a beep: the meter shows it above silence.
    page.wait_for_function("() => document.querySelector('#visit-recorder meter.level').value > 0.01")
    assert page.locator("#visit-recorder meter.level").is_visible()
    assert page.get_attribute("#visit-recorder meter.level", "aria-label") == "音量"
    page.click("#visit-recorder .record-toggle")
    page.wait_for_function("() => document.querySelector('#visit-recorder meter.level').hidden")


def test_the_offline_page_says_no_network_only_while_there_is_none(page, live_server):
    heading = "#network-state h1"
    page.goto(f"{live_server.url}/offline/")
    # Reached the server: the page says so rather than "no network".
    page.wait_for_function(f"() => document.querySelector('{heading}').textContent === '网络已恢复'")
    page.context.set_offline(True)
    page.wait_for_function(f"() => document.querySelector('{heading}').textContent === '没有网络'")
    page.context.set_offline(False)
    page.wait_for_function(f"() => document.querySelector('{heading}').textContent === '网络已恢复'")
    assert "没有网络" not in page.inner_text("main")
