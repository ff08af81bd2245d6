"""Evidence blobs in storage: written once, read back exactly as written.

On a laptop the default FileSystemStorage holds them. On S3-compatible object storage
(`EvidenceS3Storage`), every upload is a single PUT carrying `x-amz-checksum-sha256` (the store checks
the bytes against the digest the upload handler computed), objects are private, never overwritten,
and under Object Lock retention when configured. The version id of each upload is recorded, and
evidence is always read at that version: whatever is written to the same key later, the original
cannot be replaced, and during retention it cannot be deleted either.
"""

from __future__ import annotations

import base64
import tempfile
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from .hashing import sha256_of


def _digest_of(content) -> str:
    """SHA-256 of a file about to be stored (content-addressed names already state it)."""
    known = getattr(content, "sha256", None)
    if known:
        return known
    return sha256_of(content)[0]


class EvidenceS3Storage(S3Storage):
    """django-storages' S3 backend with a per-upload checksum, Object Lock and versioned reads."""

    def __init__(self, **settings_overrides):
        settings_overrides.setdefault("file_overwrite", False)
        settings_overrides.setdefault("default_acl", "private")
        settings_overrides.setdefault("querystring_auth", True)
        super().__init__(**settings_overrides)
        self.last_versions: dict[str, str] = {}

    def _object_lock_params(self) -> dict:
        days = getattr(settings, "EVIDENCE_S3_RETENTION_DAYS", 0)
        if not days:
            return {}
        return {
            "ObjectLockMode": getattr(settings, "EVIDENCE_S3_RETENTION_MODE", "COMPLIANCE"),
            "ObjectLockRetainUntilDate": datetime.now(UTC) + timedelta(days=days),
        }

    def _save(self, name, content):
        cleaned = clean_name(name)
        key = self._normalize_name(cleaned)
        digest = _digest_of(content)
        params = self._get_write_parameters(key, content)
        params.update(self._object_lock_params())
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
        self.last_versions[cleaned] = response.get("VersionId") or ""
        return cleaned

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


def save_blob(name: str, content) -> tuple[str, str]:
    """Store a blob through the storage API; returns (stored name, version id or "")."""
    stored = default_storage.save(name, content)
    versions = getattr(default_storage, "last_versions", None)
    return stored, (versions.pop(stored, "") if versions is not None else "")


def open_blob(name: str, version: str = ""):
    """Open a stored blob for reading, at its recorded version when the store keeps versions."""
    if version and hasattr(default_storage, "open_version"):
        return default_storage.open_version(name, version)
    return default_storage.open(name, "rb")


def open_evidence(evidence):
    return open_blob(evidence.storage_name, evidence.storage_version)
