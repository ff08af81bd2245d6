"""Evidence on S3-compatible object storage (`EvidenceS3Storage`), with boto3 and django-storages.

Every upload carries SHA-256 checksums the store checks: a file of up to one part (8 MiB) is a single
PUT with `x-amz-checksum-sha256` of the digest the upload handler computed; a larger one goes up while
the request body is still arriving (`StreamedUpload`: a multipart upload to a staging key under
`incoming/`, each 8 MiB part sent with its own SHA-256 as soon as it has been received), and is then
copied in the store to its content address, asking the store for the copy's SHA-256, which must be the
handler's digest. Objects are private, never overwritten, and under Object
Lock retention when configured. The version id of each upload is recorded, and evidence is always
read at that version: whatever is written to the same key later, the original cannot be replaced, and
during retention it cannot be deleted either.

This module is imported only when settings name the backend (EVIDENCE_S3_BUCKET): boto3 and botocore
take tens of megabytes, which a web or worker process on local files never loads (evidence.storage
asks about botocore's errors without importing it).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from botocore.config import Config
from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.utils import validate_file_name
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from .hashing import sha256_of

logger = logging.getLogger(__name__)

# Parts of a streamed upload: S3's minimum part size is 5 MiB; 8 MiB is boto3's own default, and a
# file of at most one part is sent as one PUT once it has arrived.
STREAM_PART_BYTES = 8 * 1024 * 1024
# Parts sent at once, and parts read from the spool file but not yet acknowledged (memory bound).
STREAM_SENDERS = 2
STREAM_IN_FLIGHT = 3
STAGING_FOLDER = "incoming"


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _name_checksum_algorithm(params, **kwargs) -> None:
    params["headers"].setdefault("x-amz-sdk-checksum-algorithm", "SHA256")


class StreamedUpload:
    """A multipart upload to a staging key, fed from the upload's spool file while the request body
    is still arriving: the handler calls `send(offset, length)` each time a part's bytes are on disk,
    a sender thread reads them back (os.pread, so the request thread keeps writing) and sends them
    with their SHA-256. `consume(key, ...)` completes it and copies the object to its content
    address; `abort()` (the request failed, was refused, or its file was not kept) aborts the
    multipart upload or deletes the staged object, so nothing of the request stays in the bucket."""

    def __init__(self, storage, fileno: int):
        self.client = storage.connection.meta.client
        self.bucket = storage.bucket_name
        self.key = storage._normalize_name(clean_name(f"{STAGING_FOLDER}/{uuid.uuid4().hex}"))
        self.fileno = fileno
        self.upload_id = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=self.key, ChecksumAlgorithm="SHA256"
        )["UploadId"]
        self.parts: list = []  # futures, in part order
        self.slots = threading.BoundedSemaphore(STREAM_IN_FLIGHT)
        self.pool = ThreadPoolExecutor(max_workers=STREAM_SENDERS, thread_name_prefix="s3-part")
        self.size = 0
        self.staged = False  # completed under the staging key, not yet deleted there
        self.staged_version = None
        self.done = False  # completed and copied, or aborted

    def send(self, offset: int, length: int) -> None:
        """Send bytes [offset, offset + length) of the spool file as the next part (they must be
        flushed to the file already). Waits while STREAM_IN_FLIGHT parts are unacknowledged."""
        number = len(self.parts) + 1
        self.slots.acquire()
        try:
            self.parts.append(self.pool.submit(self._send_part, number, offset, length))
        except BaseException:
            self.slots.release()
            raise
        self.size = offset + length

    def _send_part(self, number: int, offset: int, length: int) -> dict:
        try:
            data = os.pread(self.fileno, length, offset)
            if len(data) != length:
                raise OSError(f"part {number}: {len(data)} of {length} bytes on disk")
            digest = hashlib.sha256(data).digest()
            response = self.client.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=data,
                ChecksumSHA256=_b64(digest),
            )
            return {
                "PartNumber": number,
                "ETag": response["ETag"],
                "ChecksumSHA256": _b64(digest),
                "raw": digest,
            }
        finally:
            self.slots.release()

    def _wait(self) -> list[dict]:
        return [future.result() for future in self.parts]

    def consume(self, key: str, *, sha256: str, size: int, params: dict) -> str:
        """Complete the upload and copy it to `key` (its content address) with `params` (content
        type, ACL, Object Lock); the store's SHA-256 of the copy must be `sha256`. Returns the
        copy's version id. Raises when a part failed, the sizes differ or the checksum does not
        match (the request then fails and `abort` cleans up)."""
        if self.done:
            raise RuntimeError("this streamed upload was already used")
        if size != self.size:
            raise ValueError(f"streamed {self.size} bytes, the file has {size}")
        parts = self._wait()
        completed = self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={
                "Parts": [{k: part[k] for k in ("PartNumber", "ETag", "ChecksumSHA256")} for part in parts]
            },
        )
        self.upload_id = None
        self.staged = True
        self.staged_version = completed.get("VersionId")
        source = {"Bucket": self.bucket, "Key": self.key}
        if self.staged_version:
            source["VersionId"] = self.staged_version
        # Some stores (moto) want a copy under Object Lock to name its checksum algorithm in the
        # header a PUT carries; S3 itself ignores it on a copy.
        self.client.meta.events.register(
            "before-call.s3.CopyObject", _name_checksum_algorithm, unique_id="evidence-copy-checksum"
        )
        try:
            copied = self.client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource=source,
                ChecksumAlgorithm="SHA256",
                MetadataDirective="REPLACE",
                **params,
            )
        finally:
            self._delete_staged()
        result = copied.get("CopyObjectResult", {})
        reported = result.get("ChecksumSHA256") or ""
        # S3 computes the copy's checksum over the whole object. A store that keeps the source's
        # part-wise checksum instead (moto) reports SHA-256 over the parts' digests: checked too.
        composite = _b64(hashlib.sha256(b"".join(part["raw"] for part in parts)).digest())
        if reported and reported.split("-")[0] not in (_b64(bytes.fromhex(sha256)), composite):
            raise ValueError(f"the store's checksum of {key} is not the upload's SHA-256")
        self.done = True
        self.pool.shutdown(wait=False)
        return copied.get("VersionId") or ""

    def _delete_staged(self) -> None:
        extra = {"VersionId": self.staged_version} if self.staged_version else {}
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key, **extra)
            self.staged = False
        except ClientError:
            # Under a bucket-wide default retention the staged copy stays until it ends; a
            # lifecycle rule on incoming/ removes it (README › Deployment).
            logger.warning("could not delete the staged upload %s", self.key, exc_info=True)

    def abort(self) -> None:
        """Leave nothing of this upload in the bucket (safe to call more than once)."""
        if self.done:
            return
        self.done = True
        for future in self.parts:
            future.cancel()
        self.pool.shutdown(wait=True)
        if self.upload_id is not None:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
            except ClientError:
                logger.warning("could not abort the streamed upload %s", self.key, exc_info=True)
            self.upload_id = None
        elif self.staged:
            self._delete_staged()


def _digest_of(content) -> str:
    """SHA-256 of a file about to be stored (content-addressed names already state it)."""
    known = getattr(content, "sha256", None)
    if known:
        return known
    return sha256_of(content)[0]


def request_bounds() -> Config:
    """Connect and read timeouts and a bounded number of attempts for every S3 request (settings:
    EVIDENCE_S3_CONNECT_TIMEOUT, EVIDENCE_S3_READ_TIMEOUT, EVIDENCE_S3_MAX_ATTEMPTS)."""
    return Config(
        connect_timeout=getattr(settings, "EVIDENCE_S3_CONNECT_TIMEOUT", 3),
        read_timeout=getattr(settings, "EVIDENCE_S3_READ_TIMEOUT", 10),
        retries={"total_max_attempts": getattr(settings, "EVIDENCE_S3_MAX_ATTEMPTS", 2), "mode": "standard"},
    )


class EvidenceS3Storage(S3Storage):
    """django-storages' S3 backend with a per-upload checksum, Object Lock and versioned reads."""

    def __init__(self, **settings_overrides):
        settings_overrides.setdefault("file_overwrite", False)
        settings_overrides.setdefault("default_acl", "private")
        settings_overrides.setdefault("querystring_auth", True)
        super().__init__(**settings_overrides)
        # Bounded requests (config/settings.py says why): django-storages built a Config with the
        # addressing style and signature version; the timeouts and retries are merged into it.
        self.client_config = self.client_config.merge(request_bounds())
        self._probe_client = None

    def probe(self, *, timeout: float) -> None:
        """One request with its own short timeout and no retry (for /healthz): raises when the
        store does not answer or refuses; a missing probe key is an answer."""
        if self._probe_client is None:
            self._probe_client = self._create_session().client(
                "s3",
                region_name=self.region_name,
                use_ssl=self.use_ssl,
                endpoint_url=self.endpoint_url,
                config=self.client_config.merge(
                    Config(
                        connect_timeout=timeout,
                        read_timeout=timeout,
                        retries={"total_max_attempts": 1, "mode": "standard"},
                    )
                ),
                verify=self.verify,
            )
        try:
            self._probe_client.head_object(
                Bucket=self.bucket_name, Key=self._normalize_name(clean_name("healthz/probe"))
            )
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
                raise

    def _object_lock_params(self) -> dict:
        days = getattr(settings, "EVIDENCE_S3_RETENTION_DAYS", 0)
        if not days:
            return {}
        return {
            "ObjectLockMode": getattr(settings, "EVIDENCE_S3_RETENTION_MODE", "COMPLIANCE"),
            "ObjectLockRetainUntilDate": datetime.now(UTC) + timedelta(days=days),
        }

    def _save(self, name, content):
        return self._put(name, content)[0]

    def begin_streamed_upload(self, fileno: int) -> StreamedUpload:
        """A multipart upload fed from the spool file `fileno` while the request arrives
        (evidence.uploads.HashingUploadHandler starts one once a file outgrows one part)."""
        return StreamedUpload(self, fileno)

    def save_versioned(self, name: str, content) -> tuple[str, str]:
        """Write `content` under exactly `name` (a content address) as one checksummed PUT; returns
        (name, version id). On a versioned bucket an object already there stays as an older version."""
        validate_file_name(name, allow_relative_path=True)
        if not hasattr(content, "chunks"):
            content = File(content, name)
        return self._put(name, content)

    def save_once(self, name: str, data: bytes) -> bool:
        """Write a record under exactly `name` unless the key exists: True when written, False when
        it was already there. One conditional PUT (If-None-Match: *), checksummed and under Object
        Lock retention like evidence, so the record can be neither replaced nor deleted while it
        is retained."""
        validate_file_name(name, allow_relative_path=True)
        if self.exists(name):
            return False
        try:
            self._put(name, ContentFile(data, name), extra={"IfNoneMatch": "*"})
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 412 or exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                return False  # written by someone else between the check and the PUT
            raise
        return True

    def _put(self, name, content, *, extra: dict | None = None) -> tuple[str, str]:
        cleaned = clean_name(name)
        key = self._normalize_name(cleaned)
        digest = _digest_of(content)
        params = self._get_write_parameters(key, content)
        params.update(self._object_lock_params())
        params.update(extra or {})
        streamed = getattr(content, "streamed", None)
        if streamed is not None and not streamed.done and not extra:
            # Already in the bucket, sent while the request arrived: completed and copied in place.
            size = content.size if content.size is not None else streamed.size
            return cleaned, streamed.consume(key, sha256=digest, size=size, params=params)
        content.seek(0)
        # One PUT (evidence is at most EVIDENCE_MAX_UPLOAD_BYTES, far below S3's 5 GB single-PUT
        # limit), so the whole-object checksum below is what the store verifies.
        response = self.connection.meta.client.put_object(
            Bucket=self.bucket_name,
            Key=key,
            Body=content,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=base64.b64encode(bytes.fromhex(digest)).decode(),
            **params,
        )
        return cleaned, response.get("VersionId") or ""

    def open_version(self, name: str, version: str, mode: str = "rb"):
        """The object as it was at `version` (the one recorded when the evidence arrived)."""

        key = self._normalize_name(clean_name(name))
        response = self.connection.meta.client.get_object(Bucket=self.bucket_name, Key=key, VersionId=version)
        if response.get("ContentLength", 0) <= 32 * 1024 * 1024:
            return ContentFile(response["Body"].read(), name=name)
        # Large: spooled to a temporary file on disk, so readers may seek and memory stays flat.
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
        for chunk in response["Body"].iter_chunks(1 << 20):
            spool.write(chunk)
        spool.seek(0)
        return File(spool, name=name)

    def presigned_url(self, name: str, version: str, filename: str) -> str:
        """A short-lived URL for the recorded version, downloading under the original file name."""

        params = {
            "Bucket": self.bucket_name,
            "Key": self._normalize_name(clean_name(name)),
            "ResponseContentDisposition": f"attachment; filename*=UTF-8''{quote(filename)}",
        }
        if version:
            params["VersionId"] = version
        return self.connection.meta.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self.querystring_expire
        )

    def checksum_of(self, name: str, version: str = "") -> str:
        """The SHA-256 the store recorded for the object (hex), as checked when it was written."""
        key = self._normalize_name(clean_name(name))
        extra = {"VersionId": version} if version else {}
        head = self.connection.meta.client.head_object(
            Bucket=self.bucket_name, Key=key, ChecksumMode="ENABLED", **extra
        )
        value = head.get("ChecksumSHA256") or ""
        if not value or "-" in value or head.get("ChecksumType") == "COMPOSITE":
            return ""  # none, or one over the parts' checksums: not the file's SHA-256
        return base64.b64decode(value).hex()

    def current_version(self, name: str) -> str | None:
        """The version a plain read of the key gets now (its newest version): None when that is a
        delete marker or the key holds nothing, "" on a bucket without versioning. Evidence is read
        at its recorded version whatever this says; a difference means something wrote to or
        deleted the key after the evidence arrived, which an operator should know."""
        key = self._normalize_name(clean_name(name))
        try:
            head = self.connection.meta.client.head_object(Bucket=self.bucket_name, Key=key)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if status == 404 or code in ("404", "NoSuchKey"):  # a delete marker answers 404 too
                return None
            raise
        return head.get("VersionId") or ""
