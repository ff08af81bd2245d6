"""A crash never costs a recording (issue 10 item 2).

Killing the server while a large tus upload was being stored, then resuming, once left an evidence row
pointing at a 1.2 MB fragment of a 150 MB recording and deleted the only full copy: the store wrote in
place, `evidence_store` trusted whatever sat at the content address, and the spool went with it. Here a
real gunicorn process is killed with SIGKILL at the dangerous moments; afterwards there is either
complete evidence or an upload that resumes to complete evidence, never a row pointing at wrong bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from django.core.management import call_command

from evidence.hashing import sha256_of
from evidence.models import EvidenceFile, ResumableUpload
from tests.conftest import amr_bytes, wait_for
from tests.evidence.tus_servers import (
    Server,
    amr_file,
    open_patch,
    send_file,
    server_env,
    sha256_file,
    tus_create,
    tus_head,
    tus_patch,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(evidence_storage, spool_dir, tmp_path):
    started = Server(server_env(evidence_storage, tmp_path / "server-data", spool_dir)).start()
    yield started
    started.stop()


def stored_bytes_hash(evidence: EvidenceFile) -> str:
    from evidence.storage import open_evidence

    with open_evidence(evidence) as handle:
        return sha256_of(handle)[0]


def resume_until_done(base: str, secret: str, path: str, source: Path, size: int) -> dict:
    """What a tus client does after a failure: ask where the upload stands, send the rest. A
    server-side lock left by the killed process makes the server answer 409 for a few seconds."""

    def attempt():
        head = tus_head(base, secret, path)
        assert head.status_code == 200, head.status_code
        if "Upload-Evidence-Id" in head.headers:
            return dict(head.headers)
        offset = int(head.headers["Upload-Offset"])
        assert 0 <= offset <= size
        with source.open("rb") as rest:
            rest.seek(offset)  # a file object: requests sends it with its Content-Length
            sent = tus_patch(base, secret, path, offset, rest if offset < size else b"")
        if sent.status_code == 409:
            return None
        assert sent.status_code == 204, sent.text
        return dict(sent.headers) if "Upload-Evidence-Id" in sent.headers else None

    return wait_for(attempt, limit_seconds=300, step=1.0)


def owner_files(evidence_storage, owner) -> list[Path]:
    folder = evidence_storage["path"] / "evidence" / str(owner.pk)
    found = []
    for root, _dirs, files in os.walk(folder):
        found.extend(Path(root) / name for name in files)
    return found


# --- a fragment at the content address ------------------------------------------------------------


@pytest.mark.parametrize("how", ["multipart", "tus"])
def test_a_fragment_left_at_the_content_address_is_rehashed_and_replaced(
    how, live_server, alice, alice_incident, secret, private_storage, spool_dir
):
    """What a crash in the middle of a blob write used to leave: the first third of the recording under
    the full recording's name. Storing the recording again re-hashes what is there, finds it wrong and
    replaces it atomically; the row and the stored bytes both hash to the recording's SHA-256."""
    data = amr_bytes(frames=40_000)
    sha = hashlib.sha256(data).hexdigest()
    address = private_storage / "evidence" / str(alice.pk) / sha[:2] / f"{sha}.amr"
    address.parent.mkdir(parents=True)
    address.write_bytes(data[: len(data) // 3])

    if how == "multipart":
        response = requests.post(
            f"{live_server.url}/api/v1/incidents/{alice_incident.pk}/evidence/",
            headers={"Authorization": f"Bearer {secret}"},
            files={"file": ("call.amr", io.BytesIO(data))},
            timeout=60,
        )
        assert response.status_code == 201, response.text
        evidence = EvidenceFile.objects.get(pk=response.json()["id"])
    else:
        created = tus_create(
            live_server.url, secret, len(data), filename="call.amr", incident=alice_incident.pk
        )
        done = tus_patch(live_server.url, secret, urlparse(created.headers["Location"]).path, 0, data)
        assert done.status_code == 204, done.text
        evidence = EvidenceFile.objects.get(pk=done.headers["Upload-Evidence-Id"])

    assert evidence.sha256 == sha and evidence.storage_name == f"evidence/{alice.pk}/{sha[:2]}/{sha}.amr"
    assert hashlib.sha256(address.read_bytes()).hexdigest() == sha
    assert stored_bytes_hash(evidence) == sha
    # Nothing is left beside it: no second copy under another name, no temporary file.
    assert sorted(p.name for p in address.parent.iterdir()) == [f"{sha}.amr"]
    out = io.StringIO()
    call_command("verify_evidence", stdout=out)
    assert "OK" in out.getvalue()


def test_a_row_left_pointing_at_a_fragment_is_repaired_by_the_next_upload(
    alice_api, alice_incident, private_storage
):
    """The state the old bug left behind: a row whose file is a fragment. Uploading the recording again
    finds the stored bytes wrong and replaces them, so the earlier row reads right too."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = amr_bytes(frames=30_000)
    first = alice_api.post(
        f"/api/v1/incidents/{alice_incident.pk}/evidence/",
        {"file": SimpleUploadedFile("a.amr", data)},
        format="multipart",
    )
    assert first.status_code == 201
    broken = EvidenceFile.objects.get(pk=first.json()["id"])
    (private_storage / broken.storage_name).write_bytes(data[:1000])
    again = alice_api.post(
        f"/api/v1/incidents/{alice_incident.pk}/evidence/",
        {"file": SimpleUploadedFile("b.amr", data)},
        format="multipart",
    )
    assert again.status_code == 201
    assert stored_bytes_hash(broken) == broken.sha256 == hashlib.sha256(data).hexdigest()


def test_on_object_storage_a_wrong_object_at_the_key_is_superseded_by_a_new_version(
    alice, alice_api, alice_incident, evidence_storage
):
    """The same on S3: an object already under the content address (not recorded by any row) is never
    trusted; the upload is PUT again under exactly that key and the new version is recorded."""
    if evidence_storage["kind"] != "s3":
        pytest.skip("object storage only (the production-like run)")
    from django.core.files.storage import default_storage
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = amr_bytes(frames=20_000)
    sha = hashlib.sha256(data).hexdigest()
    name = f"evidence/{alice.pk}/{sha[:2]}/{sha}.amr"
    client = default_storage.connection.meta.client
    planted = client.put_object(
        Bucket=default_storage.bucket_name, Key=default_storage._normalize_name(name), Body=data[:1000]
    )["VersionId"]
    response = alice_api.post(
        f"/api/v1/incidents/{alice_incident.pk}/evidence/",
        {"file": SimpleUploadedFile("call.amr", data)},
        format="multipart",
    )
    assert response.status_code == 201
    evidence = EvidenceFile.objects.get(pk=response.json()["id"])
    assert evidence.storage_name == name and evidence.storage_version not in ("", planted)
    assert stored_bytes_hash(evidence) == sha == default_storage.checksum_of(name, evidence.storage_version)


# --- kill -9 ----------------------------------------------------------------------------------------


def test_a_server_killed_while_storing_a_finished_upload_leaves_it_resumable(
    server, alice, alice_incident, secret, evidence_storage, spool_dir, tmp_path
):
    """The reported crash: a 120 MB recording has fully arrived and is being written to the store when
    the server is killed (SIGKILL as soon as the first file appears in the owner's store folder). After a
    restart the upload resumes; the evidence hashes right, the stored bytes hash right, one row only."""
    if evidence_storage["kind"] != "filesystem":
        pytest.skip("an object store PUT is atomic; this kills a local file write")
    source, size, sha = amr_file(tmp_path / "long-call.amr", 120)
    created = tus_create(server.url, secret, size, filename="long-call.amr", incident=alice_incident.pk)
    assert created.status_code == 201
    path = urlparse(created.headers["Location"]).path

    raw = open_patch(server.url, secret, path, 0, size)
    send_file(raw, source, 0, size)
    wait_for(lambda: owner_files(evidence_storage, alice), step=0.002)
    server.kill()
    raw.close()

    # Whatever the kill hit, nothing under a real name is a fragment: only a temporary file can be
    # partial, and no row points at wrong bytes.
    for leftover in owner_files(evidence_storage, alice):
        assert leftover.name.startswith(".incoming-") or sha256_file(leftover) == sha
    for evidence in EvidenceFile.objects.all():
        assert stored_bytes_hash(evidence) == evidence.sha256 == sha

    server.start()
    done = resume_until_done(server.url, secret, path, source, size)
    assert done["Upload-Evidence-SHA256"] == sha
    evidence = EvidenceFile.objects.get()
    assert evidence.sha256 == sha and evidence.size == size
    assert sha256_file(evidence_storage["path"] / evidence.storage_name) == sha
    assert ResumableUpload.objects.get().evidence_id == evidence.pk
    assert not (spool_dir / f"{ResumableUpload.objects.get().pk}.part").exists()
    # A temporary file the killed write left beside the blob is removed by the cleanup.
    call_command("cleanup_uploads", "--hours", "0", stdout=io.StringIO())
    assert [p.name for p in owner_files(evidence_storage, alice)] == [evidence.storage_name.rsplit("/", 1)[1]]


def test_a_server_killed_mid_patch_keeps_the_spool_and_the_upload_resumes(
    server, alice, alice_incident, secret, spool_dir, tmp_path
):
    """SIGKILL while a 40 MB PATCH is streaming in: after a restart HEAD reports an offset no further
    than the bytes that reached the spool, and resuming from it ends with the file's SHA-256."""
    source, size, sha = amr_file(tmp_path / "visit.amr", 40)
    created = tus_create(server.url, secret, size, filename="visit.amr", incident=alice_incident.pk)
    path = urlparse(created.headers["Location"]).path
    spool = spool_dir / f"{path.rsplit('/', 1)[1]}.part"

    raw = open_patch(server.url, secret, path, 0, size)
    sent = size * 3 // 4
    send_file(raw, source, 0, sent)
    wait_for(lambda: spool.exists() and spool.stat().st_size >= size // 2, step=0.01)
    server.kill()
    raw.close()
    assert spool.exists()
    assert EvidenceFile.objects.count() == 0

    server.start()
    head = tus_head(server.url, secret, path)
    # The bytes that reached the spool before the kill count (progress is recorded as it arrives),
    # and the offset never claims more than the spool holds.
    assert head.status_code == 200 and 0 < int(head.headers["Upload-Offset"]) <= spool.stat().st_size
    done = resume_until_done(server.url, secret, path, source, size)
    assert done["Upload-Evidence-SHA256"] == sha
    evidence = EvidenceFile.objects.get()
    assert stored_bytes_hash(evidence) == sha and evidence.size == size
    assert not spool.exists()
