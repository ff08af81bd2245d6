"""Destroying stored blobs for good, and storing an export zip.

On local files a blob is deleted. On a versioned object store (`EvidenceS3Storage`) deleting a key
only adds a delete marker: the bytes stay in every version. So each version is destroyed by its id,
at once when it has no retention, and at the end of its Object Lock retention otherwise (COMPLIANCE
mode: nobody can destroy it earlier, by design). Until then a delete marker hides the key and no row
points at it, so nothing in the app can read it.

Every blob to destroy is first written down as a `BlobPurge` row in the transaction of the deletion
that orphaned it; `purge_due` (run by the purge task queued when that commits, queued again for the
end of a retention, and by `manage.py purge_deleted`) does the destroying and keeps trying after an
error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage
from django.utils import timezone
from storages.utils import clean_name

from complaints.models import Dossier
from evidence.models import EvidenceFile, PhoneImport
from evidence.storage import client_errors
from evidence.thumbnails import thumbnail_name

from .models import BlobPurge, Export

logger = logging.getLogger(__name__)

# Each owner's blobs live under these folders (content-addressed evidence and phone exports,
# thumbnails, dossier PDFs, export zips), as "<folder>/<owner id>/...".
OWNER_FOLDERS = ("evidence", "thumbs", "dossiers", "exports")
# A failed attempt (the store unreachable) is tried again after this long.
RETRY_AFTER = timedelta(minutes=15)


def versioned() -> bool:
    """Does the store keep versions (so a delete alone destroys nothing)?"""
    return hasattr(default_storage, "open_version")


def _s3_storage_class():
    """django-storages' S3Storage when the default storage is one, else None. Asked without importing
    the backend: a process on local files never loads boto3, and an S3 storage in use has loaded it."""
    backend = sys.modules.get("storages.backends.s3")
    if backend is not None and isinstance(default_storage, backend.S3Storage):
        return backend.S3Storage
    return None


def _s3():
    return default_storage.connection.meta.client, default_storage.bucket_name


def _key(name: str) -> str:
    return default_storage._normalize_name(clean_name(name))


def _name_of(key: str) -> str:
    location = (default_storage.location or "").strip("/")
    return key[len(location) + 1 :] if location and key.startswith(location + "/") else key


def _versions_under(prefix: str, *, exact: bool) -> Iterator[tuple[str, str, bool]]:
    """(name, version id, is a delete marker) of every version stored under a key or a folder."""
    client, bucket = _s3()
    key = _key(prefix)
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=key if exact else key.rstrip("/") + "/"):
        for entry in page.get("Versions", []):
            if not exact or entry["Key"] == key:
                yield _name_of(entry["Key"]), entry["VersionId"], False
        for entry in page.get("DeleteMarkers", []):
            if not exact or entry["Key"] == key:
                yield _name_of(entry["Key"]), entry["VersionId"], True


def _files_under(folder: str) -> Iterator[str]:
    """Every file under a folder of the storage (local or a store without versions)."""
    try:
        directories, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    for file_name in files:
        yield f"{folder}/{file_name}"
    for directory in directories:
        yield from _files_under(f"{folder}/{directory}")


def _purge_rows(names: Iterable[str], *, folders: bool) -> list[BlobPurge]:
    now = timezone.now()
    rows: list[BlobPurge] = []
    for name in sorted(set(names)):
        if versioned():
            for found, version, marker in _versions_under(name, exact=not folders):
                rows.append(BlobPurge(name=found, version=version, delete_marker=marker, due_at=now))
        elif folders:
            rows.extend(BlobPurge(name=found, due_at=now) for found in _files_under(name))
        else:
            rows.append(BlobPurge(name=name, due_at=now))
    return rows


def purge_schedule(*, names: Iterable[str] = (), owner_folders_of: int | None = None, tombstone=None) -> int:
    """Write down blobs to destroy, inside the deleting transaction: the named blobs (every version
    of each on object storage) and, for a deleted account, everything under its folders (orphans a
    crash left there included). Returns how many rows were written."""
    rows = _purge_rows((n for n in names if n), folders=False)
    if owner_folders_of is not None:
        rows += _purge_rows((f"{folder}/{owner_folders_of}" for folder in OWNER_FOLDERS), folders=True)
    unique = {(row.name, row.version): row for row in rows}
    for row in unique.values():
        row.tombstone = tombstone
    BlobPurge.objects.bulk_create(unique.values())
    return len(unique)


def still_referenced(name: str) -> bool:
    """Is a version-less blob needed again (the same bytes stored anew after it was orphaned)?"""
    parts = name.split("/")
    if parts[0] == "thumbs" and len(parts) == 4 and parts[1].isdigit():
        sha256 = parts[3].split(".")[0]
        return EvidenceFile.all_objects.filter(owner_id=int(parts[1]), sha256=sha256).exists()
    return (
        EvidenceFile.all_objects.filter(storage_name=name).exists()
        or PhoneImport.objects.filter(storage_name=name).exists()
        or Dossier.objects.filter(pdf_name=name).exists()
        or Export.objects.filter(storage_name=name).exists()
    )


def thumbnail_names(owner_id: int, sha256s: Iterable[str]) -> list[str]:
    return [thumbnail_name(owner_id=owner_id, sha256=sha) for sha in sha256s]


def _retained_until(name: str, version: str) -> datetime | None:
    client, bucket = _s3()
    head = client.head_object(Bucket=bucket, Key=_key(name), VersionId=version)
    return head.get("ObjectLockRetainUntilDate")


def _destroy(item: BlobPurge) -> datetime | None:
    """Destroy one blob or version: None when it is gone, or the end of the retention that keeps it."""
    if not item.version:
        default_storage.delete(item.name)
        return None
    client, bucket = _s3()
    try:
        client.delete_object(Bucket=bucket, Key=_key(item.name), VersionId=item.version)
    except client_errors() as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchVersion", "NoSuchKey", "404"):
            return None
        if code != "AccessDenied":
            raise
        until = _retained_until(item.name, item.version)
        if until is None:
            raise
        return until
    return None


def _hide(name: str, until: datetime) -> None:
    """A delete marker on a key whose versions must wait for their retention: a plain read of the
    key finds nothing. The marker is removed after the versions."""
    if default_storage.current_version(name) is None:  # hidden already (a marker, or no version)
        return
    client, bucket = _s3()
    response = client.delete_object(Bucket=bucket, Key=_key(name))
    marker = response.get("VersionId")
    if marker:
        BlobPurge.objects.create(name=name, version=marker, delete_marker=True, due_at=until)


def purge_due(*, now: datetime | None = None, names: Iterable[str] | None = None) -> dict[str, int]:
    """Destroy every blob whose time has come (only `names` when given). Versions still under
    retention are rescheduled for its end and hidden meanwhile; errors are kept for the next run."""
    now = now or timezone.now()
    counts = {"destroyed": 0, "waiting": 0, "errors": 0}
    due = BlobPurge.objects.filter(due_at__lte=now)
    if names is not None:
        due = due.filter(name__in=list(names))
    # Data first, delete markers after (a marker removed before its versions would show them).
    for item in due.order_by("delete_marker", "due_at", "id").iterator():
        if item.delete_marker:
            later = BlobPurge.objects.filter(name=item.name, delete_marker=False).order_by("-due_at").first()
            if later is not None:
                BlobPurge.objects.filter(pk=item.pk).update(due_at=max(later.due_at, now))
                counts["waiting"] += 1
                continue
        elif not item.version and still_referenced(item.name):
            item.delete()  # the same bytes were stored again since: they are evidence now
            continue
        try:
            until = _destroy(item)
        except Exception as exc:
            logger.warning("purge of %s failed: %s", item.name, exc)
            BlobPurge.objects.filter(pk=item.pk).update(
                attempts=item.attempts + 1,
                last_error=f"{exc.__class__.__name__}: {exc}"[:300],
                due_at=now + RETRY_AFTER,
            )
            counts["errors"] += 1
            continue
        if until is None:
            item.delete()
            counts["destroyed"] += 1
        else:
            BlobPurge.objects.filter(pk=item.pk).update(attempts=item.attempts + 1, due_at=until)
            _hide(item.name, until)
            counts["waiting"] += 1
    return counts


def remove_empty_folders(owner_id: int) -> None:
    """Local files only: the owner's emptied folders go too (their names hold the account id)."""
    if not isinstance(default_storage, FileSystemStorage):
        return
    for folder in OWNER_FOLDERS:
        # Local folders are not blobs; the storage API has no call to remove one.
        top = os.path.join(default_storage.location, folder, str(owner_id))
        for root, _dirs, _files in os.walk(top, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(root)


def retention_end(tombstone) -> datetime | None:
    """The latest end of retention among the blobs a deletion left waiting (None: nothing waits)."""
    rows = BlobPurge.objects.filter(tombstone=tombstone, delete_marker=False)
    latest = rows.order_by("-due_at").values_list("due_at", flat=True).first()
    return latest if latest and latest > timezone.now() else None


def export_save(name: str, fileobj) -> str:
    """Store an export zip through the storage API, streamed from its temporary file. On object
    storage it is not evidence: no Object Lock of ours (it is deleted with the account, or after
    EXPORT_KEEP_DAYS) and a multipart upload (one PUT stops at 5 GB; an account may hold more)."""
    content = File(fileobj, name=os.path.basename(name))
    s3_storage = _s3_storage_class()
    if s3_storage is not None and versioned():
        return s3_storage._save(default_storage, name, content)
    return default_storage.save(name, content)


def export_open(name: str):
    """An export zip for reading in blocks. On object storage the response body itself: a storage
    file would first copy the whole zip into memory (django-storages spools without a limit)."""
    if _s3_storage_class() is not None:
        client, bucket = _s3()
        return client.get_object(Bucket=bucket, Key=_key(name))["Body"]
    return default_storage.open(name, "rb")
