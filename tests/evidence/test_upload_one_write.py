"""A local upload is written to disk once: its spool file is renamed into the evidence store.

The upload handler spools every file to FILE_UPLOAD_TEMP_DIR while hashing it; when the store is on
the same file system that file becomes the stored blob (one write, one fsync) instead of being
copied. Elsewhere, or when the rename is refused, the bytes are copied as before. Either way the
downloaded bytes are the uploaded ones and no spool file is left behind.
"""

from __future__ import annotations

import errno
import hashlib
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.models import EvidenceFile
from tests.conftest import wav_bytes


@pytest.fixture
def spool(tmp_path, settings, private_storage):
    """The upload spool folder, on the same file system as the evidence store (both in tmp_path)."""
    folder = tmp_path / "upload-spool"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


@pytest.fixture
def renames(monkeypatch, spool):
    """Every rename out of the spool folder: (inode of the spool file, destination). `refuse` makes
    those renames fail as across file systems (EXDEV)."""
    real_replace = os.replace
    seen = {"moves": [], "refuse": False}

    def replace(src, dst, *args, **kwargs):
        if os.path.dirname(os.fspath(src)) == str(spool):
            if seen["refuse"]:
                raise OSError(errno.EXDEV, "Invalid cross-device link")
            seen["moves"].append((os.stat(src).st_ino, dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    return seen


def post(api, incident, data, name="call.wav"):
    return api.post(
        f"/api/v1/incidents/{incident.pk}/evidence/",
        {"file": SimpleUploadedFile(name, data)},
        format="multipart",
    )


def stored_path(private_storage, evidence_id):
    return private_storage / EvidenceFile.objects.get(pk=evidence_id).storage_name


def test_the_spool_file_becomes_the_stored_blob(alice_api, alice_incident, private_storage, spool, renames):
    data = wav_bytes(3)
    response = post(alice_api, alice_incident, data)
    assert response.status_code == 201, response.content
    assert response.json()["sha256"] == hashlib.sha256(data).hexdigest()
    path = stored_path(private_storage, response.json()["id"])
    # The blob is the very file the handler spooled (same inode): renamed into place, not copied.
    assert len(renames["moves"]) == 1
    assert os.stat(path).st_ino == renames["moves"][0][0]
    assert path.read_bytes() == data
    download = alice_api.get(f"/api/v1/evidence/{response.json()['id']}/download")
    assert b"".join(download.streaming_content) == data
    assert list(spool.iterdir()) == []  # nothing left in the spool folder
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".incoming-")]


def test_on_another_file_system_the_bytes_are_copied(
    alice_api, alice_incident, private_storage, spool, renames
):
    renames["refuse"] = True
    data = wav_bytes(2)
    response = post(alice_api, alice_incident, data)
    assert response.status_code == 201, response.content
    assert stored_path(private_storage, response.json()["id"]).read_bytes() == data
    assert list(spool.iterdir()) == []  # the spool file went with the request, as before


def test_a_moved_upload_can_still_be_read_and_stored_again(
    alice_incident, bob, private_storage, spool, renames
):
    """After the rename the upload reads on from its open file: a second copy (another owner's
    address) is written from it, and closing it raises nothing."""
    from django.core.files.uploadhandler import load_handler
    from django.test import RequestFactory

    from evidence.services import case_create, evidence_store, incident_create

    data = wav_bytes(2)
    request = RequestFactory().post("/x", {"file": SimpleUploadedFile("call.wav", data)})
    request.upload_handlers = [load_handler("evidence.uploads.HashingUploadHandler", request)]
    upload = request.FILES["file"]
    first = evidence_store(incident=alice_incident, upload=upload)
    bob_case = case_create(owner=bob, title="bob", creditor="huabei")
    bob_incident = incident_create(case=bob_case, kind="call", occurred_at=alice_incident.occurred_at)
    second = evidence_store(incident=bob_incident, upload=upload)
    upload.close()
    assert len(renames["moves"]) == 1  # only the first store could take the spool file
    for evidence in (first, second):
        assert (private_storage / evidence.storage_name).read_bytes() == data
    assert list(spool.iterdir()) == []


def test_a_failed_database_write_after_the_rename_leaves_no_file(
    alice_api, alice_incident, private_storage, spool, renames, monkeypatch
):
    from evidence import services

    def broken_append(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "audit_append", broken_append)
    with pytest.raises(RuntimeError):
        post(alice_api, alice_incident, wav_bytes(2))
    assert len(renames["moves"]) == 1
    assert EvidenceFile.objects.count() == 0
    assert [p for p in private_storage.rglob("*") if p.is_file()] == []
    assert list(spool.iterdir()) == []
