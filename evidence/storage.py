"""Evidence blobs in storage: written once, read back exactly as written.

On a laptop `EvidenceFileSystemStorage` holds them: every file is written to a temporary name in its
own folder, flushed to disk (fsync), renamed into place and the folder flushed too, so a crash at any
moment leaves either the whole file under its name or no file there (plus a temporary file that
`manage.py cleanup_uploads` removes). On S3-compatible object storage
(`EvidenceS3Storage`), every upload is a single PUT carrying `x-amz-checksum-sha256` (the store checks
the bytes against the digest the upload handler computed), objects are private, never overwritten,
and under Object Lock retention when configured. The version id of each upload is recorded, and
evidence is always read at that version: whatever is written to the same key later, the original
cannot be replaced, and during retention it cannot be deleted either.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.utils import validate_file_name
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from .hashing import sha256_of

# A file being written is named ".incoming-<random>.tmp" in its final folder until it is complete.
TEMPORARY_PREFIX = ".incoming-"
TEMPORARY_SUFFIX = ".tmp"


def _digest_of(content) -> str:
    """SHA-256 of a file about to be stored (content-addressed names already state it)."""
    known = getattr(content, "sha256", None)
    if known:
        return known
    return sha256_of(content)[0]


def _fsync_folder(path: str) -> None:
    """Make a folder's entries (a file renamed into it, a folder made in it) survive a power cut."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        # Some file systems cannot sync a folder; the rename is still atomic there.
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _make_folders(storage: FileSystemStorage, directory: str) -> list[str]:
    """Create `directory` and its missing parents with the storage's mode; returns those created."""
    missing = []
    folder = directory
    while not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    mode = storage.directory_permissions_mode
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o777 if mode is None else mode)
        except FileExistsError:
            if not os.path.isdir(folder):
                raise FileExistsError(f"{folder} exists and is not a directory.") from None
            continue
        if mode is not None:
            os.chmod(folder, mode)  # mkdir's mode is reduced by the umask
    return missing


def _write_chunks(out, content) -> None:
    if not hasattr(content, "chunks"):
        content = File(content)
    for chunk in content.chunks():  # File.chunks() starts from the beginning
        out.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)


def write_atomically(storage: FileSystemStorage, name: str, content, *, replace: bool) -> str:
    """Write `content` under `name` in a FileSystemStorage so that the name holds either nothing or
    the whole file: written to a temporary name in the same folder, fsynced, then renamed into place
    and the folder fsynced. With `replace` an existing file is replaced in one step (os.replace);
    without, an existing name is kept and the file gets an available name instead (the hard link
    fails when the name is taken, so two writers never overwrite each other). Returns the name."""
    full_path = storage.path(name)
    directory = os.path.dirname(full_path)
    created = _make_folders(storage, directory)
    fd, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=TEMPORARY_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            _write_chunks(out, content)
            out.flush()
            os.fsync(out.fileno())
        if storage.file_permissions_mode is not None:  # otherwise mkstemp's private 0o600 stays
            os.chmod(temporary, storage.file_permissions_mode)
        while True:
            if replace:
                os.replace(temporary, full_path)
                break
            try:
                os.link(temporary, full_path)
            except FileExistsError:
                name = storage.get_available_name(name)
                full_path = storage.path(name)
                continue
            except OSError:
                # A file system without hard links: check, then rename (a narrow race, no torn file).
                if os.path.exists(full_path):
                    name = storage.get_available_name(name)
                    full_path = storage.path(name)
                    continue
                os.replace(temporary, full_path)
                break
            os.unlink(temporary)
            break
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_folder(directory)
    for folder in created:
        _fsync_folder(os.path.dirname(folder))
    ensure_group = getattr(storage, "_ensure_location_group_id", None)
    if ensure_group is not None:
        ensure_group(full_path)
    return os.path.relpath(full_path, storage.location).replace("\\", "/")


def remove_stale_temporaries(storage: FileSystemStorage, *, older_than_seconds: float) -> list[str]:
    """Remove temporary files a killed write left in the storage folder (only ours, only old ones)."""
    removed = []
    cutoff = time.time() - older_than_seconds
    for root, _dirs, files in os.walk(storage.location):
        for file_name in files:
            if not (file_name.startswith(TEMPORARY_PREFIX) and file_name.endswith(TEMPORARY_SUFFIX)):
                continue
            path = os.path.join(root, file_name)
            try:
                if os.lstat(path).st_mtime <= cutoff:
                    os.unlink(path)
                    removed.append(os.path.relpath(path, storage.location))
            except FileNotFoundError:
                continue
    return removed


class EvidenceFileSystemStorage(FileSystemStorage):
    """Local storage whose files appear whole or not at all (see `write_atomically`)."""

    def _save(self, name, content):
        return write_atomically(self, name, content, replace=getattr(self, "_allow_overwrite", False))

    def save_versioned(self, name: str, content) -> tuple[str, str]:
        """Write `content` under exactly `name` (a content address), atomically replacing whatever
        file is there. Local files keep no versions, so the version is ""."""
        validate_file_name(name, allow_relative_path=True)
        return write_atomically(self, name, content, replace=True), ""

    def remove_stale_temporaries(self, *, older_than_seconds: float) -> list[str]:
        return remove_stale_temporaries(self, older_than_seconds=older_than_seconds)


class EvidenceS3Storage(S3Storage):
    """django-storages' S3 backend with a per-upload checksum, Object Lock and versioned reads."""

    def __init__(self, **settings_overrides):
        settings_overrides.setdefault("file_overwrite", False)
        settings_overrides.setdefault("default_acl", "private")
        settings_overrides.setdefault("querystring_auth", True)
        super().__init__(**settings_overrides)

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

    def _put(self, name, content) -> tuple[str, str]:
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


def save_blob(name: str, content) -> tuple[str, str]:
    """Store a content-addressed blob under exactly `name`, replacing whatever is there (the name
    states what the bytes must hash to); returns (stored name, version id or "")."""
    save_versioned = getattr(default_storage, "save_versioned", None)
    if save_versioned is not None:
        return save_versioned(name, content)
    if isinstance(default_storage, FileSystemStorage):  # a plain FileSystemStorage set by hand
        validate_file_name(name, allow_relative_path=True)
        return write_atomically(default_storage, name, content, replace=True), ""
    return default_storage.save(name, content), ""


def blob_holds(name: str, version: str, sha256: str) -> bool:
    """Whether the stored blob (at its recorded version) hashes to `sha256`: what sits under a
    content address is re-read before it is trusted, never taken on its name. An object store's own
    SHA-256 checksum, checked by the store when the version was written, stands for a re-read."""
    checksum_of = getattr(default_storage, "checksum_of", None)
    if checksum_of is not None and version:
        try:
            recorded = checksum_of(name, version)
        except ClientError:
            return False
        if recorded:
            return recorded == sha256
    try:
        with open_blob(name, version) as handle:
            return sha256_of(handle)[0] == sha256
    except (OSError, ClientError):
        return False


def keep_blob(name: str, upload, *, sha256: str, recorded_version: str | None) -> tuple[str, str, bool]:
    """The content-addressed blob holding `upload`: (name, version, whether this call wrote it).

    A blob already at the address (recorded by a row, or a local file from before) is re-hashed and
    reused only when it hashes right; a missing or wrong one is written again: atomically replacing
    the file on local storage, as a new version (the one returned) on a versioned object store."""
    versioned = hasattr(default_storage, "open_version")
    if recorded_version is not None or not versioned:
        if blob_holds(name, recorded_version or "", sha256):
            return name, recorded_version or "", False
    upload.seek(0)
    if getattr(upload, "sha256", None) is None:
        upload.sha256 = sha256
    stored, version = save_blob(name, upload)
    return stored, version, True


def open_blob(name: str, version: str = ""):
    """Open a stored blob for reading, at its recorded version when the store keeps versions."""
    if version and hasattr(default_storage, "open_version"):
        return default_storage.open_version(name, version)
    return default_storage.open(name, "rb")


def open_evidence(evidence):
    return open_blob(evidence.storage_name, evidence.storage_version)
