"""Shared fixtures: two named users (alice, bob), their API clients, evidence storage in a temp folder,
and small real sample files built in code."""

from __future__ import annotations

import io
import math
import os
import struct
import uuid
import wave

import pytest
from rest_framework.test import APIClient

from core.queues import QUEUES

S3_MODE = bool(os.environ.get("EVIDENCE_S3_BUCKET"))


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """Tests create hundreds of users: MD5 hashes new test passwords in microseconds instead of the
    0.7 s PBKDF2 costs. PBKDF2 stays in the list, so hashes made by the app itself (a release
    fixture's database, a subprocess server) still verify. Never a production setting."""
    from django.test.utils import override_settings

    override = override_settings(
        PASSWORD_HASHERS=[
            "django.contrib.auth.hashers.MD5PasswordHasher",
            "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        ]
    )
    override.enable()
    yield
    override.disable()


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle counters live in the cache; each test starts with none."""
    from django.core.cache import caches

    for cache in caches.all():
        cache.clear()
    yield


@pytest.fixture(autouse=True)
def evidence_storage(tmp_path, settings):
    """Each test stores evidence in a place of its own: a temporary folder, or, in the
    production-like run, a fresh key prefix in the S3 bucket (moto's server with Object Lock)."""
    if S3_MODE:
        prefix = f"t-{uuid.uuid4().hex[:12]}"
        options = {**settings.STORAGES["default"]["OPTIONS"], "location": prefix}
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {"BACKEND": "evidence.storage.EvidenceS3Storage", "OPTIONS": options},
        }
        yield {"kind": "s3", "prefix": prefix}
        return
    location = tmp_path / "evidence-store"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "evidence.storage.EvidenceFileSystemStorage",
            "OPTIONS": {"location": str(location), "base_url": None},
        },
    }
    settings.MEDIA_ROOT = str(location)
    # Django's setting_changed handler drops the cached default storage, so the new folder applies.
    yield {"kind": "filesystem", "path": location}


@pytest.fixture
def private_storage(evidence_storage):
    """The storage folder itself, for tests that change stored bytes behind the app's back. On
    object storage with Object Lock that is impossible by design; tests/evidence/test_object_storage.py
    asserts the refusal there instead."""
    if evidence_storage["kind"] != "filesystem":
        pytest.skip("changes files on disk: object storage keeps every version (see test_object_storage)")
    return evidence_storage["path"]


@pytest.fixture
def alice(db, django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def bob(db, django_user_model):
    return django_user_model.objects.create_user("bob", password="bob-password-1")


def api_client_for(user) -> APIClient:
    from accounts.services import token_create

    _token, secret = token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def alice_api(alice):
    return api_client_for(alice)


@pytest.fixture
def bob_api(bob):
    return api_client_for(bob)


@pytest.fixture
def alice_case(alice):
    from evidence.services import case_create

    return case_create(
        owner=alice, title="花呗催收", creditor="huabei", lender_name="重庆蚂蚁消费金融有限公司"
    )


@pytest.fixture
def alice_incident(alice_case):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from evidence.services import incident_create

    return incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2024, 3, 15, 23, 5, tzinfo=ZoneInfo("Asia/Shanghai")),
        counterpart_number="17012345678",
        duration_seconds=120,
        answered=True,
        description="深夜催收电话",
    )


# --- sample files, built in code ----------------------------------------------------------------


def wav_bytes(seconds: float = 2.0, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(
            b"".join(struct.pack("<h", int(3000 * math.sin(i / 5))) for i in range(int(rate * seconds)))
        )
    return buffer.getvalue()


def amr_bytes(frames: int = 250, frame_type: int = 7) -> bytes:
    """A raw AMR-NB file: header, then frames of one type (7 = 12.2 kbit/s, 32 bytes each)."""
    sizes = [13, 14, 16, 18, 20, 21, 27, 32, 6]
    header = bytes([(frame_type << 3) | 0x04])
    return b"#!AMR\n" + (header + bytes(sizes[frame_type] - 1)) * frames


def image_bytes(fmt: str, size=(60, 40), exif_time: str | None = None, offset: str | None = None) -> bytes:
    from PIL import Image

    image = Image.new("RGB", size, (200, 30, 30))
    buffer = io.BytesIO()
    kwargs = {}
    if exif_time:
        exif = Image.Exif()
        sub = exif.get_ifd(0x8769)
        sub[0x9003] = exif_time
        if offset:
            sub[0x9011] = offset
        kwargs["exif"] = exif.tobytes()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def png_bytes(size=(60, 40), exif_time: str | None = None, offset: str | None = None) -> bytes:
    return image_bytes("PNG", size, exif_time, offset)


def jpeg_bytes(exif_time: str | None = None, offset: str | None = None) -> bytes:
    return image_bytes("JPEG", (40, 30), exif_time, offset)


def pdf_bytes(text: str = "Letter") -> bytes:
    """A real one-page PDF (reportlab): a `%PDF-` header alone is not kept as a PDF."""
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, text)
    page.save()
    return buffer.getvalue()


def wait_for(predicate, limit_seconds: float = 300.0, step: float = 0.1):
    """Poll until predicate() is truthy. A generous bound, so a slow machine never fails a test:
    this waits for background work, it measures nothing."""
    import time

    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not reached")


ELF_EXECUTABLE = b"\x7fELF\x02\x01\x01\x00" + bytes(56) + b"\x00" * 200


@pytest.fixture(scope="session")
def signing_dir(tmp_path_factory):
    """One installation key for the whole run: generating an RSA key per test would be slow."""
    return tmp_path_factory.mktemp("signing")


@pytest.fixture(autouse=True)
def dossier_settings(settings, signing_dir):
    settings.DOSSIER_SIGNING_DIR = signing_dir
    settings.DOSSIER_TSA_URL = ""
    # Tests build dossiers synchronously unless they ask for the background backend.
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": QUEUES}
    }


# --- phone exports, built in code -----------------------------------------------------------------


def epoch_ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def calls_xml(calls) -> bytes:
    """SMS Backup & Restore calls.xml. `calls`: (number, aware datetime, type, duration, contact)."""
    rows = "".join(
        f'  <call number="{number}" duration="{duration}" date="{epoch_ms(at)}" type="{kind}" presentation="1" '
        f'subscription_id="null" post_dial_digits="" readable_date="15 Mar 2024 23:10:00" '
        f'contact_name="{contact}" />\n'
        for number, at, kind, duration, contact in calls
    )
    return (
        f"<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
        f"<!--File Created By SMS Backup & Restore v10.20.002 -->\n"
        f'<calls count="{len(calls)}" backup_set="x" backup_date="1710000000000" type="full">\n{rows}</calls>\n'
    ).encode()
