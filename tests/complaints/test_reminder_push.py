"""Reminders that arrive without e-mail (issue 29, acceptance 2): a due reminder is POSTed by Web
Push to every subscription of the owner (a local push endpoint here, whose payload the test decrypts
with the subscription's own private key), listed in the app with a badge, and needs no e-mail."""

from __future__ import annotations

import base64
import json
import os
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core import mail

from accounts.models import Notification, PushSubscription
from complaints.followup import complaint_log, reminders_send

SHANGHAI = ZoneInfo("Asia/Shanghai")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService:
    """A push service on a local port: it keeps every request it gets and answers `status`."""

    def __init__(self, status: int = 201):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                """Quiet: the test reads what arrived from `received`, not from stderr."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def push_service(settings, tmp_path):
    settings.PUSH_SERVICE_ORIGINS = ["http://127.0.0.1:*"]
    settings.VAPID_PRIVATE_KEY_FILE = tmp_path / "vapid" / "private.pem"
    service = PushService()
    yield service
    service.close()


def browser_keys() -> tuple[ec.EllipticCurvePrivateKey, dict]:
    """What a browser makes when it subscribes: a P-256 key pair and a 16-byte auth secret."""
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return private, {"p256dh": b64url(public), "auth": b64url(os.urandom(16))}


@pytest.fixture
def complaint(alice, alice_case):
    assert alice.email == ""
    return complaint_log(
        owner=alice,
        case=alice_case,
        addressee="alipay",
        channel="phone",
        sent_at=datetime(2026, 3, 12, 9, 30, tzinfo=SHANGHAI),
        ticket_number="GD20260312001",
    )


def test_a_due_reminder_is_pushed_encrypted_listed_with_a_badge_and_needs_no_email(
    push_service, complaint, alice, alice_api, client, django_capture_on_commit_callbacks
):
    key = alice_api.get("/api/v1/push/key").json()["public_key"]
    assert len(unb64url(key)) == 65 and unb64url(key)[0] == 4  # an uncompressed P-256 point
    private, keys = browser_keys()
    created = alice_api.post(
        "/api/v1/push/subscriptions/",
        {"endpoint": f"{push_service.url}/send/abc", "keys": keys},
        format="json",
    )
    assert created.status_code == 201

    with django_capture_on_commit_callbacks(execute=True):
        run = reminders_send(at=datetime(2026, 3, 24, 12, tzinfo=SHANGHAI))
    assert run.sent == [(complaint.pk, "due_soon")]
    assert mail.outbox == []

    assert len(push_service.received) == 1
    request = push_service.received[0]
    assert request["path"] == "/send/abc"
    assert request["headers"]["content-encoding"] == "aes128gcm"
    # Signed with the installation's VAPID key, the one the page subscribes with.
    assert f"k={key}" in request["headers"]["authorization"]
    plain = http_ece.decrypt(
        request["body"], private_key=private, auth_secret=unb64url(keys["auth"]), version="aes128gcm"
    )
    message = json.loads(plain)
    assert "2026-03-27" in message["title"] and "GD20260312001" in message["body"]
    assert message["url"] == f"/cases/{complaint.case_id}/"

    # In the app: the badge on 我的 and the list, which marks them read.
    client.force_login(alice)
    page = client.get("/accounts/profile/").content.decode()
    assert 'id="unread-badge"' in page and ">1</span>" in page
    case_page = client.get(f"/cases/{complaint.case_id}/").content.decode()
    assert "2026-03-27" in case_page.split('id="case-reminders"')[1]
    listed = client.get("/accounts/notifications/").content.decode()
    assert "GD20260312001" in listed
    client.post("/accounts/notifications/")
    assert 'id="unread-badge"' not in client.get("/accounts/profile/").content.decode()

    # Sent once: later runs push nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_send(at=datetime(2026, 3, 25, 12, tzinfo=SHANGHAI)).sent == []
    assert len(push_service.received) == 1


def test_a_subscription_the_push_service_has_dropped_is_removed(
    push_service, complaint, alice, alice_api, django_capture_on_commit_callbacks
):
    gone = PushService(status=410)
    try:
        _private, keys = browser_keys()
        alice_api.post(
            "/api/v1/push/subscriptions/", {"endpoint": f"{gone.url}/x", "keys": keys}, format="json"
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert reminders_send(at=datetime(2026, 3, 24, 12, tzinfo=SHANGHAI)).sent
        assert len(gone.received) == 1
        assert not PushSubscription.objects.filter(user=alice).exists()
        assert Notification.objects.filter(user=alice, case_id=complaint.case_id).count() == 1
    finally:
        gone.close()


def test_email_goes_only_when_the_person_keeps_it_on(
    push_service, complaint, alice, django_capture_on_commit_callbacks
):
    alice.email = "alice@example.org"
    alice.save()
    alice.profile.reminders_by_email = False
    alice.profile.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_send(at=datetime(2026, 3, 24, 12, tzinfo=SHANGHAI)).sent
    assert mail.outbox == []
    assert Notification.objects.filter(user=alice).count() == 1


def test_subscriptions_are_refused_for_other_hosts_and_deleted_by_their_owner_only(
    push_service, alice_api, bob_api
):
    _private, keys = browser_keys()
    for endpoint in ("http://10.0.0.5/steal", "https://evil.example/push", "not a url"):
        response = alice_api.post(
            "/api/v1/push/subscriptions/", {"endpoint": endpoint, "keys": keys}, format="json"
        )
        assert response.status_code == 400 and "endpoint" in response.json()["error"]["fields"]
    assert not PushSubscription.objects.exists()
    bad_keys = alice_api.post(
        "/api/v1/push/subscriptions/", {"endpoint": f"{push_service.url}/a"}, format="json"
    )
    assert bad_keys.status_code == 400
    made = alice_api.post(
        "/api/v1/push/subscriptions/", {"endpoint": f"{push_service.url}/a", "keys": keys}, format="json"
    )
    pk = made.json()["id"]
    assert bob_api.delete(f"/api/v1/push/subscriptions/{pk}/").status_code == 404
    assert alice_api.delete(f"/api/v1/push/subscriptions/{pk}/").status_code == 204
    assert not PushSubscription.objects.exists()


def test_the_vapid_key_is_made_once_and_kept(push_service, alice_api, settings):
    first = alice_api.get("/api/v1/push/key").json()["public_key"]
    assert settings.VAPID_PRIVATE_KEY_FILE.exists()
    assert settings.VAPID_PRIVATE_KEY_FILE.stat().st_mode & 0o077 == 0
    assert alice_api.get("/api/v1/push/key").json()["public_key"] == first
