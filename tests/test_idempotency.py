"""Idempotent creates (api-v1.md, second wave): the same Idempotency-Key from the same user within
24 hours returns the first response and creates nothing more; a key reused with another body is a
409. Pages carry a one-time token, so Back + Save or a double tap creates one object."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.idempotency import idempotency_prune
from accounts.models import IdempotencyKey
from accounts.services import token_create
from complaints.models import Dossier
from evidence.models import Case, EvidenceFile, Incident, PhoneImport
from evidence.services import case_create
from tests.conftest import amr_bytes, calls_xml

SHANGHAI = ZoneInfo("Asia/Shanghai")


def keyed(client, path, data, key, **extra):
    if "format" not in extra and not any(isinstance(v, SimpleUploadedFile) for v in data.values()):
        extra["format"] = "json"
    return client.post(path, data, HTTP_IDEMPOTENCY_KEY=key, **extra)


def upload(name="通话录音@催收(17012345678)_20240315231000.amr", frames=100):
    return SimpleUploadedFile(name, amr_bytes(frames=frames))


# Each create endpoint: its path, a body (made fresh per request: uploads are read once), and what to
# count. `incident` and `case` are the fixtures' ids.
ENDPOINTS = {
    "cases": ("/api/v1/cases/", lambda ids: {"title": "借呗", "creditor": "jiebei"}, lambda: Case.objects),
    "incidents": (
        "/api/v1/incidents/",
        lambda ids: {"case": ids["case"], "kind": "call", "occurred_at": "2024-03-16T08:00:00+08:00"},
        lambda: Incident.objects,
    ),
    "incident_evidence": (
        "/api/v1/incidents/{incident}/evidence/",
        lambda ids: {"file": upload()},
        lambda: EvidenceFile.objects,
    ),
    "evidence": (
        "/api/v1/evidence/",
        lambda ids: {"case": str(ids["case"]), "file": upload()},
        lambda: EvidenceFile.objects,
    ),
    "imports": (
        "/api/v1/imports/",
        lambda ids: {
            "case": str(ids["case"]),
            "file": SimpleUploadedFile(
                "calls.xml",
                calls_xml([("17012345678", datetime(2024, 3, 14, 23, 0, tzinfo=SHANGHAI), 1, 30, "催收")]),
            ),
        },
        lambda: PhoneImport.objects,
    ),
    "dossiers": (
        "/api/v1/dossiers/",
        lambda ids: {"case": ids["case"], "addressee": "alipay"},
        lambda: Dossier.objects,
    ),
}


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_the_same_key_twice_creates_one_object_and_returns_the_first_response(
    name, alice_api, alice_incident
):
    path, body, counted = ENDPOINTS[name]
    ids = {"case": alice_incident.case_id, "incident": alice_incident.pk}
    path = path.format(**ids)
    before = counted().count()
    first = keyed(alice_api, path, body(ids), "key-1")
    assert first.status_code in (201, 202), first.content
    after_first = counted().count()
    assert after_first == before + 1
    incidents_after_first = Incident.objects.count()

    again = keyed(alice_api, path, body(ids), "key-1")
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again["Idempotent-Replayed"] == "true"
    assert counted().count() == after_first and Incident.objects.count() == incidents_after_first

    # Without a key, or with another key, the same request creates again (nothing else changed).
    other = keyed(alice_api, path, body(ids), "key-2")
    assert other.status_code in (200, 201, 202)


@pytest.mark.parametrize("name", ["cases", "incident_evidence"])
def test_a_key_reused_with_another_body_is_409_and_creates_nothing(name, alice_api, alice_incident):
    path, body, counted = ENDPOINTS[name]
    ids = {"case": alice_incident.case_id, "incident": alice_incident.pk}
    path = path.format(**ids)
    assert keyed(alice_api, path, body(ids), "same").status_code == 201
    count = counted().count()
    changed = body(ids)
    if "file" in changed:
        changed["file"] = upload(frames=101)  # same name, other bytes
    else:
        changed["title"] = "另一个"
    response = keyed(alice_api, path, changed, "same")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert counted().count() == count


def test_keys_belong_to_their_user(alice_api, bob_api):
    first = keyed(alice_api, "/api/v1/cases/", {"title": "A", "creditor": "huabei"}, "shared")
    second = keyed(bob_api, "/api/v1/cases/", {"title": "A", "creditor": "huabei"}, "shared")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert Case.objects.count() == 2


def test_a_failed_request_does_not_use_up_its_key(alice_api):
    refused = keyed(alice_api, "/api/v1/cases/", {"title": "", "creditor": "visa"}, "retry-me")
    assert refused.status_code == 400
    created = keyed(alice_api, "/api/v1/cases/", {"title": "借呗", "creditor": "jiebei"}, "retry-me")
    assert created.status_code == 201 and Case.objects.count() == 1


def test_a_key_older_than_a_day_is_forgotten_and_pruned(alice_api):
    first = keyed(alice_api, "/api/v1/cases/", {"title": "A", "creditor": "huabei"}, "old")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    again = keyed(alice_api, "/api/v1/cases/", {"title": "A", "creditor": "huabei"}, "old")
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]

    IdempotencyKey.objects.create(
        user=IdempotencyKey.objects.get().user, scope="api", key="stale", fingerprint="x", status=201
    )
    IdempotencyKey.objects.filter(key="stale").update(created_at=timezone.now() - timedelta(days=2))
    assert idempotency_prune() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["old"]


def test_an_unusable_key_is_refused(alice_api):
    response = keyed(alice_api, "/api/v1/cases/", {"title": "A", "creditor": "huabei"}, "x" * 300)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert Case.objects.count() == 0


def test_concurrent_duplicates_create_one_object(live_server, django_user_model):
    owner = django_user_model.objects.create_user("ivan", password="ivan-password-1")
    case = case_create(owner=owner, title="并发", creditor="huabei")
    _token, secret = token_create(user=owner, name="load")
    recording = amr_bytes(frames=300)
    start = threading.Barrier(6)

    def send(_index):
        start.wait()
        response = requests.post(
            f"{live_server.url}/api/v1/evidence/",
            headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": "tap-tap"},
            data={"case": str(case.pk)},
            files={"file": ("通话录音@催收(17012345678)_20240315231000.amr", recording)},
            timeout=120,
        )
        return response.status_code, response.content

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(send, range(6)))

    assert {status for status, _body in answers} == {201}
    assert len({body for _status, body in answers}) == 1
    assert EvidenceFile.objects.filter(owner=owner).count() == 1
    assert Incident.objects.filter(case=case).count() == 1


# --- pages: a one-time token in the form -------------------------------------------------------


def form_token(html: str) -> str:
    match = re.search(r'name="once"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="once"', html)
    assert match, "the form carries no one-time token"
    return match.group(1) or match.group(2)


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def test_a_log_form_posted_twice_creates_one_incident(logged_in, alice_case):
    page = logged_in.get(f"/cases/{alice_case.pk}/log/call/").content.decode()
    data = {"occurred_at": "2024-03-15T23:40", "counterpart_number": "17012345678", "once": form_token(page)}
    first = logged_in.post(f"/cases/{alice_case.pk}/log/call/", data)
    incident = Incident.objects.get()
    assert first.status_code == 302 and first["Location"] == f"/incidents/{incident.pk}/"

    second = logged_in.post(f"/cases/{alice_case.pk}/log/call/", data, follow=True)
    assert Incident.objects.count() == 1
    assert second.redirect_chain[0][0] == f"/incidents/{incident.pk}/"
    assert '<li class="info">' in second.content.decode()  # "this form had already been saved"

    # A fresh form (a new token) with the same call asks first (one real call, one row); told it
    # is a different call, it logs a new incident.
    fresh = form_token(logged_in.get(f"/cases/{alice_case.pk}/log/call/").content.decode())
    assert fresh != data["once"]
    asked = logged_in.post(f"/cases/{alice_case.pk}/log/call/", {**data, "once": fresh})
    assert asked.status_code == 200 and 'id="possible-duplicate"' in asked.content.decode()
    assert Incident.objects.count() == 1
    logged_in.post(f"/cases/{alice_case.pk}/log/call/", {**data, "once": fresh, "log_anyway": "1"})
    assert Incident.objects.count() == 2


def test_an_invalid_post_keeps_its_token_usable(logged_in, alice_case):
    token = form_token(logged_in.get(f"/cases/{alice_case.pk}/log/sms/").content.decode())
    refused = logged_in.post(
        f"/cases/{alice_case.pk}/log/sms/", {"occurred_at": "2024-13-45T99:00", "once": token}
    )
    assert refused.status_code == 200 and form_token(refused.content.decode()) == token
    logged_in.post(f"/cases/{alice_case.pk}/log/sms/", {"occurred_at": "2024-03-15T10:00", "once": token})
    assert Incident.objects.count() == 1


def test_the_case_form_posted_twice_creates_one_case(logged_in):
    token = form_token(logged_in.get("/cases/new/").content.decode())
    data = {"title": "我的花呗", "creditor": "huabei", "once": token}
    first = logged_in.post("/cases/new/", data)
    case = Case.objects.get()
    assert first["Location"] == f"/cases/{case.pk}/"
    second = logged_in.post("/cases/new/", data)
    assert second.status_code == 302 and second["Location"] == f"/cases/{case.pk}/"
    assert Case.objects.count() == 1


def test_a_double_tap_over_http_creates_one_incident(live_server, django_user_model):
    """Two posts of one form at the same moment, through the real server and its CSRF check."""
    owner = django_user_model.objects.create_user("jing", password="jing-password-1")
    case = case_create(owner=owner, title="双击", creditor="huabei")
    session = requests.Session()
    login = session.get(f"{live_server.url}/accounts/login/").text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login).group(1)
    session.post(
        f"{live_server.url}/accounts/login/",
        data={"username": "jing", "password": "jing-password-1", "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{live_server.url}/accounts/login/"},
    )
    url = f"{live_server.url}/cases/{case.pk}/log/call/"
    page = session.get(url).text
    data = {
        "csrfmiddlewaretoken": re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1),
        "occurred_at": "2024-03-15T23:40",
        "once": form_token(page),
    }
    start = threading.Barrier(4)

    def tap(_index):
        start.wait()
        response = session.post(url, data=data, headers={"Referer": url}, allow_redirects=False, timeout=60)
        return response.status_code, response.headers.get("Location")

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(tap, range(4)))
    incident = Incident.objects.get(case=case)
    assert answers == [(302, f"/incidents/{incident.pk}/")] * 4


def test_without_a_token_a_form_still_saves(logged_in, alice_case):
    """Older pages (or scripts) without the token keep working as before."""
    for _ in range(2):
        logged_in.post(f"/cases/{alice_case.pk}/log/call/", {"occurred_at": "2024-03-15T23:40"})
    assert Incident.objects.count() == 2


def test_tokens_are_per_user(client, alice, bob, alice_case):
    bob_case = case_create(owner=bob, title="B", creditor="huabei")
    client.force_login(alice)
    client.post(f"/cases/{alice_case.pk}/log/call/", {"occurred_at": "2024-03-15T23:40", "once": "t" * 22})
    client.force_login(bob)
    client.post(f"/cases/{bob_case.pk}/log/call/", {"occurred_at": "2024-03-15T23:40", "once": "t" * 22})
    assert (
        Incident.objects.filter(case=alice_case).count()
        == Incident.objects.filter(case=bob_case).count()
        == 1
    )
