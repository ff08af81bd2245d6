"""Guide screenshots of sharing a case with a helper (issue 30), at 390×844, in Chinese and English.

Run against a development server holding the demo account (`manage.py seed_demo`) and a helper
account `helper` / `helper-evidence-2026` (created by this script through manage.py if missing):

    DATA_DIR=/tmp/shots .venv/bin/python manage.py migrate && DATA_DIR=/tmp/shots .venv/bin/python manage.py seed_demo
    DATA_DIR=/tmp/shots .venv/bin/python manage.py runserver 127.0.0.1:8765 &
    DATA_DIR=/tmp/shots .venv/bin/python scripts/screenshots_sharing.py http://127.0.0.1:8765

Writes docs/screenshots/{zh,en}-20-share-invite.png, -21-share-accept.png, -22-shared-with-me.png,
-23-access-log.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = Path(__file__).resolve().parents[1]
OUT = BASE / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}


def ensure_helper() -> None:
    code = (
        "from django.contrib.auth import get_user_model;"
        "from accounts.services import profile_for;"
        "U=get_user_model();"
        "u=U.objects.filter(username='helper').first() or U.objects.create_user('helper', password='helper-evidence-2026');"
        "p=profile_for(u); p.display_name='王律师（法律援助）'; p.save()"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=BASE, check=True, env=os.environ)


def login(page, url: str, username: str, password: str, language: str) -> None:
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.locator("#id_password").press("Enter")
    page.goto(f"{url}/accounts/profile/")
    if page.locator("#id_language").count():
        page.select_option("#id_language", language)
        page.click("form.stack button[type=submit].primary")
        page.wait_for_load_state()


def main(url: str) -> None:
    ensure_helper()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"]
        )
        for language, prefix in (("zh-hans", "zh"), ("en", "en")):
            locale = "zh-CN" if prefix == "zh" else "en-US"
            owner = browser.new_context(
                viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True, locale=locale
            )
            page = owner.new_page()
            login(page, url, "demo", "demo-evidence-2026", language)
            page.goto(f"{url}/cases/")
            page.locator("ul.cards a").first.click()
            page.wait_for_load_state()
            case_url = page.url.rstrip("/")
            page.goto(f"{case_url}/shares/")
            page.check("input[name=role][value=read]")
            page.fill("#id_note", "王律师，法律援助中心" if prefix == "zh" else "Lawyer Wang, legal aid")
            page.click("form.stack button[type=submit].primary")
            page.wait_for_load_state()
            code = page.locator(".share-code").inner_text()
            page.screenshot(path=str(OUT / f"{prefix}-20-share-invite.png"))

            helper = browser.new_context(
                viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True, locale=locale
            )
            other = helper.new_page()
            login(other, url, "helper", "helper-evidence-2026", language)
            other.goto(f"{url}/shares/accept/?code={code}")
            other.screenshot(path=str(OUT / f"{prefix}-21-share-accept.png"))
            other.click("form.stack button[type=submit].primary")
            other.wait_for_load_state()
            other.locator(".timeline a.row").first.click()
            other.wait_for_load_state()
            other.goto(f"{url}/shared/")
            other.screenshot(path=str(OUT / f"{prefix}-22-shared-with-me.png"))

            page.goto(f"{case_url}/")  # leave the page: the same URL with only a #hash would not reload
            page.goto(f"{case_url}/shares/")
            page.locator("#access-log").scroll_into_view_if_needed()
            page.screenshot(path=str(OUT / f"{prefix}-23-access-log.png"))
            helper.close()
            owner.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
