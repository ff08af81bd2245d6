"""Building one dossier: manifest, seal, PDF, signature, stored; run by the background task."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone, translation

from evidence.models import Contacted, EvidenceFile, Flag, IncidentKind
from evidence.services import evidence_hold
from evidence.thumbnails import page_image, thumbnail_for
from ledger.chain import audit_append
from ledger.records import seal_record_write
from stamps.tsa import configured as tsa_configured

from .conf import setting
from .heartbeat import BuildHeartbeat
from .manifest import build_manifest
from .models import Dossier, DossierStatus, IssuedSeal
from .pdf import render_pdf
from .pdf.sections import IMAGE_TYPES
from .signing import embed_and_sign, ensure_signing_identity
from .verification import verify_text

logger = logging.getLogger(__name__)


def _progress(dossier_id: int, percent: int, note: str, build_seq: int | None = None) -> None:
    """Record progress and move the heartbeat; only the current build writes (a superseded build,
    one the sweep started again elsewhere, changes nothing)."""
    rows = Dossier.objects.filter(pk=dossier_id, status=DossierStatus.RUNNING)
    if build_seq is not None:
        rows = rows.filter(build_seq=build_seq)
    rows.update(progress=min(max(percent, 0), 99), progress_note=note, heartbeat_at=timezone.now())


def _start(dossier_id: int) -> tuple[Dossier, int]:
    """Mark the build running and count the attempt: (dossier, build_seq), build_seq 0 when there
    is nothing to do (already issued, or another build of it is alive: its heartbeat is fresh)."""

    stall = timedelta(seconds=setting("DOSSIER_STALL_SECONDS"))
    with transaction.atomic():
        locked = Dossier.objects.select_for_update().get(pk=dossier_id)
        if locked.status in (DossierStatus.READY, DossierStatus.DRAFT):
            return locked, 0  # issued; or a helper's draft, built only once the owner issues it
        now = timezone.now()
        beat = locked.heartbeat_at or locked.started_at
        if locked.status == DossierStatus.RUNNING and beat and beat >= now - stall:
            logger.warning(
                "dossier %s is already being built (attempt %d); this run leaves it alone",
                locked.number,
                locked.attempts,
            )
            return locked, 0
        locked.status, locked.started_at, locked.heartbeat_at = DossierStatus.RUNNING, now, now
        locked.progress, locked.progress_note, locked.error = 2, "start", ""
        locked.attempts += 1
        locked.build_seq += 1
        locked.save(
            update_fields=[
                "status",
                "started_at",
                "heartbeat_at",
                "progress",
                "progress_note",
                "error",
                "attempts",
                "build_seq",
            ]
        )
        return locked, locked.build_seq


def signer_fingerprint() -> str:

    _key, cert_path = ensure_signing_identity()
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return certificate.fingerprint(hashes.SHA256()).hex()


def dossier_labels(language: str) -> dict[str, dict[str, str]]:
    """The words for kinds, contacted people and flags in the dossier's language."""
    with translation.override(language):
        return {
            group: {value: str(label) for value, label in choices.choices}
            for group, choices in (("kind", IncidentKind), ("contacted", Contacted), ("flag", Flag))
        }


def thumbnails(manifest: dict) -> dict[str, bytes]:
    """Thumbnail bytes per evidence ref, for the images the manifest lists (made on arrival)."""
    wanted = {
        entry["id"]: entry["ref"] for entry in manifest["evidence"] if entry["content_type"] in IMAGE_TYPES
    }
    images = {}
    for evidence in EvidenceFile.all_objects.filter(pk__in=wanted):
        data = thumbnail_for(evidence)
        if data is not None:
            images[wanted[evidence.pk]] = data
    return images


def page_images(manifest: dict, folder: Path) -> dict[str, Path]:
    """Full-page renditions of the listed images, written to `folder` (read by the renderer from
    disk, so a hundred screenshots are never all held in memory)."""
    wanted = {
        entry["id"]: entry["ref"] for entry in manifest["evidence"] if entry["content_type"] in IMAGE_TYPES
    }
    paths = {}
    for evidence in EvidenceFile.all_objects.filter(pk__in=wanted):
        data = page_image(evidence)
        if data is not None:
            path = folder / f"{wanted[evidence.pk]}.jpg"
            path.write_bytes(data)
            paths[wanted[evidence.pk]] = path
    return paths


def dossier_build(*, dossier_id: int) -> Dossier:
    """Build, seal, sign and store one dossier. An issued dossier is never rebuilt.

    The work happens outside any long transaction; only the final switch to "ready" (with its
    audit link) is atomic, so an interrupted build never leaves a half-written "ready" dossier.
    While it works, the build's heartbeat moves (with its progress, and from a thread at least
    every DOSSIER_HEARTBEAT_SECONDS), so a build whose worker died is seen and started again.
    """

    started, build_seq = _start(dossier_id)
    if not build_seq:
        return started
    dossier = Dossier.objects.select_related("case", "owner", "reissue_of").get(pk=dossier_id)
    attempt = started.attempts
    logger.info("dossier %s started (attempt %d)", dossier.number, attempt)
    interval = min(setting("DOSSIER_HEARTBEAT_SECONDS"), setting("DOSSIER_STALL_SECONDS") / 3)
    try:
        with BuildHeartbeat(dossier_id=dossier_id, build_seq=build_seq, interval=interval):
            return _build(dossier, attempt, build_seq)
    except Exception as exc:
        logger.exception("dossier %s failed (attempt %d)", dossier.number, attempt)
        Dossier.objects.filter(pk=dossier_id, build_seq=build_seq).exclude(status=DossierStatus.READY).update(
            status=DossierStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        return Dossier.objects.get(pk=dossier_id)


def _build(dossier: Dossier, attempt: int, build_seq: int) -> Dossier:
    dossier_id = dossier.pk

    def progress(percent, note):
        _progress(dossier_id, percent, note, build_seq)

    manifest_bytes, manifest = build_manifest(dossier, progress=progress)
    seal = hashlib.sha256(manifest_bytes).hexdigest()
    with tempfile.TemporaryDirectory(prefix="dossier-") as folder:
        pdf, pages, font_warning = render_pdf(
            manifest,
            seal=seal,
            progress=progress,
            labels=dossier_labels(manifest["dossier"]["language"]),
            images=thumbnails(manifest),
            page_images=page_images(manifest, Path(folder)),
            # The QR code opens the verify page with this seal: a phone camera starts the check.
            verify_url=f"{manifest['dossier']['verify_url']}?{urlencode({'seal': seal})}",
            signer_fingerprint=signer_fingerprint(),
            timestamped=tsa_configured(),
        )
    progress(90, "signing")
    signed, timestamped = embed_and_sign(
        pdf, manifest=manifest_bytes, description=f"Dossier {dossier.number} manifest; seal {seal}"
    )
    pdf_sha = hashlib.sha256(signed).hexdigest()
    name = f"dossiers/{dossier.owner_id}/{pdf_sha}.pdf"
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(signed))
    with transaction.atomic():
        locked = Dossier.objects.select_for_update().get(pk=dossier_id)
        if locked.status == DossierStatus.READY:
            logger.info("dossier %s was finished by another build", locked.number)
            return locked
        locked.manifest = manifest_bytes.decode("utf-8")
        locked.seal, locked.pdf_name, locked.pdf_sha256, locked.pdf_size = (
            seal,
            name,
            pdf_sha,
            len(signed),
        )
        locked.pages, locked.signed, locked.timestamped = pages, True, timestamped
        locked.font_warning = font_warning
        locked.status, locked.progress, locked.progress_note = DossierStatus.READY, 100, "ready"
        locked.finished_at = timezone.now()
        locked.verify_text = verify_text(locked)
        locked.save()
        IssuedSeal.objects.get_or_create(
            seal=seal,
            defaults={
                "number": locked.number,
                "pdf_sha256": pdf_sha,
                "created_at": locked.created_at,
                "finished_at": locked.finished_at,
                "verify_text_sha256": hashlib.sha256(locked.verify_text.encode("utf-8")).hexdigest(),
            },
        )
        issue = audit_append(
            owner=locked.owner,
            action="dossier.issue",
            subject=locked,
            payload={"number": locked.number, "seal": seal, "pdf_sha256": pdf_sha, "pages": pages},
        )
        # Its files are never destroyed from now on: deleting one later only hides it.
        evidence_hold(
            evidence_ids=[entry["id"] for entry in manifest["evidence"]], reason=f"dossier {locked.number}"
        )
        # Last: the store remembers the issue even if a backup taken before it is restored.
        seal_record_write(
            kind="dossier",
            object_id=locked.pk,
            owner_id=locked.owner_id,
            number=locked.number,
            seal=seal,
            pdf_sha256=pdf_sha,
            created_at=locked.created_at,
            issued_at=locked.finished_at,
            verify_text_sha256=hashlib.sha256(locked.verify_text.encode("utf-8")).hexdigest(),
            chain_seq=issue.seq,
            chain_hash=issue.hash,
        )
    logger.info("dossier %s finished (attempt %d, %d pages)", locked.number, attempt, pages)
    return locked
