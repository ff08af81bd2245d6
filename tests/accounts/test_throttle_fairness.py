"""Throttles that stop guessing without locking the owner out, reset mails that cannot flood an
inbox, and counters that are shared whenever several processes serve (issue 25, accounts)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.checks import run_checks

from accounts.checks import throttle_cache_shared

A, B = "203.0.113.7", "198.51.100.20"
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REDIS = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://cache:6379/0"}
}


def log_in(client, password: str, address: str):
    return client.post("/accounts/login/", {"username": "alice", "password": password}, REMOTE_ADDR=address)


def test_a_throttled_address_does_not_lock_the_owner_out(client, alice, settings):
    settings.LOGIN_RATE = "5/10min"
    statuses = [log_in(client, "wrong", A).status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    # The right password from the throttled address waits too...
    assert log_in(client, "alice-password-1", A).status_code == 429
    # ...but from the owner's own address it logs in.
    owner = log_in(client, "alice-password-1", B)
    assert owner.status_code == 302, owner.content
    assert client.session.get("_auth_user_id") == str(alice.pk)


def test_failures_from_many_addresses_only_slow_the_account_down(client, alice, settings):
    settings.LOGIN_RATE = "5/10min"
    settings.LOGIN_ACCOUNT_RATE = "6/hour"
    settings.LOGIN_ACCOUNT_DELAY = 0.05
    # Ten addresses, two wrong guesses each: none of them is throttled, the account is past its rate.
    for n in range(10):
        for _ in range(2):
            assert log_in(client, "wrong", f"192.0.2.{n + 1}").status_code == 200
    # Past the account's rate every attempt waits a moment first; the right password still works.
    assert log_in(client, "alice-password-1", B).status_code == 302


def test_a_guess_and_the_owner_count_separately_for_one_address_pair(client, alice, bob, settings):
    settings.LOGIN_RATE = "4/10min"
    for _ in range(3):
        assert log_in(client, "wrong", A).status_code == 200
    # Failures are counted per account and address: bob logging in from A is not refused for them.
    response = client.post(
        "/accounts/login/", {"username": "bob", "password": "bob-password-1"}, REMOTE_ADDR=A
    )
    assert response.status_code == 302


def request_reset(client, email: str, address: str = A):
    return client.post("/accounts/password/reset/", {"email": email}, REMOTE_ADDR=address)


def test_fifteen_reset_requests_for_one_account_send_three_mails(client, alice, settings):
    alice.email = "alice@example.org"
    alice.save()
    settings.PASSWORD_RESET_ACCOUNT_RATE = "3/hour"
    settings.PASSWORD_RESET_RATE = "100/hour"
    statuses = [request_reset(client, "alice@example.org", f"192.0.2.{n + 1}").status_code for n in range(15)]
    assert statuses == [302] * 3 + [429] * 12
    assert len(mail.outbox) == 3


def test_reset_requests_from_one_address_are_throttled_whatever_they_ask_for(client, db, settings):
    settings.PASSWORD_RESET_RATE = "5/hour"
    statuses = [request_reset(client, f"someone{n}@example.org").status_code for n in range(15)]
    assert statuses == [302] * 5 + [429] * 10
    refused = request_reset(client, "another@example.org")
    assert int(refused["Retry-After"]) > 0


def test_the_default_rates_throttle_fifteen_reset_requests(client, alice):
    alice.email = "alice@example.org"
    alice.save()
    statuses = [request_reset(client, "alice@example.org").status_code for _ in range(15)]
    assert 429 in statuses and statuses.index(429) <= 5
    assert set(statuses[statuses.index(429) :]) == {429}


@pytest.mark.parametrize(
    ("caches", "processes", "errors"),
    [
        (LOCMEM, 3, 1),
        (LOCMEM, 1, 0),
        (REDIS, 3, 0),
        ({"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}, 1, 1),
    ],
)
def test_the_deploy_check_wants_a_shared_throttle_cache_when_several_processes_serve(
    settings, caches, processes, errors
):
    settings.CACHES = caches
    settings.WEB_CONCURRENCY = processes
    found = throttle_cache_shared(None)
    assert len(found) == errors
    if errors:
        assert found[0].id == "accounts.E002" and "CACHE_URL" in found[0].hint


def test_the_throttle_cache_check_runs_with_check_deploy(settings):
    settings.CACHES = LOCMEM
    settings.WEB_CONCURRENCY = 3
    ids = [message.id for message in run_checks(include_deployment_checks=True)]
    assert "accounts.E002" in ids
    assert "accounts.E002" not in [message.id for message in run_checks()]


def test_reset_links_never_reach_the_log(client, alice, caplog):
    """The request line names the reset page without the user id and token, and so does every line
    the console handler writes."""
    import logging

    from config.request_log import RedactSecrets

    alice.email = "alice@example.org"
    alice.save()
    request_reset(client, "alice@example.org")
    link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+)", mail.outbox[0].body).group(1)
    uid, token = link.rstrip("/").split("/")[-2:]
    with caplog.at_level(logging.INFO, logger="request"):
        followed = client.get(link, follow=True)
    assert followed.status_code == 200
    logged = "\n".join(
        record.getMessage() + " " + str(getattr(record, "path", "")) for record in caplog.records
    )
    assert "/accounts/password/reset/<redacted>/" in logged
    assert token not in logged and uid not in logged
    # Lines from elsewhere (Django's own "Internal Server Error: <path>") are cleaned by the handler.
    record = logging.LogRecord(
        "django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s", (link,), None
    )
    RedactSecrets().filter(record)
    assert token not in record.getMessage() and "<redacted>" in record.getMessage()
    console = [
        h for h in logging.getLogger().handlers if any(isinstance(f, RedactSecrets) for f in h.filters)
    ]
    assert console, "the console handler has no RedactSecrets filter"
