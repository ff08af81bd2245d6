"""The lock and the quick exit (issue 29, acceptance 4), in Chromium at 390×844 in Chinese: with a PIN
set, coming back after the idle time covers the page until the PIN is given; five wrong PINs and the
lock refuses every try for a while; 快速离开 leaves the app in one tap."""

from __future__ import annotations

import os
import shutil

import pytest

from accounts.services import pin_set

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium package is not installed"
    ),
]


@pytest.fixture
def phone(live_server, monkeypatch, alice, client):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    client.force_login(alice)
    session = client.cookies["sessionid"].value
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN"
        )
        host = live_server.url.split("//")[1].split(":")[0]
        context.add_cookies([{"name": "sessionid", "value": session, "domain": host, "path": "/"}])
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield page
        context.close()
        browser.close()


def come_back_after(page, minutes: int) -> None:
    """As if the app had been in the background this long: the time it went away, then a reopen."""
    page.evaluate(f"localStorage.setItem('app-lock-hidden-at', String(Date.now() - {minutes} * 60000))")
    page.reload()


def test_the_pin_is_asked_after_the_idle_time_and_five_wrong_ones_are_throttled(phone, live_server, alice):
    pin_set(user=alice, password="alice-password-1", pin="2468", lock_minutes=5)
    page = phone
    page.goto(f"{live_server.url}/cases/")
    assert page.locator("#app-lock").is_hidden()
    come_back_after(page, 3)  # shorter than the idle time: no lock
    assert page.locator("#app-lock").is_hidden()

    come_back_after(page, 6)
    assert page.locator("#app-lock").is_visible()
    assert "输入PIN" in page.locator("#app-lock-title").inner_text()
    assert page.locator("main").is_hidden()
    page.reload()  # a reload does not lift the lock
    assert page.locator("#app-lock").is_visible()
    page.fill("#app-lock-pin", "2468")
    page.click("#app-lock-form button")
    page.locator("#app-lock").wait_for(state="hidden")

    come_back_after(page, 6)
    for _attempt in range(5):
        page.fill("#app-lock-pin", "1111")
        page.click("#app-lock-form button")
        page.locator("#app-lock-error", has_text="PIN").wait_for()
        page.evaluate("document.getElementById('app-lock-error').textContent = ''")
    page.fill("#app-lock-pin", "2468")  # the right PIN, now too late
    page.click("#app-lock-form button")
    page.locator("#app-lock-error", has_text="尝试次数过多").wait_for()
    assert page.locator("#app-lock").is_visible()


def test_quick_exit_leaves_the_app_in_one_tap(phone, live_server, settings):
    settings.QUICK_EXIT_URL = f"{live_server.url}/healthz"
    page = phone
    page.goto(f"{live_server.url}/cases/")
    exit_link = page.locator("#quick-exit")
    assert exit_link.inner_text() == "快速离开"
    box = exit_link.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44
    entries = page.evaluate("history.length")
    exit_link.tap()
    page.wait_for_url("**/healthz")
    # The app's page was replaced, not added to: "back" does not lead to it.
    assert page.evaluate("history.length") == entries
    page.go_back()
    assert "/cases/" not in page.url
