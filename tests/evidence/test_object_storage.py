"""Evidence on S3-compatible object storage with Object Lock (the production-like run: moto's S3
server over HTTP). Skipped on the laptop configuration."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from evidence.models import EvidenceFile
from tests.conftest import ELF_EXECUTABLE, S3_MODE, amr_bytes

pytestmark = pytest.mark.skipif(not S3_MODE, reason="needs EVIDENCE_S3_BUCKET (the production-like run)")


def s3_client():
    return default_storage.connection.meta.client


def keys_under(prefix: str) -> list[str]:
    listing = s3_client().list_object_versions(Bucket=default_storage.bucket_name, Prefix=prefix + "/")
    return [v["Key"] for v in listing.get("Versions", [])]


def upload(api, incident, data, name="call.amr"):
    return api.post(
        f"/api/v1/incidents/{incident.pk}/evidence/",
        {"file": SimpleUploadedFile(name, data)},
        format="multipart",
    )


def test_every_upload_carries_its_sha256_checksum_and_is_read_at_its_version(alice_api, alice_incident):
    data = amr_bytes(frames=800)
    body = upload(alice_api, alice_incident, data).json()
    evidence = EvidenceFile.objects.get(pk=body["id"])
    assert evidence.storage_version
    assert (
        default_storage.checksum_of(evidence.storage_name, evidence.storage_version)
        == hashlib.sha256(data).hexdigest()
    )
    download = alice_api.get(f"/api/v1/evidence/{evidence.pk}/download")
    assert b"".join(download.streaming_content) == data


def test_a_stored_original_cannot_be_deleted_or_replaced(alice_api, alice_incident, settings):
    assert settings.EVIDENCE_S3_RETENTION_DAYS > 0, "the production-like run sets a retention period"
    data = amr_bytes(frames=900)
    evidence = EvidenceFile.objects.get(pk=upload(alice_api, alice_incident, data).json()["id"])
    key = default_storage._normalize_name(evidence.storage_name)
    client = s3_client()
    # With the bucket's own credentials: deleting the recorded version is refused during retention.
    with pytest.raises(Exception) as refused:
        client.delete_object(Bucket=default_storage.bucket_name, Key=key, VersionId=evidence.storage_version)
    assert "AccessDenied" in str(refused.value)
    # Writing other bytes under the same key only adds a version; the original stays what is read.
    client.put_object(Bucket=default_storage.bucket_name, Key=key, Body=b"tampered")
    client.delete_object(Bucket=default_storage.bucket_name, Key=key)  # a delete marker, nothing more
    out = io.StringIO()
    call_command("verify_evidence", stdout=out)
    assert "OK" in out.getvalue()
    download = alice_api.get(f"/api/v1/evidence/{evidence.pk}/download")
    assert b"".join(download.streaming_content) == data


def test_a_refused_upload_stores_nothing(alice_api, alice_incident, evidence_storage):
    assert upload(alice_api, alice_incident, ELF_EXECUTABLE, name="x.mp3").status_code == 415
    assert [k for k in keys_under(evidence_storage["prefix"]) if "/evidence/" in k] == []


def test_downloads_can_redirect_to_a_short_lived_url_of_the_recorded_version(
    alice_api, alice_incident, settings
):
    import requests

    data = amr_bytes(frames=700)
    evidence = EvidenceFile.objects.get(pk=upload(alice_api, alice_incident, data).json()["id"])
    settings.EVIDENCE_S3_PRESIGNED_DOWNLOADS = True
    response = alice_api.get(f"/api/v1/evidence/{evidence.pk}/download")
    assert response.status_code == 302 and "versionId=" in response["Location"]
    assert requests.get(response["Location"], timeout=30).content == data
