"""Uploading evidence: the exact bytes are kept, hashed on arrival, and bad files change nothing."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.models import EvidenceFile
from ledger.models import AuditEvent
from tests.conftest import ELF_EXECUTABLE, amr_bytes, pdf_bytes, png_bytes, wav_bytes


def stored_files(root):
    """Every file in the storage folder (evidence blobs and thumbnails alike)."""
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def evidence_blobs(root):
    return stored_files(root / "evidence")


def upload(api, incident, name, data):
    return api.post(
        f"/api/v1/incidents/{incident.pk}/evidence/",
        {"file": SimpleUploadedFile(name, data)},
        format="multipart",
    )


def test_downloaded_bytes_equal_uploaded_bytes(alice_api, alice_incident):
    data = wav_bytes(1.5)
    response = upload(alice_api, alice_incident, "call.wav", data)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["size"] == len(data)
    assert body["content_type"] == "audio/wav"
    assert body["incident"] == alice_incident.pk
    download = alice_api.get(f"/api/v1/evidence/{body['id']}/download")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == data
    assert "attachment" in download["Content-Disposition"]


def test_blob_is_stored_under_its_content_address(alice_api, alice_incident, private_storage):
    data = png_bytes()
    body = upload(alice_api, alice_incident, "shot.png", data).json()
    digest = hashlib.sha256(data).hexdigest()
    path = private_storage / "evidence" / str(alice_incident.case.owner_id) / digest[:2] / f"{digest}.png"
    assert path.read_bytes() == data
    assert EvidenceFile.objects.get(pk=body["id"]).storage_name.endswith(f"{digest}.png")


def test_it_refuses_an_executable_named_mp3_and_stores_nothing(alice_api, alice_incident, private_storage):
    events_before = AuditEvent.objects.count()
    response = upload(alice_api, alice_incident, "recording.mp3", ELF_EXECUTABLE)
    assert response.status_code == 415
    error = response.json()["error"]
    assert error["code"] == "unsupported_type"
    assert "recording.mp3" in error["message"] and "AMR" in error["message"]
    assert EvidenceFile.objects.count() == 0
    assert AuditEvent.objects.count() == events_before
    assert stored_files(private_storage) == []


def test_it_refuses_an_oversized_file_with_413(alice_api, alice_incident, private_storage, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 10_000
    response = upload(alice_api, alice_incident, "long.amr", amr_bytes(frames=400))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert EvidenceFile.objects.count() == 0
    assert stored_files(private_storage) == []


def test_a_file_of_exactly_the_limit_is_accepted(alice_api, alice_incident, settings):
    data = amr_bytes(frames=100)
    settings.EVIDENCE_MAX_UPLOAD_BYTES = len(data)
    assert upload(alice_api, alice_incident, "exact.amr", data).status_code == 201


def test_it_refuses_an_empty_file_with_400(alice_api, alice_incident, private_storage):
    response = upload(alice_api, alice_incident, "empty.amr", b"")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "empty_file"
    assert EvidenceFile.objects.count() == 0
    assert stored_files(private_storage) == []


def test_missing_file_field_is_a_400_naming_the_field(alice_api, alice_incident):
    response = alice_api.post(f"/api/v1/incidents/{alice_incident.pk}/evidence/", {}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    "name,data,content_type",
    [
        ("a.amr", amr_bytes(), "audio/amr"),
        ("a.wav", wav_bytes(0.2), "audio/wav"),
        ("a.png", png_bytes(), "image/png"),
        ("a.pdf", pdf_bytes(), "application/pdf"),
        ("a.m4a", b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom" + bytes(64), "audio/mp4"),
        ("a.3gp", b"\x00\x00\x00\x18ftyp3gp4\x00\x00\x00\x00isom3gp4" + bytes(64), "audio/3gpp"),
        ("a.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64), "image/heic"),
        ("a.ogg", b"OggS\x00\x02" + bytes(80), "audio/ogg"),
        ("a.webm", b"\x1a\x45\xdf\xa3" + bytes(80), "audio/webm"),
        ("a.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(80), "audio/mpeg"),
        ("a.aac", b"\xff\xf1\x50\x80" + bytes(80), "audio/aac"),
        ("a.webp", b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(80), "image/webp"),
    ],
)
def test_type_is_decided_by_the_bytes(alice_api, alice_incident, name, data, content_type):
    # Every file is sent under a misleading name: the bytes decide.
    response = upload(alice_api, alice_incident, "misleading.txt", data)
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == content_type


def test_same_bytes_twice_share_one_blob(alice_api, alice_incident, private_storage):
    data = png_bytes()
    first = upload(alice_api, alice_incident, "one.png", data).json()
    second = upload(alice_api, alice_incident, "two.png", data).json()
    assert first["sha256"] == second["sha256"] and first["id"] != second["id"]
    assert len(evidence_blobs(private_storage)) == 1


def test_page_upload_takes_several_files_and_answers_per_file(client, alice, alice_incident):
    client.force_login(alice)
    response = client.post(
        f"/incidents/{alice_incident.pk}/evidence/",
        {
            "files": [
                SimpleUploadedFile("a.png", png_bytes()),
                SimpleUploadedFile("b.exe", ELF_EXECUTABLE),
                SimpleUploadedFile("c.amr", amr_bytes()),
            ]
        },
        HTTP_ACCEPT="application/json",
    )
    results = response.json()["results"]
    assert [r["ok"] for r in results] == [True, False, True]
    assert results[1]["code"] == "unsupported_type"
    assert EvidenceFile.objects.count() == 2
    page = client.get(f"/incidents/{alice_incident.pk}/").content.decode()
    for result in (results[0], results[2]):
        assert result["sha256"] in page


def test_page_upload_without_script_redirects_with_messages(client, alice, alice_incident):
    client.force_login(alice)
    response = client.post(
        f"/incidents/{alice_incident.pk}/evidence/",
        {"files": [SimpleUploadedFile("a.png", png_bytes())]},
        follow=True,
    )
    assert response.redirect_chain
    assert hashlib.sha256(png_bytes()).hexdigest() in response.content.decode()


def test_a_failed_database_write_leaves_no_orphan_file(alice_incident, private_storage, monkeypatch):
    from evidence import services

    def broken_append(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "audit_append", broken_append)
    with pytest.raises(RuntimeError):
        services.evidence_store(incident=alice_incident, upload=SimpleUploadedFile("a.png", png_bytes()))
    assert EvidenceFile.objects.count() == 0
    assert stored_files(private_storage) == []


def test_hash_is_computed_while_streaming(rf, settings):
    """The upload handler hashes chunk by chunk and spools to disk: the file arrives with its digest."""
    from django.core.files.uploadhandler import load_handler

    data = amr_bytes(frames=5000)
    request = rf.post("/x", {"file": SimpleUploadedFile("a.amr", data)})
    request.upload_handlers = [load_handler("evidence.uploads.HashingUploadHandler", request)]
    received = request.FILES["file"]
    assert received.sha256 == hashlib.sha256(data).hexdigest()
    assert hasattr(received, "temporary_file_path")  # on disk, not in memory


def test_images_get_a_thumbnail_for_pages_and_dossiers(client, alice, alice_incident, private_storage):
    import io

    from PIL import Image

    from evidence.services import evidence_store

    data = png_bytes(size=(1080, 2400))
    evidence = evidence_store(incident=alice_incident, upload=SimpleUploadedFile("s.png", data))
    client.force_login(alice)
    response = client.get(f"/evidence/{evidence.pk}/thumb/")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(response.content)) as thumb:
        assert thumb.size == (360, 800)
    # The original is untouched and still what the evidence hashes to.
    assert (private_storage / evidence.storage_name).read_bytes() == data
