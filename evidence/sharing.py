"""Files shared into the installed web app (the manifest's Web Share Target).

The phone's share sheet posts the files to /share/receive/ without a CSRF token (it cannot have one),
so that post only *stages* them: each file is written to a private folder next to the resumable
uploads and remembered in the session. Nothing becomes evidence until the person picks the case on
the page that follows, a normal CSRF-protected form; so another site cannot file anything into
someone's case.

What is staged belongs to one session and one share (issue 25, M3):
- it is written through a storage whose files are 0600 in 0700 folders, under
  `<owner id>/<the session's share tag>.<item id>`: a file is found only from the session that staged
  it (the tag lives in the session alone), never from another session or account, and a file put
  into the folder by anything else is never filed;
- its bytes count against the owner's quota (EVIDENCE_QUOTA_BYTES, beside the evidence kept) from the
  moment it is staged;
- each share replaces what an earlier one left unfiled, and the page's form names its share (the
  batch), so filing files exactly the items the person was shown: an item staged before, or slipped
  in after the page was shown, never;
- it is removed when filed or discarded, on logout, with the account, and by the housekeeping
  (`cleanup_uploads`) an hour (STAGED_SECONDS) after it arrived.

Filing then does what the upload pages do: recordings, screenshots and PDFs are filed automatically
(evidence.services.evidence_autofile, as the recordings page files them), and phone exports (call
logs, SMS backups) go to the import preview (evidence.imports.phone_import_prepare).
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.core.exceptions import ValidationError
from django.dispatch import receiver

from . import services
from .hashing import sha256_of
from .imports import phone_import_prepare
from .models import Source
from .sniffing import sniff
from .storage import EvidenceFileSystemStorage

SESSION_KEY = "shared_files"
SESSION_TAG = "shared_tag"  # this session's share tag: the prefix of its staged files' names
SESSION_BATCH = "shared_batch"  # the share the staged items came with
# Staged files nobody filed are removed an hour after they arrived.
STAGED_SECONDS = 3600
MOST_FILES = 20
_HEX = re.compile(r"^[0-9a-f]{32}$")


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


def staging_storage() -> EvidenceFileSystemStorage:
    """Where staged files are written: whole or not at all, readable by this service's user only."""
    return EvidenceFileSystemStorage(
        location=str(staging_folder()),
        base_url=None,
        file_permissions_mode=0o600,
        directory_permissions_mode=0o700,
    )


def _tag(session, *, create: bool = False) -> str | None:
    tag = session.get(SESSION_TAG)
    if (not isinstance(tag, str) or not _HEX.match(tag)) and create:
        tag = session[SESSION_TAG] = secrets.token_hex(16)
    return tag if isinstance(tag, str) and _HEX.match(tag) else None


def _name(owner_id: int, tag: str, item_id: str) -> str:
    return f"{int(owner_id)}/{tag}.{item_id}"


def staged_bytes(*, owner_id: int) -> int:
    """Bytes staged for the owner, in every session (they count against the quota)."""
    storage, total = staging_storage(), 0
    try:
        _folders, files = storage.listdir(str(int(owner_id)))
    except FileNotFoundError:
        return 0
    for file_name in files:
        try:
            total += storage.size(f"{int(owner_id)}/{file_name}")
        except FileNotFoundError:
            continue
    return total


def share_stage(*, session, owner, uploads) -> tuple[list[dict], list[str]]:
    """Keep the shared files until the person chooses a case: (what is staged now, why some were
    not kept). A new share replaces what an earlier one left unfiled in this session."""
    share_discard(session=session, owner=owner)
    tag = _tag(session, create=True)
    storage = staging_storage()
    staged: list[dict] = []
    refused: list[str] = []
    for upload in uploads[:MOST_FILES]:
        name = services.sanitise_file_name(upload.name or "shared")
        try:
            # Staged bytes count as kept: with what is staged already, this file must fit the quota.
            services.check_quota(owner=owner, adding=upload.size, staged=staged_bytes(owner_id=owner.pk))
        except services.EvidenceRejected as exc:
            refused.append(f"{name}: {exc.message}")
            continue
        item_id = secrets.token_hex(16)
        storage.save(_name(owner.pk, tag, item_id), upload)
        staged.append({"id": item_id, "name": name, "size": upload.size})
    session[SESSION_KEY] = staged
    session[SESSION_BATCH] = secrets.token_hex(16) if staged else None
    return staged, refused


def share_staged(*, session, owner) -> list[dict]:
    """What this session staged for `owner` that is still there (a name not of this session's tag,
    or not of the hexadecimal form staging gives, is never looked at)."""
    tag = _tag(session)
    items = session.get(SESSION_KEY) or []
    if tag is None or not isinstance(items, list):
        return []
    storage = staging_storage()
    return [
        item
        for item in items
        if isinstance(item, dict)
        and isinstance(item.get("id"), str)
        and _HEX.match(item["id"])
        and storage.exists(_name(owner.pk, tag, item["id"]))
    ]


def share_batch(*, session) -> str:
    return session.get(SESSION_BATCH) or ""


def share_discard(*, session, owner) -> None:
    """Forget what this session staged, and remove its files."""
    tag = _tag(session)
    if tag is not None:
        _remove_tagged(owner_id=owner.pk, tag=tag)
    session.pop(SESSION_KEY, None)
    session.pop(SESSION_BATCH, None)


def _remove_tagged(*, owner_id: int, tag: str) -> int:
    storage, removed = staging_storage(), 0
    try:
        _folders, files = storage.listdir(str(int(owner_id)))
    except FileNotFoundError:
        return 0
    for file_name in files:
        if file_name.startswith(f"{tag}."):
            storage.delete(f"{int(owner_id)}/{file_name}")
            removed += 1
    return removed


def share_file(*, session, owner, case, batch: str) -> list[Filed] | None:
    """File the items of share `batch` in `case` (None when that is not this session's current
    share: another share came in after the page was shown); each is removed once dealt with."""
    if not batch or batch != share_batch(session=session):
        return None
    tag = _tag(session)
    storage = staging_storage()
    results = []
    for item in share_staged(session=session, owner=owner):
        name = _name(owner.pk, tag, item["id"])
        with storage.open(name, "rb") as handle:
            upload = handle
            upload.name = item["name"]
            upload.size = storage.size(name)
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
        storage.delete(name)
    share_discard(session=session, owner=owner)
    return results


def share_forget_owner(*, owner_id: int) -> None:
    """Remove everything staged for an account (it is being deleted)."""
    shutil.rmtree(staging_folder() / str(int(owner_id)), ignore_errors=True)


def share_forget_stale(*, older_than_seconds: float = STAGED_SECONDS) -> int:
    """Remove staged files older than `older_than_seconds` (and the per-share folders earlier
    releases staged into); returns how many files went."""
    folder = staging_folder()
    if not folder.is_dir():
        return 0
    cutoff, removed = time.time() - older_than_seconds, 0
    for entry in folder.iterdir():
        try:
            if entry.is_dir() and _HEX.match(entry.name):  # an earlier release's <item>/data
                if entry.stat().st_mtime <= cutoff:
                    shutil.rmtree(entry, ignore_errors=True)
                    removed += 1
                continue
            if not (entry.is_dir() and entry.name.isdigit()):
                continue
            for staged in entry.iterdir():
                if staged.is_file() and staged.lstat().st_mtime <= cutoff:
                    staged.unlink(missing_ok=True)
                    removed += 1
        except FileNotFoundError:
            continue
    return removed


@receiver(user_logged_out, dispatch_uid="evidence.sharing.discard_on_logout")
def _discard_on_logout(sender, request, user, **kwargs) -> None:
    """Logging out ends the session, and with it what the session staged."""
    if request is not None and user is not None and hasattr(request, "session"):
        share_discard(session=request.session, owner=user)
