"""Accounts under attack: password guessing and mass sign-up are throttled, a changed password
revokes API tokens, the data folder is private, and reset links never go to the log in production."""

from __future__ import annotations

import io
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.evidence.test_security import production_env

BASE_DIR = Path(__file__).resolve().parents[2]


def login_form(session: requests.Session, base: str) -> str:
    page = session.get(f"{base}/accounts/login/")
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def test_password_guessing_over_http_is_stopped_with_429(live_server, alice, settings):
    settings.LOGIN_RATE = "5/10min"
    session = requests.Session()
    base = live_server.url
    statuses = []
    for _attempt in range(8):
        token = login_form(session, base)
        response = session.post(
            f"{base}/accounts/login/",
            allow_redirects=False,
            data={"csrfmiddlewaretoken": token, "username": "alice", "password": "wrong"},
            headers={"Referer": f"{base}/accounts/login/"},
        )
        statuses.append(response.status_code)
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429] * 3
    assert int(response.headers["Retry-After"]) > 0
    # Even the right password waits from this address (its owner elsewhere does not: test_throttle_fairness).
    token = login_form(session, base)
    right = session.post(
        f"{base}/accounts/login/",
        allow_redirects=False,
        data={"csrfmiddlewaretoken": token, "username": "alice", "password": "alice-password-1"},
        headers={"Referer": f"{base}/accounts/login/"},
    )
    assert right.status_code == 429


def test_mass_sign_up_over_http_is_stopped_with_429(live_server, settings):
    settings.SIGNUP_RATE = "3/hour"
    base = live_server.url
    statuses = []
    for n in range(5):
        session = requests.Session()  # a bot does not keep its session between sign-ups
        page = session.get(f"{base}/accounts/signup/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = session.post(
            f"{base}/accounts/signup/",
            allow_redirects=False,
            headers={"Referer": page.url},
            data={
                "csrfmiddlewaretoken": token,
                "username": f"bot{n}",
                "password1": "a-long-pass-phrase-9",
                "password2": "a-long-pass-phrase-9",
            },
        )
        statuses.append(response.status_code)
    assert statuses == [302, 302, 302, 429, 429]
    assert int(response.headers["Retry-After"]) > 0


def test_a_changed_password_revokes_api_tokens(client, alice, alice_api):
    assert alice_api.get("/api/v1/cases/").status_code == 200
    client.force_login(alice)
    page = client.get("/accounts/password/change/").content.decode()
    assert "API token" in page or "令牌" in page  # the page says what will happen
    response = client.post(
        "/accounts/password/change/",
        {
            "old_password": "alice-password-1",
            "new_password1": "another-long-pass-7",
            "new_password2": "another-long-pass-7",
        },
    )
    assert response.status_code == 302
    assert alice_api.get("/api/v1/cases/").status_code == 401


def test_a_password_set_anywhere_revokes_tokens(alice, alice_api):
    alice.set_password("set-by-an-admin-42")
    alice.save()
    assert alice_api.get("/api/v1/cases/").status_code == 401


def test_saving_a_user_without_a_new_password_keeps_tokens(alice, alice_api):
    alice.email = "alice@example.org"
    alice.save()
    assert alice_api.get("/api/v1/cases/").status_code == 200


def test_the_data_folder_and_database_are_private(tmp_path):
    data = tmp_path / "data"
    env = {**os.environ, "DATA_DIR": str(data)}
    env.pop("DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True
    )
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    database = data / "db.sqlite3"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def test_stored_evidence_files_are_private(alice_incident, alice_api, evidence_storage):
    if evidence_storage["kind"] != "filesystem":
        pytest.skip("object storage has no file modes")
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import png_bytes

    response = alice_api.post(
        f"/api/v1/incidents/{alice_incident.pk}/evidence/",
        {"file": SimpleUploadedFile("shot.png", png_bytes())},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    files = [p for p in evidence_storage["path"].rglob("*") if p.is_file()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files), [
        (p, oct(p.stat().st_mode)) for p in files
    ]


def test_deploy_check_refuses_a_mail_backend_that_logs_reset_links(tmp_path):
    for backend in (
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
    ):
        env = production_env(tmp_path, EMAIL_BACKEND=backend)
        result = subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode != 0
        assert "EMAIL_BACKEND" in result.stdout + result.stderr


# --- who may sign up ---------------------------------------------------------------------------------


def signup(client, username, **extra):
    return client.post(
        "/accounts/signup/",
        {
            "username": username,
            "password1": "a-long-pass-phrase-9",
            "password2": "a-long-pass-phrase-9",
            **extra,
        },
    )


def test_closed_sign_up_refuses_the_page_and_the_form(db, client, settings, django_user_model):
    settings.SIGNUP_MODE = "closed"
    assert client.get("/accounts/signup/").status_code == 403
    assert signup(client, "mallory").status_code == 403
    assert not django_user_model.objects.filter(username="mallory").exists()


def test_invite_mode_accepts_only_a_valid_unused_code(db, settings, django_user_model):
    from django.core.management import call_command
    from django.test import Client

    settings.SIGNUP_MODE = "invite"
    out = io.StringIO()
    call_command("invite", "--count", "2", stdout=out)
    first, second = out.getvalue().split()
    assert "邀请码" in Client().get("/accounts/signup/").content.decode()
    assert signup(Client(), "nocode").status_code == 200
    assert signup(Client(), "wrongcode", invite_code="0000-0000-0000-0000").status_code == 200
    assert signup(Client(), "erin", invite_code=first.lower()).status_code == 302
    assert signup(Client(), "again", invite_code=first).status_code == 200  # used once, never twice
    assert signup(Client(), "frank", invite_code=second).status_code == 302
    assert set(django_user_model.objects.values_list("username", flat=True)) == {"erin", "frank"}


def test_a_user_at_quota_gets_413_naming_the_quota(alice_api, alice_incident, settings, client, alice):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from evidence.models import EvidenceFile
    from tests.conftest import amr_bytes

    first = alice_api.post(
        f"/api/v1/incidents/{alice_incident.pk}/evidence/",
        {"file": SimpleUploadedFile("a.amr", amr_bytes(frames=50))},
        format="multipart",
    )
    assert first.status_code == 201
    settings.EVIDENCE_QUOTA_BYTES = first.json()["size"] + 100
    second = alice_api.post(
        f"/api/v1/incidents/{alice_incident.pk}/evidence/",
        {"file": SimpleUploadedFile("b.amr", amr_bytes(frames=80))},
        format="multipart",
    )
    assert second.status_code == 413 and second.json()["error"]["code"] == "quota_exceeded"
    assert "limit" in second.json()["error"]["message"] or "上限" in second.json()["error"]["message"]
    assert EvidenceFile.objects.filter(incident=alice_incident).count() == 1
    client.force_login(alice)
    assert "storage-used" in client.get("/cases/").content.decode()
