"""The PIN lock on the server side (issue 29): set only with the password, stored hashed, checked
with five wrong tries allowed before every try is refused for a while."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Profile
from accounts.services import pin_set


def check(client, pin):
    return client.post("/accounts/pin/check/", json.dumps({"pin": pin}), content_type="application/json")


def test_a_pin_needs_the_password_and_only_its_hash_is_kept(alice):
    with pytest.raises(ValidationError):
        pin_set(user=alice, password="wrong", pin="2468")
    with pytest.raises(ValidationError):
        pin_set(user=alice, password="alice-password-1", pin="12a4")
    pin_set(user=alice, password="alice-password-1", pin="2468")
    assert "2468" not in Profile.objects.get(user=alice).pin_hash


def test_five_wrong_pins_then_even_the_right_one_is_refused(client, alice):
    pin_set(user=alice, password="alice-password-1", pin="2468")
    client.force_login(alice)
    assert check(client, "2468").status_code == 200
    for _n in range(5):
        assert check(client, "0000").status_code == 400
    refused = check(client, "2468")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    # The server's own login is untouched: the session still works.
    assert client.get("/cases/").status_code == 200


def test_without_a_pin_nothing_matches_and_no_lock_is_drawn(client, alice):
    client.force_login(alice)
    assert check(client, "").status_code == 400
    assert 'id="app-lock"' not in client.get("/cases/").content.decode()
    assert 'id="quick-exit"' in client.get("/cases/").content.decode()


def test_the_pin_page_turns_the_lock_on_and_off_with_the_password(client, alice):
    client.force_login(alice)
    client.post("/accounts/pin/", {"password": "alice-password-1", "pin": "13579", "lock_minutes": 2})
    assert 'data-minutes="2"' in client.get("/cases/").content.decode()
    client.post("/accounts/pin/", {"password": "nope", "pin": "", "lock_minutes": 2})
    assert Profile.objects.get(user=alice).pin_hash
    client.post("/accounts/pin/", {"password": "alice-password-1", "pin": "", "lock_minutes": 2})
    assert not Profile.objects.get(user=alice).pin_hash
