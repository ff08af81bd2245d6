"""Remove what unfinished uploads leave behind: expired resumable uploads and their spool files, spool
files no upload refers to, temporary upload files of a killed server, temporary files a killed
write left in the evidence store, and files shared into the app that were not filed within an hour. Run it from cron (hourly is plenty) on one instance."""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management.base import BaseCommand
from django.utils import timezone

from evidence.models import ResumableUpload
from evidence.resumable import expiry_hours, spool_folder, spool_path
from evidence.sharing import share_forget_stale
from evidence.storage import remove_stale_temporaries
from evidence.uploads import UPLOAD_TEMP_PREFIX, UPLOAD_TEMP_SUFFIX

_SPOOL_NAME = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.part$")


def _older_than(path: Path, cutoff: float) -> bool:
    try:
        return path.lstat().st_mtime <= cutoff
    except FileNotFoundError:
        return False


class Command(BaseCommand):
    help = (
        "Remove expired resumable uploads with their spool files, spool files without an upload, and "
        "temporary upload and store files left by a killed server (only this app's, only old ones)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--hours",
            type=float,
            default=None,
            help="Leftover files must be at least this old to be removed "
            "(default: RESUMABLE_UPLOAD_EXPIRY_HOURS).",
        )

    def handle(self, *args, **options):
        hours = options["hours"] if options["hours"] is not None else expiry_hours()
        cutoff = time.time() - hours * 3600
        expired = self.remove_expired()
        orphans = self.remove_orphan_spools(cutoff)
        temporary = self.remove_upload_temporaries(cutoff)
        store = self.remove_store_temporaries(hours * 3600)
        # Files shared into the app and never filed: an hour after they arrived, whatever --hours says.
        shared = share_forget_stale()
        self.stdout.write(
            f"expired uploads removed: {expired}\n"
            f"spool files without an upload removed: {orphans}\n"
            f"temporary upload files removed: {temporary}\n"
            f"temporary store files removed: {store}\n"
            f"staged shared files removed: {shared}"
        )

    def remove_expired(self) -> int:
        now = timezone.now()
        removed = 0
        for pk in ResumableUpload.objects.filter(expires_at__lte=now).values_list("pk", flat=True):
            # The same conditions again in the DELETE: an upload a PATCH has just claimed stays.
            deleted, _detail = (
                ResumableUpload.objects.filter(pk=pk, expires_at__lte=now)
                .exclude(claim__isnull=False, claimed_until__gte=now)
                .delete()
            )
            if deleted:
                spool_path(pk).unlink(missing_ok=True)
                removed += 1
        return removed

    def remove_orphan_spools(self, cutoff: float) -> int:
        folder = spool_folder()
        if not folder.is_dir():
            return 0
        removed = 0
        for path in folder.iterdir():
            match = _SPOOL_NAME.match(path.name)
            if not match or not _older_than(path, cutoff):
                continue
            if not ResumableUpload.objects.filter(pk=match.group(1)).exists():
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def remove_upload_temporaries(self, cutoff: float) -> int:
        folder = Path(settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir())
        if not folder.is_dir():
            return 0
        removed = 0
        for entry in os.scandir(folder):
            if not (
                entry.name.startswith(UPLOAD_TEMP_PREFIX)
                and entry.name.endswith(UPLOAD_TEMP_SUFFIX)
                and entry.is_file(follow_symlinks=False)
            ):
                continue
            path = Path(entry.path)
            if _older_than(path, cutoff):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def remove_store_temporaries(self, older_than_seconds: float) -> int:
        if not isinstance(default_storage, FileSystemStorage):
            return 0  # an object store writes each object in one PUT: nothing is left half written
        return len(remove_stale_temporaries(default_storage, older_than_seconds=older_than_seconds))
