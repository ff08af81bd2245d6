"""Importing phone call and message logs into a case: prepare (keep the export, preview it), then run
(for the numbers and kinds the person picked). Every write is in one transaction; importing the same
entries again creates nothing."""

from __future__ import annotations

import hashlib
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .audit import audit_append
from .metadata import normalise_number
from .models import Case, EvidenceFile, Incident, IncidentKind, PhoneImport, Provenance, Source
from .phone_logs import DEFAULT_KINDS, IMPORT_KINDS, PhoneLogError, decode_image, iter_entries, summarise
from .services import EvidenceRejected, content_address, evidence_store, profile_for
from .services import sanitise_file_name

BATCH = 1000
EXPORT_TYPES = {"calls_xml": ("application/xml", "xml"), "sms_xml": ("application/xml", "xml"),
                "imazing_csv": ("text/csv", "csv")}


def known_numbers(case: Case) -> set[str]:
    numbers = {normalise_number(line) for line in case.collectors.splitlines() if any(c.isdigit() for c in line)}
    numbers |= set(case.incidents.exclude(counterpart_number="").values_list("counterpart_number", flat=True)
                   .distinct())
    return {normalise_number(n) for n in numbers if n}


def phone_import_prepare(*, case: Case, upload) -> PhoneImport:
    """Keep the uploaded export under its content address and summarise it. Nothing is imported yet."""
    tz = profile_for(case.owner).tz
    sha256 = getattr(upload, "sha256", None)
    if sha256 is None:
        hasher = hashlib.sha256()
        upload.seek(0)
        while block := upload.read(1 << 20):
            hasher.update(block)
        sha256 = hasher.hexdigest()
    if not upload.size:
        raise EvidenceRejected(code="empty_file", status=400, message=_("The file is empty."))
    try:
        summary = summarise(upload, tz=tz, known_numbers=known_numbers(case))
    except PhoneLogError as exc:
        code, status = ("unsupported_type", 415) if exc.unsupported else ("invalid_import", 400)
        raise EvidenceRejected(code=code, status=status, message=str(exc)) from None
    fmt = summary["format"]
    if fmt not in EXPORT_TYPES:
        raise EvidenceRejected(code="unsupported_type", status=415, message=_(
            "This is neither an SMS Backup & Restore XML (calls.xml, sms.xml) nor an iMazing call CSV."))
    name = content_address(owner_id=case.owner_id, sha256=sha256, extension=EXPORT_TYPES[fmt][1])
    if not default_storage.exists(name):
        upload.seek(0)
        name = default_storage.save(name, upload)
    return PhoneImport.objects.create(owner=case.owner, case=case, original_name=sanitise_file_name(upload.name),
                                      storage_name=name, sha256=sha256, size=upload.size, format=fmt,
                                      summary=summary)


def _number_matches(number: str, wanted: set[str]) -> bool:
    return bool(number) and any(number == w or (len(w) >= 8 and number[-8:] == w[-8:]) for w in wanted)


def _export_evidence(phone_import: PhoneImport, case: Case) -> EvidenceFile:
    """The export kept as evidence, under an incident that records the import itself."""
    existing = (EvidenceFile.objects.filter(owner=case.owner, incident__case=case, sha256=phone_import.sha256)
                .order_by("pk").first())
    if existing:
        return existing
    content_type, extension = EXPORT_TYPES[phone_import.format]
    holder = Incident(case=case, kind=IncidentKind.OTHER, occurred_at=timezone.now(), source=Source.IMPORT,
                      description=_("Phone log export imported: %(name)s") % {"name": phone_import.original_name})
    holder.full_clean()
    holder.save()
    audit_append(owner=case.owner, action="incident.create", subject=holder,
                 payload={"case": case.pk, "after": holder.snapshot()})
    with default_storage.open(phone_import.storage_name, "rb") as handle:
        return evidence_store(incident=holder, upload=handle, provenance=Provenance.IMPORTED, inspected={
            "name": phone_import.original_name, "sha256": phone_import.sha256, "size": phone_import.size,
            "content_type": content_type, "extension": extension,
            "metadata": {"import_format": phone_import.format, "calls": phone_import.summary.get("calls"),
                         "messages": phone_import.summary.get("messages")}})


def phone_import_run(*, phone_import: PhoneImport, numbers: list[str] | None = None,
                     kinds: list[str] | None = None) -> dict:
    """Create an incident for every new entry from the chosen numbers and kinds.

    Returns {"created", "duplicates", "skipped"}: duplicates are entries already in the case (from this
    or an overlapping export), skipped are those outside the chosen numbers and kinds.
    """
    from complaints.services import case_violations_refresh

    case = phone_import.case
    tz = profile_for(case.owner).tz
    wanted_numbers = {normalise_number(n) for n in numbers if normalise_number(n)} if numbers else None
    wanted_kinds = set(kinds) if kinds else set(DEFAULT_KINDS)
    unknown = wanted_kinds - set(IMPORT_KINDS)
    if unknown:
        raise EvidenceRejected(code="invalid", status=400, message=_("Unknown kinds: %(kinds)s.")
                               % {"kinds": ", ".join(sorted(unknown))})
    existing = set(case.incidents.exclude(import_key="").values_list("import_key", flat=True))
    counts = {"created": 0, "duplicates": 0, "skipped": 0}
    keys_digest = hashlib.sha256()
    now = timezone.now()
    try:
        with transaction.atomic(), default_storage.open(phone_import.storage_name, "rb") as handle:
            _fmt, entries = iter_entries(handle, tz)
            export = None
            batch: list[Incident] = []
            with_images: list[tuple[Incident, list]] = []

            def flush():
                Incident.objects.bulk_create(batch)
                for incident, images in with_images:
                    for index, (content_type, data) in enumerate(images, start=1):
                        raw = decode_image(data)
                        if not raw:
                            continue
                        extension = content_type.split("/")[-1].split(";")[0] or "img"
                        upload = ContentFile(raw, name=f"mms-{incident.occurred_at:%Y%m%d-%H%M%S}-{index}.{extension}")
                        try:
                            evidence_store(incident=incident, upload=upload, provenance=Provenance.IMPORTED)
                        except EvidenceRejected:
                            continue  # an attachment of a type we do not keep; the text is imported
                batch.clear()
                with_images.clear()

            for entry in entries:
                if entry.import_kind not in wanted_kinds or (
                        wanted_numbers is not None and not _number_matches(entry.number, wanted_numbers)):
                    counts["skipped"] += 1
                    continue
                key = entry.key
                if key in existing:
                    counts["duplicates"] += 1
                    continue
                existing.add(key)
                if export is None:
                    export = _export_evidence(phone_import, case)
                incident = Incident(
                    case=case, kind=IncidentKind.CALL if entry.kind == "call" else IncidentKind.SMS,
                    occurred_at=entry.at, duration_seconds=entry.duration, answered=entry.answered,
                    counterpart_number=entry.number, counterpart_name=entry.contact_name[:100],
                    description=entry.body, contacted=["self"], source=Source.IMPORT, logged_at=now,
                    import_key=key, source_evidence=export,
                    source_ref=f"{phone_import.original_name[:60]} #{entry.position} ({entry.direction})")
                batch.append(incident)
                if entry.images:
                    with_images.append((incident, entry.images))
                keys_digest.update(key.encode("ascii"))
                counts["created"] += 1
                if len(batch) >= BATCH:
                    flush()
            if batch:
                flush()
            if counts["created"]:
                # One link for the whole import: it names the export and digests every created entry.
                audit_append(owner=case.owner, action="import.create", subject=phone_import,
                             payload={"export_sha256": phone_import.sha256, "name": phone_import.original_name,
                                      **counts, "keys_digest": keys_digest.hexdigest()})
                case_violations_refresh(case=case)
            phone_import.result = counts
            phone_import.evidence = export or phone_import.evidence
            phone_import.imported_at = now
            phone_import.save(update_fields=["result", "evidence", "imported_at"])
    except PhoneLogError as exc:
        raise EvidenceRejected(code="invalid_import", status=400, message=str(exc)) from None
    return counts
