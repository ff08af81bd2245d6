"""Outside parts fail fast (issue 25, item 3; acceptance 6): an object store or a Redis that accepts
connections and never answers costs /healthz at most 3 s (503, naming the part) and an upload at most
30 s (503 in the API's error shape, a message page on the web), never a hang; every S3 request is
bounded by connect and read timeouts and a bounded number of attempts.

The hung part is a local server (HungServer): a socket on 127.0.0.1 that accepts connections and
never answers, served by a thread that stops by itself. Time is measured only to bound a hang, with
limits well above what the code should take: a hang is a correctness failure, not a speed figure."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import wav_bytes
from tests.test_logging import production_env
from tests.test_serving import BASE_DIR, free_port

HEALTHZ_BOUND = 3.0  # seconds: the bound for /healthz, whatever hangs
UPLOAD_BOUND = 30.0  # seconds: the bound for an upload when the store hangs


class HungServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte; stops by itself after
    `lifetime` seconds (or when the `with` block ends), closing every connection it took."""

    def __init__(self, lifetime: float = 120.0):
        self.lifetime = lifetime
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.stopping = threading.Event()
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, name="hung-server", daemon=True)

    def _serve(self) -> None:
        deadline = time.monotonic() + self.lifetime
        try:
            while not self.stopping.is_set() and time.monotonic() < deadline:
                try:
                    connection, _address = self.listener.accept()
                except TimeoutError:
                    continue
                self.held.append(connection)  # kept open, never read from, never answered
        finally:
            for connection in self.held:
                connection.close()
            self.listener.close()

    def __enter__(self) -> HungServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(10)


def hung_s3_storage(url: str) -> dict:
    return {
        "BACKEND": "evidence.storage.EvidenceS3Storage",
        "OPTIONS": {
            "bucket_name": "hung",
            "endpoint_url": url,
            "region_name": "us-east-1",
            "access_key": "test",
            "secret_key": "test",
            "addressing_style": "path",
            "signature_version": "s3v4",
        },
    }


@pytest.fixture
def hung_s3(settings):
    with HungServer() as server:
        settings.STORAGES = {**settings.STORAGES, "default": hung_s3_storage(server.url)}
        yield server


@pytest.fixture(autouse=True)
def roomy_disk(settings):
    settings.HEALTH_DISK_MIN_FREE_MB = 0  # whatever the test machine's disk holds


def test_every_s3_request_is_bounded_by_timeouts_and_attempts_within_the_upload_bound(settings):
    from evidence.storage import EvidenceS3Storage

    storage = EvidenceS3Storage(**hung_s3_storage("http://127.0.0.1:9")["OPTIONS"])
    config = storage.client_config
    assert config.connect_timeout == settings.EVIDENCE_S3_CONNECT_TIMEOUT == 3
    assert config.read_timeout == settings.EVIDENCE_S3_READ_TIMEOUT == 10
    assert config.retries == {"total_max_attempts": settings.EVIDENCE_S3_MAX_ATTEMPTS, "mode": "standard"}
    # The addressing style and signature version django-storages put in its Config are kept.
    assert config.s3 == {"addressing_style": "path"} and config.signature_version == "s3v4"
    # What a hung store can cost one request with the defaults stays inside the upload bound.
    worst = settings.EVIDENCE_S3_MAX_ATTEMPTS * (
        settings.EVIDENCE_S3_CONNECT_TIMEOUT + settings.EVIDENCE_S3_READ_TIMEOUT
    )
    assert worst < UPLOAD_BOUND


def test_a_hung_object_store_gives_503_within_3_seconds(client, hung_s3, db):
    started = time.monotonic()
    response = client.get("/healthz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503 and elapsed < HEALTHZ_BOUND, elapsed
    facts = response.json()
    assert facts["status"] == "error" and facts["storage"].startswith("error")
    assert facts["database"] == "ok" and facts["storage_backend"] == "EvidenceS3Storage"
    assert any(problem.startswith("storage:") for problem in facts["problems"])


def test_a_web_upload_to_a_hung_store_fails_with_a_reason_not_a_hang(
    client, settings, hung_s3, alice, alice_incident
):
    from evidence.models import EvidenceFile

    # Short timeouts here (the subprocess test below keeps the defaults): the answer, not the bound.
    settings.EVIDENCE_S3_READ_TIMEOUT = 1
    settings.EVIDENCE_S3_MAX_ATTEMPTS = 1
    client.force_login(alice)
    started = time.monotonic()
    response = client.post(
        f"/incidents/{alice_incident.pk}/evidence/",
        {"files": [SimpleUploadedFile("call.wav", wav_bytes()), SimpleUploadedFile("b.wav", wav_bytes(1))]},
        headers={"Accept": "application/json"},
    )
    assert time.monotonic() - started < UPLOAD_BOUND
    assert response.status_code == 207
    results = response.json()["results"]
    assert [result["code"] for result in results] == ["storage_unavailable", "storage_unavailable"]
    assert not EvidenceFile.objects.exists()


def test_a_page_reading_from_a_hung_store_answers_503_with_a_message(client, settings, alice, alice_incident):
    from evidence.services import evidence_store

    evidence = evidence_store(incident=alice_incident, upload=SimpleUploadedFile("call.wav", wav_bytes()))
    with HungServer() as server:
        settings.STORAGES = {**settings.STORAGES, "default": hung_s3_storage(server.url)}
        settings.EVIDENCE_S3_READ_TIMEOUT = 1
        settings.EVIDENCE_S3_MAX_ATTEMPTS = 1
        evidence.storage_version = "v1"  # as if it had been stored on S3
        evidence.save(update_fields=["storage_version"])
        client.force_login(alice)
        response = client.get(f"/evidence/{evidence.pk}/download/")
    assert response.status_code == 503 and response["Retry-After"]
    assert "cannot be reached" in response.content.decode() or "无法连接" in response.content.decode()


def test_a_hung_redis_gives_503_within_3_seconds(client, settings, db):
    with HungServer() as server:
        settings.CACHES = {
            **settings.CACHES,
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{server.port}/0",
                "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
            },
        }
        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started
    assert response.status_code == 503 and elapsed < HEALTHZ_BOUND, elapsed
    facts = response.json()
    assert facts["cache"].startswith("error") and facts["database"] == "ok" and facts["storage"] == "ok"
    assert any(problem.startswith("cache:") for problem in facts["problems"])


def test_an_unreachable_redis_gives_503_and_a_local_cache_is_not_probed(client, settings, db):
    assert client.get("/healthz").json()["cache"] == "local"
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
    }
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["cache"].startswith("error")


def test_images_waiting_for_text_recognition_are_reported(client, settings, alice_incident):
    from datetime import timedelta

    from django.utils import timezone

    from evidence.models import RecognizedText
    from evidence.services import evidence_store
    from tests.conftest import png_bytes

    settings.HEALTH_PENDING_WARN_SECONDS = 300
    evidence = evidence_store(
        incident=alice_incident, upload=SimpleUploadedFile("Screenshot_20240316-101500.png", png_bytes())
    )
    RecognizedText.objects.filter(evidence=evidence).delete()
    waiting = RecognizedText.objects.create(evidence=evidence, sha256=evidence.sha256, status="pending")
    facts = client.get("/healthz").json()
    assert facts["ocr"]["queue"] == "ocr" and facts["ocr"]["pending"] == 1
    assert facts["ocr"]["oldest_pending_seconds"] >= 0 and facts["status"] == "ok", facts["problems"]

    RecognizedText.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    facts = client.get("/healthz").json()
    assert facts["status"] == "degraded" and facts["ocr"]["oldest_pending_seconds"] >= 600
    assert any("text recognition" in problem for problem in facts["problems"])


def test_a_production_server_with_a_hung_store_answers_healthz_and_uploads_within_bounds(tmp_path):
    """gunicorn as in production, S3 configured only through the environment (default timeouts)."""
    with HungServer(lifetime=180) as store:
        port = free_port()
        env = production_env(tmp_path, port)
        env.update(
            {
                "EVIDENCE_S3_BUCKET": "hung",
                "AWS_S3_ENDPOINT_URL": store.url,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_S3_REGION_NAME": "us-east-1",
                "AWS_S3_ADDRESSING_STYLE": "path",
                "HEALTH_DISK_MIN_FREE_MB": "0",
            }
        )
        log = tmp_path / "web.log"
        with log.open("wb") as sink:
            server = subprocess.Popen(
                ["make", "-s", "serve"],
                cwd=BASE_DIR,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    requests.get(f"{base}/accounts/login/", timeout=5)
                    break
                except (requests.ConnectionError, requests.Timeout):  # starting, or loading the app
                    assert server.poll() is None, log.read_text()
                    time.sleep(0.3)
            made = subprocess.run(
                [sys.executable, "manage.py", "shell", "-c", MAKE_OWNER],
                cwd=BASE_DIR,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            secret, case_id = json.loads(made.stdout.strip().splitlines()[-1])

            started = time.monotonic()
            health = requests.get(f"{base}/healthz", timeout=60)
            elapsed = time.monotonic() - started
            assert health.status_code == 503 and elapsed < HEALTHZ_BOUND, (elapsed, health.text)
            assert health.json()["storage"].startswith("error") and health.json()["database"] == "ok"

            started = time.monotonic()
            upload = requests.post(
                f"{base}/api/v1/evidence/",
                headers={"Authorization": f"Bearer {secret}"},
                data={"case": case_id},
                files={"file": ("call.wav", wav_bytes(), "audio/wav")},
                timeout=120,
            )
            elapsed = time.monotonic() - started
            assert elapsed < UPLOAD_BOUND, elapsed
            assert upload.status_code == 503, upload.text
            assert upload.json()["error"]["code"] == "storage_unavailable" and upload.headers["Retry-After"]
            # The server is still serving (no worker killed by a hang).
            assert requests.get(f"{base}/accounts/login/", timeout=10).status_code == 200
        finally:
            server.terminate()
            try:
                import os

                os.killpg(server.pid, 15)
            except ProcessLookupError:
                pass
            server.wait(timeout=30)


MAKE_OWNER = """
import json
from django.contrib.auth import get_user_model
from accounts.services import token_create
from evidence.services import case_create
owner = get_user_model().objects.create_user("hung", password="hung-password-1")
_token, secret = token_create(user=owner, name="hung store")
case = case_create(owner=owner, title="hung store", creditor="huabei")
print(json.dumps([secret, case.pk]))
"""
