"""Attacks on the resumable (tus) endpoint, over real HTTP (issue 10 items 6 and 12, issue 18 item 5).

Two concurrent PATCHes on one upload both succeeded and stored a spliced file; bytes beyond
Upload-Length were dropped silently; abandoned uploads were never removed and had no quota (500
uploads declaring 104 GB were accepted in 6 s); an upload refused with 415 left its spool file; a
server killed mid-upload left Django's temporary upload file behind for ever; odd Upload-Metadata
gave 500s; and an upload continued on a second instance answered 500.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import time
import uuid
from datetime import timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlparse

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone, translation

from evidence.models import EvidenceFile, ResumableUpload
from tests.conftest import ELF_EXECUTABLE, amr_bytes, wait_for
from tests.evidence.tus_servers import (
    Server,
    amr_file,
    meta,
    open_patch,
    read_response,
    send_file,
    server_env,
    sha256_file,
    tus_create,
    tus_head,
    tus_headers,
    tus_patch,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_servers(evidence_storage, spool_dir, tmp_path):
    """Two instances: separate processes and data folders, one database, one store, one spool folder."""
    servers = [
        Server(server_env(evidence_storage, tmp_path / f"instance-{n}", spool_dir)).start() for n in (1, 2)
    ]
    yield servers
    for server in servers:
        server.stop()


def path_of(created) -> str:
    assert created.status_code == 201, created.text
    return urlparse(created.headers["Location"]).path


def spool_of(spool_dir, path: str):
    return spool_dir / f"{path.rsplit('/', 1)[1]}.part"


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return body["error"]


# --- one writer at a time ---------------------------------------------------------------------------


def test_a_second_concurrent_patch_is_refused_even_on_another_instance(
    two_servers, alice_incident, secret, spool_dir, tmp_path
):
    """While a PATCH streams into an upload on one instance, a PATCH on the same upload at the same
    offset on another instance gets 409 in the error shape; the first completes, unspliced."""
    first, second = two_servers
    source, size, sha = amr_file(tmp_path / "call.amr", 4)
    path = path_of(tus_create(first.url, secret, size, filename="call.amr", incident=alice_incident.pk))
    spool = spool_of(spool_dir, path)

    raw = open_patch(first.url, secret, path, 0, size)
    send_file(raw, source, 0, size // 2)
    # The server reads in 64 KiB blocks: once a quarter is in the spool, the PATCH is under way.
    wait_for(lambda: spool.exists() and spool.stat().st_size >= size // 4, step=0.01)

    intruder = tus_patch(second.url, secret, path, 0, bytes(size))
    assert intruder.status_code == 409
    assert error_of(intruder)["code"] == "upload_busy"
    # The same request on the same instance is refused too.
    assert tus_patch(first.url, secret, path, 0, b"#!AMR\n").status_code == 409

    send_file(raw, source, size // 2, size)
    status, headers, _body = read_response(raw)
    raw.close()
    assert status == 204 and headers["upload-evidence-sha256"] == sha
    evidence = EvidenceFile.objects.get()
    assert evidence.sha256 == sha
    from evidence.hashing import sha256_of
    from evidence.storage import open_evidence

    with open_evidence(evidence) as handle:
        assert sha256_of(handle)[0] == sha


# --- the length is the length -----------------------------------------------------------------------


def test_bytes_beyond_upload_length_are_refused_before_the_body_is_read(
    live_server, alice_incident, secret, spool_dir
):
    data = amr_bytes(frames=300)
    path = path_of(
        tus_create(live_server.url, secret, len(data), filename="x.amr", incident=alice_incident.pk)
    )
    # Only the headers go out: the answer comes without the server waiting for a body.
    raw = open_patch(live_server.url, secret, path, 0, len(data) + 100)
    raw.settimeout(60)
    status, headers, body = read_response(raw)
    raw.close()
    assert status == 413 and b"beyond_length" in body and headers["upload-offset"] == "0"
    # With the body sent, the same: nothing is kept, nothing is stored.
    refused = tus_patch(live_server.url, secret, path, 0, data + b"spliced tail")
    assert refused.status_code == 413 and error_of(refused)["code"] == "beyond_length"
    half = len(data) // 2
    assert tus_patch(live_server.url, secret, path, 0, data[:half]).status_code == 204
    over = tus_patch(live_server.url, secret, path, half, data[half:] + b"x")
    assert over.status_code == 413 and over.headers["Upload-Offset"] == str(half)
    assert ResumableUpload.objects.get().offset == half and EvidenceFile.objects.count() == 0
    assert spool_of(spool_dir, path).stat().st_size == half
    done = tus_patch(live_server.url, secret, path, half, data[half:])
    assert (
        done.status_code == 204 and done.headers["Upload-Evidence-SHA256"] == hashlib.sha256(data).hexdigest()
    )


# --- expiry, quota and cleanup --------------------------------------------------------------------


def test_uploads_expire_and_say_when(live_server, alice_incident, secret, spool_dir, settings):
    options = requests.options(f"{live_server.url}/api/v1/uploads/", headers=tus_headers(secret), timeout=30)
    assert "expiration" in options.headers["Tus-Extension"].split(",")
    data = amr_bytes(frames=300)
    created = tus_create(live_server.url, secret, len(data), filename="x.amr", incident=alice_incident.pk)
    path = path_of(created)
    expires = parsedate_to_datetime(created.headers["Upload-Expires"])
    hours = (
        settings.RESUMABLE_UPLOAD_EXPIRY_HOURS if hasattr(settings, "RESUMABLE_UPLOAD_EXPIRY_HOURS") else 24
    )
    assert timedelta(hours=hours - 1) < expires - timezone.now() <= timedelta(hours=hours)
    sent = tus_patch(live_server.url, secret, path, 0, data[:100])
    assert sent.status_code == 204 and "Upload-Expires" in sent.headers

    ResumableUpload.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert tus_head(live_server.url, secret, path).status_code == 410
    late = tus_patch(live_server.url, secret, path, 100, data[100:])
    assert late.status_code == 410 and error_of(late)["code"] == "upload_expired"
    assert EvidenceFile.objects.count() == 0


def test_cleanup_removes_expired_uploads_orphans_and_stale_temporary_files(
    alice, alice_incident, alice_api, spool_dir, settings, tmp_path
):
    from evidence.resumable import spool_path

    spool_dir.mkdir(parents=True)
    now = timezone.now()
    expired = ResumableUpload.objects.create(
        id=uuid.uuid4(),
        owner=alice,
        incident=alice_incident,
        filename="a.amr",
        length=10,
        expires_at=now - timedelta(hours=1),
    )
    alive = ResumableUpload.objects.create(
        id=uuid.uuid4(),
        owner=alice,
        incident=alice_incident,
        filename="b.amr",
        length=10,
        expires_at=now + timedelta(hours=1),
    )
    for upload in (expired, alive):
        spool_path(upload.pk).write_bytes(b"12345")
    day_ago = time.time() - 25 * 3600
    orphan = spool_dir / f"{uuid.uuid4()}.part"
    orphan.write_bytes(b"left")
    os.utime(orphan, (day_ago, day_ago))
    young_orphan = spool_dir / f"{uuid.uuid4()}.part"  # an upload being created right now
    young_orphan.write_bytes(b"new")
    temporary = tmp_path / "upload-tmp"
    stale = temporary / "evidence-upload-abc123.upload"
    fresh = temporary / "evidence-upload-def456.upload"
    foreign = temporary / "tmpxyz.upload"  # not ours: never touched
    for leftover in (stale, fresh, foreign):
        leftover.write_bytes(b"partial body")
    for old in (stale, foreign):
        os.utime(old, (day_ago, day_ago))

    out = io.StringIO()
    call_command("cleanup_uploads", stdout=out)
    assert "expired uploads removed: 1" in out.getvalue()
    assert list(ResumableUpload.objects.values_list("pk", flat=True)) == [alive.pk]
    assert not spool_path(expired.pk).exists() and spool_path(alive.pk).exists()
    assert not orphan.exists() and young_orphan.exists()
    assert not stale.exists() and fresh.exists() and foreign.exists()


def test_a_killed_upload_leaves_a_named_temporary_file_that_cleanup_removes(
    evidence_storage, alice_incident, secret, spool_dir, tmp_path, settings
):
    """A plain (multipart) upload streaming into a real server that is then killed: Django's temporary
    upload file stays in FILE_UPLOAD_TEMP_DIR under this app's prefix, and only it is cleaned up."""
    temporary = tmp_path / "upload-tmp"
    server = Server(
        server_env(evidence_storage, tmp_path / "instance", spool_dir, FILE_UPLOAD_TEMP_DIR=temporary)
    ).start()
    try:
        boundary = "----evidence" + uuid.uuid4().hex
        payload = amr_bytes(frames=300_000)  # 9.6 MB
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="call.amr"\r\n'
            f"Content-Type: audio/amr\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        host = urlparse(server.url)
        raw = socket.create_connection((host.hostname, host.port), timeout=60)
        raw.sendall(
            (
                f"POST /api/v1/incidents/{alice_incident.pk}/evidence/ HTTP/1.1\r\nHost: {host.netloc}\r\n"
                f"Authorization: Bearer {secret}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {len(head) + len(payload) + len(tail)}\r\n\r\n"
            ).encode()
            + head
            + payload[: len(payload) // 2]
        )
        partial = wait_for(lambda: [p for p in temporary.iterdir() if p.stat().st_size > 0], step=0.01)
    finally:
        server.kill()
    raw.close()
    assert [p.name.startswith("evidence-upload-") for p in partial] == [True]
    foreign = temporary / "tmp-someone-else.upload"
    foreign.write_bytes(b"not ours")
    call_command("cleanup_uploads", "--hours", "0", stdout=io.StringIO())
    assert [p.name for p in temporary.iterdir()] == [foreign.name]
    assert EvidenceFile.objects.count() == 0


def test_unfinished_uploads_have_a_quota(live_server, alice_incident, secret, settings):
    """With the default quota, creating upload after upload of the largest size stops at the quota
    (413 naming it), where 500 uploads declaring 104 GB were accepted before."""
    from django.template.defaultfilters import filesizeformat

    largest = settings.EVIDENCE_MAX_UPLOAD_BYTES
    accepted = 0
    refused = None
    for _ in range(50):
        created = tus_create(live_server.url, secret, largest, filename="big.amr", incident=alice_incident.pk)
        if created.status_code != 201:
            refused = created
            break
        accepted += 1
    assert refused is not None and refused.status_code == 413
    assert error_of(refused)["code"] == "quota_exceeded"
    limit = getattr(settings, "RESUMABLE_MAX_INFLIGHT_BYTES", 2 << 30)
    assert accepted * largest <= limit
    with translation.override("zh-hans"):
        assert filesizeformat(limit) in error_of(refused)["message"]

    # A finished upload no longer counts; a cancelled one neither.
    settings.RESUMABLE_MAX_INFLIGHT_BYTES = 20_000
    settings.RESUMABLE_MAX_INFLIGHT_UPLOADS = 2
    ResumableUpload.objects.all().delete()
    data = amr_bytes(frames=400)  # 12 806 bytes
    first = path_of(
        tus_create(live_server.url, secret, len(data), filename="a.amr", incident=alice_incident.pk)
    )
    over = tus_create(live_server.url, secret, len(data), filename="b.amr", incident=alice_incident.pk)
    assert over.status_code == 413 and error_of(over)["code"] == "quota_exceeded"
    assert tus_patch(live_server.url, secret, first, 0, data).status_code == 204
    second = tus_create(live_server.url, secret, 100, filename="b.amr", incident=alice_incident.pk)
    third = tus_create(live_server.url, secret, 100, filename="c.amr", incident=alice_incident.pk)
    assert second.status_code == 201 and third.status_code == 201
    fourth = tus_create(live_server.url, secret, 100, filename="d.amr", incident=alice_incident.pk)
    assert fourth.status_code == 413 and error_of(fourth)["code"] == "quota_exceeded"
    requests.delete(f"{live_server.url}{path_of(third)}", headers=tus_headers(secret), timeout=30)
    again = tus_create(live_server.url, secret, 100, filename="d.amr", incident=alice_incident.pk)
    assert again.status_code == 201


# --- refusals leave nothing -------------------------------------------------------------------------


def test_a_refused_upload_leaves_no_spool_file(live_server, alice_incident, secret, spool_dir, settings):
    disguised = path_of(
        tus_create(
            live_server.url, secret, len(ELF_EXECUTABLE), filename="call.mp3", incident=alice_incident.pk
        )
    )
    refused = tus_patch(live_server.url, secret, disguised, 0, ELF_EXECUTABLE)
    assert refused.status_code == 415 and error_of(refused)["code"] == "unsupported_type"
    assert not spool_of(spool_dir, disguised).exists()
    assert tus_head(live_server.url, secret, disguised).status_code == 404

    data = amr_bytes(frames=400)
    too_large = path_of(
        tus_create(live_server.url, secret, len(data), filename="a.amr", incident=alice_incident.pk)
    )
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 1000  # lowered while the upload was under way
    refused = tus_patch(live_server.url, secret, too_large, 0, data)
    assert refused.status_code == 413 and error_of(refused)["code"] == "file_too_large"
    assert not spool_of(spool_dir, too_large).exists()
    assert list(spool_dir.iterdir()) == [] and EvidenceFile.objects.count() == 0


def test_upload_metadata_naming_no_incident_of_yours_is_a_clear_error(
    live_server, alice_incident, secret, bob
):
    from evidence.services import case_create, incident_create

    bob_case = case_create(owner=bob, title="b", creditor="huabei")
    bob_incident = incident_create(case=bob_case, kind="call", occurred_at=timezone.now())

    def create(**metadata):
        response = requests.post(
            f"{live_server.url}/api/v1/uploads/",
            headers=tus_headers(secret, **{"Upload-Length": "100", "Upload-Metadata": meta(**metadata)}),
            timeout=30,
        )
        return response.status_code, error_of(response)

    for value in ("abc", "²", "١٢", "-1", "1.5", "", "99999999999999999999999999"):
        status, error = create(filename="x.amr", incident=value)
        assert status == 400 and error["code"] == "invalid" and "incident" in error["fields"], value
        status, error = create(filename="x.amr", case=value)
        assert status == 400 and error["code"] == "invalid" and "case" in error["fields"], value
    # Someone else's incident or case, or one that does not exist: 404, as for any object not yours.
    for foreign in ({"incident": bob_incident.pk}, {"case": bob_case.pk}, {"incident": 10**17}):
        status, error = create(filename="x.amr", **foreign)
        assert status == 404 and error["code"] == "not_found", foreign
    status, error = create(filename="x.amr")
    assert status == 400 and error["code"] == "invalid"
    assert ResumableUpload.objects.count() == 0


# --- several instances ------------------------------------------------------------------------------


def test_an_upload_continued_on_a_second_instance_completes(
    two_servers, alice_incident, secret, evidence_storage, tmp_path
):
    """Issue 18 item 5: created and half sent on instance 1, the rest sent to instance 2 (another
    process with its own data folder; the database and the spool folder are shared)."""
    first, second = two_servers
    source, size, sha = amr_file(tmp_path / "night-call.amr", 6)
    path = path_of(tus_create(first.url, secret, size, filename="night-call.amr", incident=alice_incident.pk))
    half = size // 2
    with source.open("rb") as handle:
        sent = tus_patch(first.url, secret, path, 0, handle.read(half))
        assert sent.status_code == 204 and sent.headers["Upload-Offset"] == str(half)
        assert tus_head(second.url, secret, path).headers["Upload-Offset"] == str(half)
        done = tus_patch(second.url, secret, path, half, handle.read())
    assert done.status_code == 204 and done.headers["Upload-Evidence-SHA256"] == sha
    evidence = EvidenceFile.objects.get(pk=done.headers["Upload-Evidence-Id"])
    assert evidence.sha256 == sha and evidence.size == size
    if evidence_storage["kind"] == "filesystem":
        assert sha256_file(evidence_storage["path"] / evidence.storage_name) == sha
    assert tus_head(first.url, secret, path).headers["Upload-Evidence-Id"] == str(evidence.pk)


def test_an_instance_without_the_shared_spool_folder_answers_clearly(
    evidence_storage, alice_incident, secret, spool_dir, tmp_path
):
    """A misconfigured instance (its own RESUMABLE_UPLOAD_DIR) answers 503 in the error shape, never a
    500, and loses nothing: the upload still completes on an instance that has the folder."""
    good = Server(server_env(evidence_storage, tmp_path / "good", spool_dir)).start()
    lonely = Server(server_env(evidence_storage, tmp_path / "lonely", tmp_path / "not-shared")).start()
    try:
        data = amr_bytes(frames=5000)
        path = path_of(tus_create(good.url, secret, len(data), filename="a.amr", incident=alice_incident.pk))
        assert tus_patch(good.url, secret, path, 0, data[:1000]).status_code == 204
        elsewhere = tus_patch(lonely.url, secret, path, 1000, data[1000:])
        assert elsewhere.status_code == 503 and error_of(elsewhere)["code"] == "upload_unavailable"
        assert elsewhere.headers["Upload-Offset"] == "1000"
        done = tus_patch(good.url, secret, path, 1000, data[1000:])
        assert (
            done.status_code == 204
            and done.headers["Upload-Evidence-SHA256"] == hashlib.sha256(data).hexdigest()
        )
    finally:
        good.stop()
        lonely.stop()
