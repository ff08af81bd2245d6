"""The offline page, fetched by the service worker in the background, never sets the CSRF cookie: a
stale one from before a login would otherwise replace the fresh one and the next form gets 403."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_offline_page_sets_no_csrf_cookie_and_a_form_after_it_is_accepted(django_user_model):
    client = Client(enforce_csrf_checks=True)
    stale = client.get("/accounts/login/").cookies["csrftoken"].value
    django_user_model.objects.create_user(username="fresh", password="a-long-pass-phrase-42")
    client.force_login(django_user_model.objects.get(username="fresh"))
    page = client.get("/cases/new/")
    fresh = client.cookies["csrftoken"].value
    token = page.context["csrf_token"]
    # The service worker's request, carrying the cookie of before the login.
    worker = Client(enforce_csrf_checks=True)
    worker.cookies["csrftoken"] = stale
    offline = worker.get("/offline/")
    assert offline.status_code == 200
    assert "csrftoken" not in offline.cookies
    assert client.cookies["csrftoken"].value == fresh
    created = client.post(
        "/cases/new/", {"csrfmiddlewaretoken": str(token), "title": "花呗", "creditor": "huabei"}
    )
    assert created.status_code == 302, created.status_code
