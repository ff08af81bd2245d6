"""Security baseline: CSP on every page, no inline script, a clean deploy check, CSRF on forms."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]


def production_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
            "DJANGO_ALLOWED_HOSTS": "evidence.example.org",
            "DATA_DIR": str(tmp_path),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "SITE_URL": "https://evidence.example.org",
            # Several web processes count throttles in one shared cache (accounts.checks).
            "CACHE_URL": "redis://cache.internal:6379/0",
        },
        **extra,
    )
    return env


class ScriptAudit(HTMLParser):
    """Collects inline scripts and inline event handlers, which the CSP would block."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self._in_script_without_src = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in attributes:
            if name.startswith("on"):
                self.problems.append(f"inline handler {name} on <{tag}>")
        if tag == "script":
            self._in_script_without_src = "src" not in attributes
        if tag == "a" and (attributes.get("href") or "").lower().startswith("javascript:"):
            self.problems.append("javascript: link")

    def handle_data(self, data):
        if self._in_script_without_src and data.strip():
            self.problems.append("inline <script>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script_without_src = False


@pytest.fixture
def pages(client, alice, alice_case, alice_incident):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from evidence.services import evidence_store
    from tests.conftest import png_bytes

    evidence_store(incident=alice_incident, upload=SimpleUploadedFile("a.png", png_bytes()))
    from django.test import Client

    anonymous = [
        (Client(), url) for url in ("/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/")
    ]
    client.force_login(alice)
    logged_in = [
        "/cases/",
        "/cases/new/",
        f"/cases/{alice_case.pk}/",
        f"/cases/{alice_case.pk}/edit/",
        f"/cases/{alice_case.pk}/log/call/",
        f"/cases/{alice_case.pk}/log/visit/",
        f"/incidents/{alice_incident.pk}/",
        f"/incidents/{alice_incident.pk}/edit/",
        "/accounts/profile/",
        "/accounts/tokens/",
        "/accounts/password/change/",
    ]
    return anonymous + [(client, url) for url in logged_in]


def test_every_page_has_a_csp_and_no_inline_script(pages):
    for client, url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy, url
        assert "unsafe-inline" not in policy
        audit = ScriptAudit()
        audit.feed(response.content.decode())
        assert audit.problems == [], (url, audit.problems)


def test_post_forms_need_a_csrf_token(alice):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post("/cases/new/", {"title": "x", "creditor": "huabei"}).status_code == 403


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = production_env(tmp_path)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = production_env(tmp_path)
    env.pop("DJANGO_SECRET_KEY")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr


def test_production_settings_turn_on_secure_cookies_and_hsts(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0, s.SECURE_SSL_REDIRECT)"
    )
    env = production_env(tmp_path, DJANGO_SETTINGS_MODULE="config.settings")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.stdout.split() == ["True", "True", "True", "True"], result.stderr
