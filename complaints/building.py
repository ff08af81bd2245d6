"""Building one dossier: manifest, seal, PDF, signature, stored; run by the background task."""

from __future__ import annotations

import hashlib
import logging

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone, translation

from evidence.models import Contacted, EvidenceFile, Flag, IncidentKind
from evidence.thumbnails import thumbnail_for
from ledger.chain import audit_append

from .manifest import build_manifest
from .models import Dossier, DossierStatus
from .pdf import render_pdf
from .pdf.sections import IMAGE_TYPES
from .signing import embed_and_sign, ensure_signing_identity

logger = logging.getLogger(__name__)


def _progress(dossier_id: int, percent: int, note: str) -> None:
    Dossier.objects.filter(pk=dossier_id).update(progress=min(max(percent, 0), 99), progress_note=note)


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
    for evidence in EvidenceFile.objects.filter(pk__in=wanted):
        data = thumbnail_for(evidence)
        if data is not None:
            images[wanted[evidence.pk]] = data
    return images


def dossier_build(*, dossier_id: int) -> Dossier:
    """Build, seal, sign and store one dossier. An issued dossier is never rebuilt.

    The work happens outside any long transaction; only the final switch to "ready" (with its
    audit link) is atomic, so an interrupted build never leaves a half-written "ready" dossier.
    """

    dossier = Dossier.objects.select_related("case", "owner", "reissue_of").get(pk=dossier_id)
    if dossier.status == DossierStatus.READY:
        return dossier
    Dossier.objects.filter(pk=dossier_id).update(
        status=DossierStatus.RUNNING, started_at=timezone.now(), progress=2, progress_note="start", error=""
    )
    try:

        def progress(percent, note):
            _progress(dossier_id, percent, note)

        manifest_bytes, manifest = build_manifest(dossier, progress=progress)
        seal = hashlib.sha256(manifest_bytes).hexdigest()
        pdf, pages, font_warning = render_pdf(
            manifest,
            seal=seal,
            progress=progress,
            labels=dossier_labels(manifest["dossier"]["language"]),
            images=thumbnails(manifest),
            signer_fingerprint=signer_fingerprint(),
            timestamped=bool(getattr(settings, "DOSSIER_TSA_URL", "")),
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
            locked.save()
            audit_append(
                owner=locked.owner,
                action="dossier.issue",
                subject=locked,
                payload={"number": locked.number, "seal": seal, "pdf_sha256": pdf_sha, "pages": pages},
            )
        return locked
    except Exception as exc:
        logger.exception("dossier %s failed", dossier_id)
        Dossier.objects.filter(pk=dossier_id).update(
            status=DossierStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        return Dossier.objects.get(pk=dossier_id)
