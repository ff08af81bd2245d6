"""Accounts: sign up, log in and out, password change and reset, profile, tokens page."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.core import mail

from accounts.models import ApiToken, Profile


def test_sign_up_logs_in_and_creates_a_profile_with_defaults(client, db):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "carol",
            "email": "carol@example.org",
            "password1": "a-long-pass-phrase-9",
            "password2": "a-long-pass-phrase-9",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/recovery-codes/new/"
    profile = Profile.objects.get(user__username="carol")
    assert profile.time_zone == "Asia/Shanghai" and profile.language == "zh-hans"
    assert client.get("/cases/").status_code == 200


def test_log_in_and_log_out(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "alice-password-1"})
    assert response.status_code == 302
    assert client.get("/cases/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/cases/").status_code == 302


def test_password_change(client, alice):
    client.force_login(alice)
    response = client.post(
        "/accounts/password/change/",
        {
            "old_password": "alice-password-1",
            "new_password1": "new-long-pass-phrase-7",
            "new_password2": "new-long-pass-phrase-7",
        },
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("new-long-pass-phrase-7")


def test_password_reset_sends_a_working_link(client, alice):
    alice.email = "alice@example.org"
    alice.save()
    client.post("/accounts/password/reset/", {"email": "alice@example.org"})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    action = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    response = client.post(
        action, {"new_password1": "reset-long-pass-9", "new_password2": "reset-long-pass-9"}
    )
    assert response.status_code == 302
    assert get_user_model().objects.get(pk=alice.pk).check_password("reset-long-pass-9")


def test_profile_sets_time_zone_and_language(client, alice):
    client.force_login(alice)
    response = client.post(
        "/accounts/profile/",
        {
            "display_name": "爱丽丝",
            "phone": "13800000000",
            "id_number": "",
            "time_zone": "Europe/London",
            "language": "en",
        },
    )
    assert response.status_code == 302
    profile = Profile.objects.get(user=alice)
    assert profile.time_zone == "Europe/London" and profile.language == "en"
    assert client.get("/cases/")["Content-Language"] == "en"
    bad = client.post("/accounts/profile/", {"time_zone": "Mars/Olympus", "language": "en"})
    assert bad.status_code == 200 and bad.context["form"].errors["time_zone"]


def test_tokens_page_shows_the_secret_once_and_revokes(client, alice):
    client.force_login(alice)
    response = client.post("/accounts/tokens/", {"name": "HTTP Shortcuts"})
    secret = response.context["new_secret"]
    assert secret in response.content.decode()
    token = ApiToken.objects.get(user=alice)
    assert token.digest != secret and secret not in token.digest
    assert secret not in client.get("/accounts/tokens/").content.decode()
    client.post(f"/accounts/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None
