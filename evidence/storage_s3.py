"""Evidence on S3-compatible object storage (`EvidenceS3Storage`), with boto3 and django-storages.

Every upload is a single PUT carrying `x-amz-checksum-sha256` (the store checks the bytes against
the digest the upload handler computed), objects are private, never overwritten, and under Object
Lock retention when configured. The version id of each upload is recorded, and evidence is always
read at that version: whatever is written to the same key later, the original cannot be replaced, and
during retention it cannot be deleted either.

This module is imported only when settings name the backend (EVIDENCE_S3_BUCKET): boto3 and botocore
take tens of megabytes, which a web or worker process on local files never loads (evidence.storage
asks about botocore's errors without importing it).
"""

from __future__ import annotations

import base64
import tempfile
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
        return base64.b64decode(value).hex() if value else ""

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
