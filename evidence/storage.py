"""Evidence blobs in storage: written once, read back exactly as written.

On a laptop `EvidenceFileSystemStorage` holds them: every file is written to a temporary name in its
own folder, flushed to disk (fsync), renamed into place and the folder flushed too, so a crash at any
moment leaves either the whole file under its name or no file there (plus a temporary file that
`manage.py cleanup_uploads` removes). On S3-compatible object storage `EvidenceS3Storage`
(evidence/storage_s3.py) holds them: checksummed single PUTs, Object Lock, reads at the version
recorded on arrival.

Nothing here imports boto3 or botocore: a process on local files never loads them (they take tens of
megabytes). Their errors are recognised through `client_errors()` and `storage_outage()`, which
look botocore up only once something (the S3 backend) has loaded it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time

from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.utils import validate_file_name

from .hashing import sha256_of


def __getattr__(name: str):
    # "evidence.storage.EvidenceS3Storage", the class path of earlier settings, still names the S3
    # backend; it is imported on that first use, never with this module.
    if name == "EvidenceS3Storage":
        from .storage_s3 import EvidenceS3Storage  # noqa: PLC0415  (boto3 only when S3 is configured)

        return EvidenceS3Storage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _botocore_exceptions():
    """botocore.exceptions once the S3 backend (or anything else) has loaded it, else None: an
    exception of botocore's cannot exist before botocore is imported, so there is nothing to match."""
    return sys.modules.get("botocore.exceptions")


def client_errors() -> tuple[type[Exception], ...]:
    """botocore's ClientError (an answer of the object store refusing or failing a request), for
    `except` and `isinstance`; empty while botocore is not loaded (local files never raise it)."""
    exceptions = _botocore_exceptions()
    return (exceptions.ClientError,) if exceptions is not None else ()


def storage_outage(exc: BaseException) -> bool:
    """Whether `exc` says the object store cannot be reached or failed on its side (a timeout, a
    refused connection, a 5xx), as opposed to a refusal of this request."""
    exceptions = _botocore_exceptions()
    if exceptions is None:
        return False
    # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError...
    unreachable = (exceptions.ConnectionError, exceptions.HTTPClientError, exceptions.NoCredentialsError)
    if isinstance(exc, unreachable):
        return True
    if isinstance(exc, exceptions.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500
    return False


# A file being written is named ".incoming-<random>.tmp" in its final folder until it is complete.
TEMPORARY_PREFIX = ".incoming-"
TEMPORARY_SUFFIX = ".tmp"


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


def _spool_path(content) -> str | None:
    """The spool file of an upload that may be moved into the store instead of copied: Django's
    temporary upload file (evidence.uploads spools every upload to one), not moved already."""
    if not isinstance(content, TemporaryUploadedFile) or getattr(content, "spool_moved", False):
        return None
    try:
        path = content.temporary_file_path()
    except (AttributeError, ValueError):
        return None
    return path if path and os.path.isfile(path) else None


def _move_spool(content, temporary: str) -> bool:
    """Move an upload's spool file onto `temporary` (a name in the blob's own folder) when both are
    on one file system: the bytes the upload handler hashed are flushed, synced once and renamed, so
    a large recording is written to disk once instead of twice. False (nothing moved, the caller
    copies) for any other content, another file system, or a rename the system refuses.

    The upload stays readable through its open file after the move (thumbnails, metadata); closing
    it no longer finds the spool name, which Django's TemporaryUploadedFile.close() allows for."""
    spool = _spool_path(content)
    if spool is None:
        return False
    try:
        if os.stat(spool).st_dev != os.stat(os.path.dirname(temporary)).st_dev:
            return False
        content.file.flush()
        os.fsync(content.fileno())
        os.replace(spool, temporary)
    except OSError:
        return False
    content.spool_moved = True
    return True


def write_atomically(storage: FileSystemStorage, name: str, content, *, replace: bool) -> str:
    """Write `content` under `name` in a FileSystemStorage so that the name holds either nothing or
    the whole file: written to a temporary name in the same folder, fsynced, then renamed into place
    and the folder fsynced. With `replace` an existing file is replaced in one step (os.replace);
    without, an existing name is kept and the file gets an available name instead (the hard link
    fails when the name is taken, so two writers never overwrite each other). Returns the name.

    An upload spooled to disk on the same file system is not copied: its spool file becomes the
    temporary file (`_move_spool`), one write and one fsync for the whole upload."""
    full_path = storage.path(name)
    directory = os.path.dirname(full_path)
    created = _make_folders(storage, directory)
    fd, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=TEMPORARY_SUFFIX, dir=directory)
    try:
        if _move_spool(content, temporary):  # the spool replaced the empty temporary file
            os.close(fd)
        else:
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


# A record written once (ledger.records) is readable by the server's user only, and by no one
# writable: the folder stays writable, so deleting it needs a deliberate act, never an overwrite.
RECORD_MODE = 0o400


def write_once(storage: FileSystemStorage, name: str, data: bytes) -> bool:
    """Write `data` under exactly `name` unless the name is taken: True when written, False when a
    file was already there (it is left as it is). Atomic like `write_atomically`, and the file is
    created read-only: a name in a write-once folder is never overwritten."""
    validate_file_name(name, allow_relative_path=True)
    full_path = storage.path(name)
    directory = os.path.dirname(full_path)
    created = _make_folders(storage, directory)
    if os.path.exists(full_path):
        return False
    fd, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=TEMPORARY_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, RECORD_MODE)
        try:
            os.link(temporary, full_path)  # fails when the name is taken: never an overwrite
        except FileExistsError:
            return False
        except OSError:
            # A file system without hard links: check, then rename (a narrow race, no torn file).
            if os.path.exists(full_path):
                return False
            os.rename(temporary, full_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    _fsync_folder(directory)
    for folder in created:
        _fsync_folder(os.path.dirname(folder))
    return True


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

    def save_once(self, name: str, data: bytes) -> bool:
        """Write a record under exactly `name` unless the name is taken (see `write_once`)."""
        return write_once(self, name, data)

    def remove_stale_temporaries(self, *, older_than_seconds: float) -> list[str]:
        return remove_stale_temporaries(self, older_than_seconds=older_than_seconds)


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
        except client_errors():
            return False
        if recorded:
            return recorded == sha256
    try:
        with open_blob(name, version) as handle:
            return sha256_of(handle)[0] == sha256
    except (OSError, *client_errors()):
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
