"""The phone-automation help page and the installable web app."""

from __future__ import annotations

import json

from django.contrib.staticfiles import finders


def test_help_page_gives_a_token_and_the_endpoint_in_both_languages(client, alice, alice_case):
    client.force_login(alice)
    page = client.get("/help/phone/").content.decode()
    assert "/api/v1/evidence/" in page and f"case = {alice_case.pk}" in page and "HTTP Shortcuts" in page
    assert "快捷指令" in page and "Tasker" in page
    created = client.post("/help/phone/", {"name": "HTTP Shortcuts"})
    secret = created.context["new_secret"]
    assert secret and f"Bearer {secret}" in created.content.decode()
    client.post("/language/", {"language": "en", "next": "/"})
    english = client.get("/help/phone/").content.decode()
    assert "Send evidence from the phone automatically" in english and "iPhone: Shortcuts" in english


def test_the_site_is_an_installable_web_app(client, db):
    manifest = json.loads(open(finders.find("manifest.webmanifest"), encoding="utf-8").read())
    assert manifest["display"] == "standalone" and manifest["start_url"]
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert finders.find(icon["src"].removeprefix("/static/"))
    page = client.get("/accounts/login/").content.decode()
    assert 'rel="manifest"' in page and "apple-touch-icon" in page
    worker = client.get("/sw.js")
    assert worker.status_code == 200 and worker["Service-Worker-Allowed"] == "/"
    assert worker["Content-Type"].startswith("application/javascript")
