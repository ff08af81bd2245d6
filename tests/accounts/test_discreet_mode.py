"""Discreet mode (issue 29): someone glancing at the phone reads "笔记" (Notes) with a notepad icon,
on the home screen, in the tab and in the header, instead of the app's name. The login is unchanged."""

from __future__ import annotations

import json
import re

import http_ece
from django.contrib.staticfiles import finders

from accounts.models import Profile
from ledger.models import AuditEvent
from tests.complaints.test_reminder_push import browser_keys, unb64url
from tests.complaints.test_reminder_push import push_service as push_service  # a fixture, used by name

CN = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def title_of(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()


def brand_of(html: str) -> str:
    return re.search(r'<a class="brand"[^>]*>(.*?)</a>', html, re.S).group(1).strip()


def manifest(client) -> dict:
    response = client.get("/accounts/app.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/manifest+json")
    assert "private" in response["Cache-Control"]
    return json.loads(response.content)


def save_profile(client, *, discreet: bool):
    data = {
        "display_name": "Alice",
        "phone": "",
        "id_number": "",
        "time_zone": "Asia/Shanghai",
        "language": "zh-hans",
    }
    if discreet:
        data["discreet"] = "on"
    response = client.post("/accounts/profile/", data)
    assert response.status_code == 302, response.content.decode()[:2000]


def test_without_discreet_mode_the_app_keeps_its_name_and_icon(client, alice, alice_case):
    client.force_login(alice)
    shown = manifest(client)
    assert shown["name"].startswith("催收留证") and shown["short_name"] == "催收留证"
    assert [icon["src"] for icon in shown["icons"]] == [
        "/static/icons/icon-192.png",
        "/static/icons/icon-512.png",
    ]
    assert shown["share_target"]["action"] == "/share/receive/"
    html = client.get("/cases/", **CN).content.decode()
    assert "催收留证" in title_of(html) and brand_of(html) == "催收留证"
    assert 'href="/accounts/app.webmanifest"' in html


def test_discreet_mode_names_the_app_notes_everywhere_a_glance_reaches(client, alice, alice_case):
    client.force_login(alice)
    save_profile(client, discreet=True)
    assert Profile.objects.get(user=alice).discreet is True
    assert AuditEvent.objects.filter(owner=alice, action="profile.update").exists()

    shown = manifest(client)
    assert shown["name"] == shown["short_name"] == "笔记"
    assert "催收" not in json.dumps(shown, ensure_ascii=False)
    assert [icon["sizes"] for icon in shown["icons"]] == ["192x192", "512x512"]
    for icon in shown["icons"]:
        assert "notes-" in icon["src"] and finders.find(icon["src"].removeprefix("/static/"))
    assert shown["id"] == "/cases/"  # the same installed app, renamed, not a second one
    assert shown["share_target"]["action"] == "/share/receive/"  # sharing a recording still works

    for path in ("/cases/", f"/cases/{alice_case.pk}/", "/accounts/profile/"):
        html = client.get(path, **CN).content.decode()
        assert title_of(html) == "笔记", path
        assert brand_of(html) == "笔记", path
        assert "notes-apple-touch-icon.png" in html and "icons/apple-touch-icon.png" not in html


def test_after_logging_out_the_device_stays_discreet_but_still_asks_for_the_password(client, alice):
    client.force_login(alice)
    save_profile(client, discreet=True)
    client.get("/cases/")  # the next page remembers the look on this device
    client.post("/accounts/logout/")
    assert client.get("/cases/").status_code == 302  # nothing of this lets anyone in
    login = client.get("/accounts/login/", **CN).content.decode()
    assert "催收" not in title_of(login) and brand_of(login) == "笔记"
    assert manifest(client)["name"] == "笔记"


def test_turning_discreet_mode_off_brings_the_name_back(client, alice):
    client.force_login(alice)
    save_profile(client, discreet=True)
    client.get("/cases/")
    save_profile(client, discreet=False)
    assert manifest(client)["short_name"] == "催收留证"
    client.get("/cases/")
    client.post("/accounts/logout/")
    login = client.get("/accounts/login/", **CN).content.decode()
    assert "催收留证" in title_of(login)


def test_another_device_that_never_saw_discreet_mode_shows_the_usual_name(client, db):
    login = client.get("/accounts/login/", **CN).content.decode()
    assert "催收留证" in title_of(login)
    assert manifest(client)["short_name"] == "催收留证"


def test_a_reminder_pushed_in_discreet_mode_says_nothing_of_what_it_is_about(push_service, alice, alice_api):
    from accounts.push import push_send

    Profile.objects.filter(user=alice).update(discreet=True)
    private, keys = browser_keys()
    endpoint = f"{push_service.url}/send/xyz"
    assert (
        alice_api.post(
            "/api/v1/push/subscriptions/", {"endpoint": endpoint, "keys": keys}, format="json"
        ).status_code
        == 201
    )
    assert push_send(user=alice, title="投诉回复期限 2026-03-27", body="GD20260312001", url="/cases/1/") == 1
    request = push_service.received[0]
    message = json.loads(
        http_ece.decrypt(
            request["body"], private_key=private, auth_secret=unb64url(keys["auth"]), version="aes128gcm"
        )
    )
    assert message["title"] == "笔记" and message["body"] == "你有一条新笔记。"
    assert message["icon"].endswith("notes-192.png") and message["url"] == "/cases/1/"
    assert "GD20260312001" not in json.dumps(message, ensure_ascii=False)
