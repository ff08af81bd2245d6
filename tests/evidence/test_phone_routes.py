"""Getting the data out of a Chinese phone (issue 27, acceptance 5): the import page explains, per
brand, the routes that work without Google Play, in Chinese first, and says plainly which of the
brands' own backups cannot be read."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.evidence import test_browser_phone

# The phone-sized browser of the other phone tests (one fixture, one way to log in).
browser = test_browser_phone.browser
phone, PHONE = test_browser_phone.phone, test_browser_phone.PHONE

BRANDS = {
    "小米 / Redmi（MIUI、澎湃 OS）": "MIUI/sound_recorder/call_rec",
    "华为 / 荣耀（EMUI、鸿蒙、MagicOS）": "Sounds/CallRecord",
    "OPPO / 一加 / realme（ColorOS、OxygenOS）": "<code>Recordings</code>",
    "vivo / iQOO（OriginOS、Funtouch OS）": "Record/Call",
    "三星（国行）": "Recordings/Call",
}


def test_the_import_page_explains_each_brands_routes_in_chinese(client, alice, alice_case):
    client.force_login(alice)
    page = client.get(f"/cases/{alice_case.pk}/import/").content.decode()
    assert 'id="phone-routes"' in page
    assert "没有 Google Play" in page and "运营商通话详单" in page and "网上营业厅" in page
    assert "OCR" in page
    for brand, folder in BRANDS.items():
        assert brand in page and folder in page, brand
    # Which own backups cannot be read is said plainly; the readable one is named as such.
    assert page.count("无法读取") >= 4
    assert "含 CallLog 记录的 XML 文件）可以直接在这里导入" in page


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium package is not installed")
def test_the_routes_fit_a_phone_screen(browser, live_server, django_user_model, alice_case):
    """At 390×844 in Chinese the routes are on the page, open per brand, with no sideways scroll.
    With GUIDE_SCREENSHOT set, the screen is saved there (the README's guide image)."""
    from evidence.services import case_create

    django_user_model.objects.create_user("lihua", password="evidence-pass-1")
    user = django_user_model.objects.get(username="lihua")
    case = case_create(owner=user, title="花呗 · 催收", creditor="huabei")
    context, page = phone(browser, live_server, "lihua", "evidence-pass-1")
    page.goto(f"{live_server.url}/cases/{case.pk}/import/")
    routes = page.locator("#phone-routes")
    routes.scroll_into_view_if_needed()
    assert routes.is_visible() and "没有 Google Play" in routes.inner_text()
    page.locator("#phone-routes details").nth(1).locator("summary").click()
    assert page.get_by_text("Sounds/CallRecord").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    if os.environ.get("GUIDE_SCREENSHOT"):
        page.screenshot(path=os.environ["GUIDE_SCREENSHOT"])
    context.close()
