"""Dossier builds run in the background: the request that orders one returns at once, the page
shows progress, and an RFC 3161 timestamp is added when a TSA is configured (a local test TSA)."""

from __future__ import annotations

import http.server
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django_tasks_db.management.commands.db_worker import Worker

from complaints.models import Dossier
from core.queues import QUEUES
from evidence.findings import case_violations_refresh
from evidence.models import Incident
from tests.conftest import wait_for

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_thousand_incident_build_does_not_block_the_request(
    transactional_db, client, settings, django_user_model
):
    from evidence.services import case_create

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": QUEUES}}
    owner = django_user_model.objects.create_user("erin", password="erin-password-1")
    case = case_create(owner=owner, title="千条", creditor="huabei")
    start = datetime(2024, 1, 1, 8, tzinfo=SHANGHAI)
    Incident.objects.bulk_create(
        [
            Incident(
                case=case,
                kind="call",
                occurred_at=start + timedelta(minutes=47 * i),
                counterpart_number="17012345678",
                answered=i % 3 == 0,
                description=f"第{i}次来电",
            )
            for i in range(1000)
        ]
    )
    case_violations_refresh(case=case)
    client.force_login(owner)

    response = client.post(
        f"/cases/{case.pk}/dossiers/new/",
        {"addressee": "alipay", "language": "zh-hans", "requests": ["stop_harassment"]},
    )
    assert response.status_code == 302
    dossier = Dossier.objects.get()
    # The request has already answered; the build is still under way.
    assert dossier.status in ("pending", "running")
    page = client.get(response["Location"]).content.decode()
    assert 'id="dossier-progress"' in page and "<progress" in page
    # The worker that `make run` and production start (django-tasks-db's db_worker) picks it up; here
    # its loop runs in a thread of the test, on the test database, until the queue is empty.
    worker = threading.Thread(
        target=Worker(
            queue_names=["default"],
            interval=0.2,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id="test-worker",
            excluded_queue_names=[],
        ).run
    )
    worker.start()

    seen = []

    def finished():
        status = client.get(f"/dossiers/{dossier.pk}/status/").json()
        seen.append(status["progress"])
        return status["status"] in ("ready", "failed") and status

    final = wait_for(finished)
    assert final["status"] == "ready", final["error"]
    assert final["pdf_url"] and final["bundle_url"]
    assert seen == sorted(seen) or seen[-1] == 100  # progress only moves forward
    assert any(0 < p < 100 for p in seen) or len(seen) == 1
    dossier.refresh_from_db()
    assert len(dossier.incident_ids) == 1000 and dossier.pages > 20
    worker.join(timeout=60)


# --- a local RFC 3161 timestamp authority ---------------------------------------------------------


def _tsa_identity():
    from asn1crypto import keys
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    return (
        asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
    )


@pytest.fixture
def test_tsa():
    from asn1crypto import tsp
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    cert, key = _tsa_identity()
    stamper = DummyTimeStamper(tsa_cert=cert, tsa_key=key)
    requests_seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            requests_seen.append(self.headers.get("Content-Type"))
            answer = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            """Keep the test output free of the server's access log."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", requests_seen
    server.shutdown()


def test_a_configured_tsa_adds_an_rfc3161_timestamp(alice, filled_case, settings, test_tsa):
    from django.core.files.storage import default_storage

    from complaints.services import dossier_create
    from complaints.signing import check_signature

    url, requests_seen = test_tsa
    settings.DOSSIER_TSA_URL = url
    dossier = dossier_create(owner=alice, case=filled_case, addressee="nfra")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    assert dossier.timestamped and requests_seen
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        check = check_signature(handle.read())
    assert check.ok and check.timestamped
