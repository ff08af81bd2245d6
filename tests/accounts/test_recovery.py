"""A way back in without e-mail (issue 29, acceptance 3): recovery codes shown once at sign-up, each
good for one new password; a new set from the profile or the API with the password; an e-mail address
added later only once its link is opened."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import ApiToken, RecoveryCode
from ledger.models import AuditEvent

CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")


def sign_up_without_email(client) -> list[str]:
    response = client.post(
        "/accounts/signup/",
        {"username": "dana", "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"},
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/recovery-codes/new/"
    page = client.get("/accounts/recovery-codes/new/")
    codes = CODE.findall(page.content.decode())
    assert len(set(codes)) == 10
    return codes


def test_sign_up_without_email_then_a_recovery_code_sets_a_new_password_once(client, db):
    codes = sign_up_without_email(client)
    user = get_user_model().objects.get(username="dana")
    assert user.email == ""
    # Shown once: the page does not show them again.
    again = client.get("/accounts/recovery-codes/new/")
    assert again.status_code == 302 and not CODE.findall(client.get(again["Location"]).content.decode())
    client.post("/accounts/logout/")

    anonymous = APIClient()
    response = anonymous.post(
        "/api/v1/account/recover/",
        {
            "username": "dana",
            "code": codes[3].lower().replace("-", " "),
            "new_password": "another-pass-phrase-7",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["codes_left"] == 9
    assert client.login(username="dana", password="another-pass-phrase-7")
    assert not client.login(username="dana", password="a-long-pass-phrase-9")

    reused = anonymous.post(
        "/api/v1/account/recover/",
        {"username": "dana", "code": codes[3], "new_password": "third-pass-phrase-5"},
        format="json",
    )
    assert reused.status_code == 400 and "code" in reused.json()["error"]["fields"]
    user.refresh_from_db()
    assert user.check_password("another-pass-phrase-7")
    assert AuditEvent.objects.filter(owner=user, action="account.recover").count() == 1


def test_the_recovery_page_sets_a_new_password_and_the_login_page_leads_to_it(client, db):
    codes = sign_up_without_email(client)
    client.post("/accounts/logout/")
    assert "/accounts/recover/" in client.get("/accounts/login/").content.decode()
    form = {
        "username": "dana",
        "code": codes[0],
        "new_password1": "x-new-pass-phrase-4",
        "new_password2": "x-new-pass-phrase-4",
    }
    done = client.post("/accounts/recover/", form)
    assert done.status_code == 200 and "/accounts/login/" in done.content.decode()
    assert client.login(username="dana", password="x-new-pass-phrase-4")
    client.logout()
    spent = client.post(
        "/accounts/recover/", {**form, "new_password1": "y-pass-phrase-3", "new_password2": "y-pass-phrase-3"}
    )
    assert spent.status_code == 200 and "error" in spent.content.decode()
    assert get_user_model().objects.get(username="dana").check_password("x-new-pass-phrase-4")


def test_a_wrong_code_an_unknown_user_and_a_weak_password_change_nothing(client, alice, db):
    api = APIClient()
    codes = sign_up_without_email(client)
    before = get_user_model().objects.get(username="dana").password
    for body in (
        {"username": "dana", "code": "0000-0000-0000-0000", "new_password": "another-pass-phrase-7"},
        {"username": "nobody", "code": codes[0], "new_password": "another-pass-phrase-7"},
        {"username": "alice", "code": codes[0], "new_password": "another-pass-phrase-7"},
        {"username": "dana", "code": codes[0], "new_password": "123"},
        {"username": "dana", "code": codes[0]},
    ):
        response = api.post("/api/v1/account/recover/", body, format="json")
        assert response.status_code == 400, body
        assert response.json()["error"]["fields"]
    assert get_user_model().objects.get(username="dana").password == before
    assert RecoveryCode.objects.filter(user__username="dana", used_at__isnull=True).count() == 10


def test_guessing_codes_is_throttled_like_the_login(client, db, settings):
    settings.LOGIN_RATE = "3/hour"
    api = APIClient()
    codes = sign_up_without_email(client)
    for _n in range(3):
        assert (
            api.post(
                "/api/v1/account/recover/",
                {"username": "dana", "code": "0000-0000-0000-0000", "new_password": "another-pass-phrase-7"},
                format="json",
            ).status_code
            == 400
        )
    refused = api.post(
        "/api/v1/account/recover/",
        {"username": "dana", "code": codes[0], "new_password": "another-pass-phrase-7"},
        format="json",
    )
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert refused.json()["error"]["code"] == "throttled"
    assert RecoveryCode.objects.filter(user__username="dana", used_at__isnull=True).count() == 10


def test_a_new_set_needs_the_password_and_replaces_the_old_codes(alice, alice_api):
    wrong = alice_api.post("/api/v1/account/recovery-codes/", {"password": "nope"}, format="json")
    assert wrong.status_code == 400 and "password" in wrong.json()["error"]["fields"]
    first = alice_api.post("/api/v1/account/recovery-codes/", {"password": "alice-password-1"}, format="json")
    assert first.status_code == 201 and len(first.json()["codes"]) == 10
    second = alice_api.post(
        "/api/v1/account/recovery-codes/", {"password": "alice-password-1"}, format="json"
    )
    assert set(second.json()["codes"]).isdisjoint(first.json()["codes"])
    api = APIClient()
    old = api.post(
        "/api/v1/account/recover/",
        {"username": "alice", "code": first.json()["codes"][0], "new_password": "another-pass-phrase-7"},
        format="json",
    )
    assert old.status_code == 400
    assert (
        APIClient().post("/api/v1/account/recovery-codes/", {"password": "x"}, format="json").status_code
        == 401
    )
    # Only digests are kept.
    stored = set(RecoveryCode.objects.filter(user=alice).values_list("digest", flat=True))
    assert not stored & {c.replace("-", "") for c in second.json()["codes"]}
    new = api.post(
        "/api/v1/account/recover/",
        {"username": "alice", "code": second.json()["codes"][0], "new_password": "another-pass-phrase-7"},
        format="json",
    )
    assert new.status_code == 200
    # A new password revokes the API tokens, as a password change does.
    assert not ApiToken.objects.filter(user=alice, revoked_at__isnull=True).exists()


def test_the_profile_page_makes_a_new_set_with_the_password(client, alice):
    client.force_login(alice)
    assert "/accounts/recovery-codes/" in client.get("/accounts/profile/").content.decode()
    refused = client.post("/accounts/recovery-codes/", {"password": "wrong"})
    assert refused.status_code == 200 and not CODE.findall(refused.content.decode())
    made = client.post("/accounts/recovery-codes/", {"password": "alice-password-1"})
    assert len(set(CODE.findall(made.content.decode()))) == 10
    assert RecoveryCode.objects.filter(user=alice).count() == 10


def test_an_email_address_is_set_only_when_its_link_is_opened(client, alice):
    client.force_login(alice)
    response = client.post("/accounts/email/", {"email": "alice@example.org"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.email == ""
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.org"]
    link = re.search(r"https?://[^/]+(/accounts/email/confirm/\S+/)", mail.outbox[0].body).group(1)
    tampered = link.replace("/confirm/", "/confirm/x")
    assert client.get(tampered).status_code == 400
    assert client.get(link).status_code == 200
    alice.refresh_from_db()
    assert alice.email == "alice@example.org"
    # Used once: the link names the address it replaced.
    assert client.get(link).status_code == 400
    bad = client.post("/accounts/email/", {"email": "not an address"})
    assert bad.status_code == 200 and len(mail.outbox) == 1
