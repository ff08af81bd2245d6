"""Files shared into the installed web app (the manifest's Web Share Target).

The phone's share sheet posts the files to /share/ without a CSRF token (it cannot have one), so that
post only *stages* them: each file is written to a private folder next to the resumable uploads and
remembered in the session. Nothing becomes evidence until the person picks the case on the page that
follows, a normal CSRF-protected form; so another site cannot file anything into someone's case.

Filing then does what the upload pages do: recordings, screenshots and PDFs are filed automatically
(evidence.services.evidence_autofile, as the recordings page files them), and phone exports (call
logs, SMS backups) go to the import preview (evidence.imports.phone_import_prepare).
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File

from . import services
from .hashing import sha256_of
from .imports import phone_import_prepare
from .models import Source
from .sniffing import sniff

SESSION_KEY = "shared_files"
# Staged files nobody filed are forgotten after a day.
STAGED_HOURS = 24
MOST_FILES = 20


@dataclass
class Filed:
    name: str
    ok: bool
    message: str = ""
    sha256: str = ""
    incident_id: int | None = None
    import_id: int | None = None


def staging_folder() -> Path:
    return Path(settings.RESUMABLE_UPLOAD_DIR) / "shared"


def _forget_stale(now: float) -> None:
    folder = staging_folder()
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        try:
            if now - entry.stat().st_mtime > STAGED_HOURS * 3600:
                shutil.rmtree(entry, ignore_errors=True)
        except FileNotFoundError:
            continue


def share_stage(*, session, uploads) -> list[dict]:
    """Keep the shared files until the person chooses a case; returns what is staged now."""
    _forget_stale(time.time())
    staged = [item for item in session.get(SESSION_KEY, []) if (staging_folder() / item["id"]).is_dir()]
    for upload in uploads[: max(0, MOST_FILES - len(staged))]:
        item_id = uuid.uuid4().hex
        folder = staging_folder() / item_id
        folder.mkdir(parents=True, mode=0o700)
        with (folder / "data").open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        name = services.sanitise_file_name(upload.name or "shared")
        staged.append({"id": item_id, "name": name, "size": upload.size})
    session[SESSION_KEY] = staged
    return staged


def share_staged(*, session) -> list[dict]:
    return [
        item for item in session.get(SESSION_KEY, []) if (staging_folder() / item["id"] / "data").is_file()
    ]


def share_discard(*, session) -> None:
    for item in session.pop(SESSION_KEY, []):
        shutil.rmtree(staging_folder() / item["id"], ignore_errors=True)


def share_file(*, session, case) -> list[Filed]:
    """File every staged file in `case`; each file is forgotten once it has been dealt with."""
    results = []
    for item in share_staged(session=session):
        path = staging_folder() / item["id"] / "data"
        with path.open("rb") as handle:
            upload = File(handle, name=item["name"])
            upload.size = path.stat().st_size
            is_evidence = sniff(handle.read(64)) is not None
            handle.seek(0)
            try:
                if is_evidence:
                    evidence = services.evidence_autofile(case=case, upload=upload, source=Source.MANUAL)
                    results.append(
                        Filed(item["name"], True, sha256=evidence.sha256, incident_id=evidence.incident_id)
                    )
                else:
                    upload.sha256 = sha256_of(handle)[0]
                    phone_import = phone_import_prepare(case=case, upload=upload)
                    results.append(Filed(item["name"], True, import_id=phone_import.pk))
            except services.EvidenceRejected as exc:
                results.append(Filed(item["name"], False, message=exc.message))
            except ValidationError as exc:
                results.append(Filed(item["name"], False, message=" ".join(exc.messages)))
        shutil.rmtree(path.parent, ignore_errors=True)
    session.pop(SESSION_KEY, None)
    return results
