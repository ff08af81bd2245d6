"""Resumable uploads (tus): an upload interrupted half way resumes and ends with the SHA-256 of the
whole file, equal to a plain upload's."""

from __future__ import annotations

import base64
import hashlib
import socket
from urllib.parse import urlparse

from evidence.models import EvidenceFile, ResumableUpload
from tests.conftest import amr_bytes


def meta(**values) -> str:
    return ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in values.items())


def create(api, length, **metadata):
    return api.generic(
        "POST",
        "/api/v1/uploads/",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_LENGTH=str(length),
        HTTP_UPLOAD_METADATA=meta(**metadata),
    )


def patch(api, url, offset, body):
    return api.generic(
        "PATCH",
        url,
        body,
        content_type="application/offset+octet-stream",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_OFFSET=str(offset),
    )


def test_an_upload_resumes_from_the_offset_and_hashes_the_whole_file(alice_api, alice_incident):
    data = amr_bytes(frames=20_000)  # 640 kB
    created = create(alice_api, len(data), filename="long-call.amr", incident=alice_incident.pk)
    assert created.status_code == 201 and created["Tus-Resumable"] == "1.0.0"
    url = urlparse(created["Location"]).path
    half = len(data) // 2
    first = patch(alice_api, url, 0, data[:half])
    assert first.status_code == 204 and first["Upload-Offset"] == str(half)
    assert EvidenceFile.objects.count() == 0  # nothing is evidence until the last byte
    # The connection dropped; the client asks where to resume.
    assert alice_api.head(url)["Upload-Offset"] == str(half)
    wrong = patch(alice_api, url, 0, data[:100])
    assert wrong.status_code == 409 and wrong["Upload-Offset"] == str(half)
    last = patch(alice_api, url, half, data[half:])
    assert last.status_code == 204 and last["Upload-Offset"] == str(len(data))
    evidence = EvidenceFile.objects.get(pk=int(last["Upload-Evidence-Id"]))
    assert evidence.sha256 == hashlib.sha256(data).hexdigest() == last["Upload-Evidence-SHA256"]
    assert evidence.incident_id == alice_incident.pk and evidence.metadata["duration_seconds"] == 400.0
    plain = alice_api.post(
        f"/api/v1/incidents/{alice_incident.pk}/evidence/",
        {
            "file": __import__("django.core.files.uploadedfile", fromlist=["x"]).SimpleUploadedFile(
                "plain.amr", data
            )
        },
        format="multipart",
    ).json()
    assert plain["sha256"] == evidence.sha256


def test_a_connection_cut_mid_request_keeps_what_arrived(live_server, alice, alice_incident):
    """Over a real socket: the client sends half the body, then the connection breaks."""
    from accounts.services import token_create

    _token, secret = token_create(user=alice, name="t")
    data = amr_bytes(frames=30_000)
    import requests

    created = requests.post(
        f"{live_server.url}/api/v1/uploads/",
        headers={
            "Authorization": f"Bearer {secret}",
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(data)),
            "Upload-Metadata": meta(filename="cut.amr", incident=alice_incident.pk),
        },
        timeout=30,
    )
    path = urlparse(created.headers["Location"]).path
    host = urlparse(live_server.url)
    sent = len(data) // 2
    with socket.create_connection((host.hostname, host.port), timeout=30) as raw:
        head = (
            f"PATCH {path} HTTP/1.1\r\nHost: {host.netloc}\r\nAuthorization: Bearer {secret}\r\n"
            f"Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode()
        raw.sendall(head + data[:sent])
        raw.shutdown(socket.SHUT_WR)
        raw.recv(4096)  # the server answers once it sees the body end early
    offset = int(
        requests.head(
            f"{live_server.url}{path}",
            headers={"Authorization": f"Bearer {secret}", "Tus-Resumable": "1.0.0"},
            timeout=30,
        ).headers["Upload-Offset"]
    )
    assert 0 < offset <= sent
    done = requests.patch(
        f"{live_server.url}{path}",
        data=data[offset:],
        headers={
            "Authorization": f"Bearer {secret}",
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        },
        timeout=60,
    )
    assert done.status_code == 204
    assert done.headers["Upload-Evidence-SHA256"] == hashlib.sha256(data).hexdigest()


def test_creation_is_checked(alice_api, bob_api, alice_incident, settings):
    assert create(alice_api, 0, filename="x.amr", incident=alice_incident.pk).status_code == 400
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 1000
    assert create(alice_api, 5000, filename="x.amr", incident=alice_incident.pk).status_code == 413
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 10_000_000
    assert create(bob_api, 100, filename="x.amr", incident=alice_incident.pk).status_code == 404
    created = create(alice_api, 100, filename="x.amr", incident=alice_incident.pk)
    url = urlparse(created["Location"]).path
    assert bob_api.head(url).status_code == 404
    assert patch(bob_api, url, 0, b"x" * 100).status_code == 404
    assert ResumableUpload.objects.get().offset == 0


def test_a_disguised_file_is_refused_at_the_end_and_nothing_is_stored(alice_api, alice_incident):
    from tests.conftest import ELF_EXECUTABLE

    created = create(alice_api, len(ELF_EXECUTABLE), filename="call.mp3", incident=alice_incident.pk)
    response = patch(alice_api, urlparse(created["Location"]).path, 0, ELF_EXECUTABLE)
    assert response.status_code == 415 and EvidenceFile.objects.count() == 0
