"""On S3-compatible storage a large upload goes to the bucket while the phone is still sending it
(a multipart upload, evidence/storage_s3.py `StreamedUpload`), and a request that fails leaves no part
behind. Runs against moto's S3 server over HTTP: the production-like run's, or one started here."""

from __future__ import annotations

import hashlib
import os
import struct
import time
import uuid

import pytest
from django.core.files.storage import default_storage

from evidence.models import EvidenceFile
from tests.conftest import S3_MODE, api_client_for

MiB = 1024 * 1024
BOUNDARY = "streamed-upload-test"


@pytest.fixture(scope="module")
def moto_endpoint():
    if S3_MODE:
        yield None
        return
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_store(moto_endpoint, evidence_storage, settings):
    """The S3 backend under a key prefix of this test's own; returns (client, bucket, prefix)."""
    if not S3_MODE:
        import boto3
        from botocore.config import Config

        bucket = "streamed-" + uuid.uuid4().hex[:8]
        boto3.client(
            "s3",
            endpoint_url=moto_endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(s3={"addressing_style": "path"}),
        ).create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "evidence.storage_s3.EvidenceS3Storage",
                "OPTIONS": {
                    "bucket_name": bucket,
                    "endpoint_url": moto_endpoint,
                    "region_name": "us-east-1",
                    "access_key": "test",
                    "secret_key": "test",
                    "addressing_style": "path",
                    "location": "t-" + uuid.uuid4().hex[:12],
                },
            },
        }
        settings.EVIDENCE_S3_RETENTION_DAYS = 1
    client = default_storage.connection.meta.client
    return client, default_storage.bucket_name, default_storage.location


def wav(size: int, seed: int) -> bytes:
    """A WAV header and `size - 44` bytes of incompressible samples: a recording the sniffer accepts."""
    header = (
        b"RIFF"
        + struct.pack("<I", size - 8)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
        + b"data"
        + struct.pack("<I", size - 44)
    )
    block = b"".join(hashlib.sha256(f"{seed}-{n}".encode()).digest() for n in range(32 * 1024))  # 1 MiB
    body = (block * (size // len(block) + 1))[: size - 44]
    return header + body


def multipart(name: str, data: bytes) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def staged_parts(client, bucket: str, prefix: str) -> int:
    """Parts the store holds of unfinished multipart uploads under the staging folder."""
    uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=f"{prefix}/incoming/").get("Uploads", [])
    return sum(
        len(client.list_parts(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"]).get("Parts", []))
        for u in uploads
    )


def leftovers(client, bucket: str, prefix: str) -> dict:
    uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=f"{prefix}/incoming/").get("Uploads", [])
    versions = client.list_object_versions(Bucket=bucket, Prefix=f"{prefix}/incoming/")
    objects = [v["Key"] for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])]
    return {"multipart_uploads": uploads, "staged_objects": objects}


class GatedBody:
    """The request body as wsgi.input. Before it gives out its last MiB it waits until the store
    holds a part of the upload (never longer than a generous deadline), and records how many it
    saw: a server that only sent the file after reading the whole body would make it wait in vain.
    With `break_off` it then fails like a phone whose connection drops."""

    def __init__(self, body: bytes, store, *, break_off: bool = False):
        self.body = body
        self.position = 0
        self.store = store
        self.break_off = break_off
        self.parts_seen_before_end: int | None = None

    def _wait_for_a_part(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            self.parts_seen_before_end = staged_parts(*self.store)
            if self.parts_seen_before_end or time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = len(self.body) - self.position
        end = min(self.position + size, len(self.body))
        if self.parts_seen_before_end is None and end > len(self.body) - MiB:
            self._wait_for_a_part()
            if self.break_off:
                raise OSError("connection reset by peer")
        piece = self.body[self.position : end]
        self.position = end
        return piece

    def readline(self, size: int = -1) -> bytes:  # Django's LimitedStream may ask for lines
        return self.read(size)


def post(api, incident, body: bytes, gated: GatedBody):
    return api.post(
        f"/api/v1/incidents/{incident.pk}/evidence/",
        data=body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        **{"wsgi.input": gated},
    )


def test_a_large_upload_reaches_the_store_before_its_body_has_been_read_to_the_end(
    s3_store, alice, alice_incident
):
    data = wav(20 * MiB + 12345, seed=1)  # two full parts and a last one
    body = multipart("visit.wav", data)
    gated = GatedBody(body, s3_store)
    response = post(api_client_for(alice), alice_incident, body, gated)
    assert response.status_code == 201, response.content
    assert gated.parts_seen_before_end and gated.parts_seen_before_end >= 1
    assert gated.position == len(body)

    evidence = EvidenceFile.objects.get(pk=response.json()["id"])
    assert evidence.sha256 == hashlib.sha256(data).hexdigest() == response.json()["sha256"]
    assert evidence.storage_version
    with default_storage.open_version(evidence.storage_name, evidence.storage_version) as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == evidence.sha256
    # Completed, copied to its content address, and the staging copy gone.
    assert leftovers(*s3_store) == {"multipart_uploads": [], "staged_objects": []}


@pytest.mark.parametrize(
    ("case", "status"),
    [("connection drops", None), ("over the size limit", 413), ("not a recording", 415)],
)
def test_a_failed_upload_leaves_no_part_in_the_store(s3_store, alice, alice_incident, settings, case, status):
    if case == "over the size limit":
        settings.EVIDENCE_MAX_UPLOAD_BYTES = 12 * MiB
        data = wav(12 * MiB + MiB // 2, seed=2)
    elif case == "not a recording":
        data = os.urandom(1024) + b"\0" * (10 * MiB)
    else:
        data = wav(20 * MiB, seed=3)
    body = multipart("call.wav", data)
    gated = GatedBody(body, s3_store, break_off=case == "connection drops")
    api = api_client_for(alice)
    api.raise_request_exception = False
    response = post(api, alice_incident, body, gated)

    assert gated.parts_seen_before_end and gated.parts_seen_before_end >= 1  # it had begun
    if status is not None:
        assert response.status_code == status, response.content
    else:
        assert response.status_code >= 400
    assert leftovers(*s3_store) == {"multipart_uploads": [], "staged_objects": []}
    assert not EvidenceFile.objects.filter(owner=alice).exists()
