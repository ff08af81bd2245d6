"""Every write to the evidence store. Keyword-only, typed, each in one transaction with its audit link."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, Sum
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import profile_for
from ledger.chain import audit_append
from stamps.services import stamp_enqueue

from . import merging
from . import metadata as meta
from .findings import case_violations_refresh
from .hashing import sha256_of
from .models import (
    Case,
    Contacted,
    EvidenceFile,
    Flag,
    Incident,
    IncidentKind,
    PhoneImport,
    Provenance,
    Source,
)
from .rules import available_packs
from .sniffing import ACCEPTED_DESCRIPTION, pdf_parses, sniff
from .storage import keep_blob
from .tasks import text_queue
from .thumbnails import THUMBNAIL_TYPES, thumbnail_name, thumbnail_store


class EvidenceRejected(Exception):
    """An upload that is refused; carries the HTTP status and a short code for the API."""

    def __init__(self, *, code: str, message: str, status: int):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


# --- cases ---------------------------------------------------------------------------------------


@transaction.atomic
def case_create(
    *,
    owner,
    title: str,
    creditor: str,
    lender_name: str = "",
    account_hint: str = "",
    collectors: str = "",
    notes: str = "",
    rule_pack: str = "cn",
    period_start: date | None = None,
) -> Case:
    case = Case(
        owner=owner,
        title=title,
        creditor=creditor,
        lender_name=lender_name,
        account_hint=account_hint,
        collectors=collectors,
        notes=notes,
        rule_pack=rule_pack,
        period_start=period_start,
    )
    _check_period_start(period_start)
    case.full_clean()
    validate_rule_pack(case.rule_pack)
    case.save()
    audit_append(owner=owner, action="case.create", subject=case, payload={"after": case.snapshot()})
    return case


@transaction.atomic
def case_update(*, case: Case, **fields) -> Case:
    before = case.snapshot()
    for key, value in fields.items():
        setattr(case, key, value)
    case.full_clean()
    validate_rule_pack(case.rule_pack)
    _check_period_start(case.period_start)
    case.save()
    audit_append(
        owner=case.owner,
        action="case.update",
        subject=case,
        payload={"before": before, "after": case.snapshot()},
    )
    if before["rule_pack"] != case.rule_pack:
        _refresh_violations(case)
    return case


def _check_period_start(value: date | None) -> None:
    """The day the debt began: not in the future, not before 2000 (the supported dates)."""
    if value is None:
        return
    if value > timezone.localdate() + timedelta(days=1):
        raise ValidationError({"period_start": [_("This date is in the future.")]})
    if value.year < 2000:
        raise ValidationError({"period_start": [_("This date is too far in the past.")]})


def _refresh_violations(case: Case) -> None:
    case_violations_refresh(case=case)


def validate_rule_pack(value: str) -> None:
    packs = available_packs()
    if value not in packs:
        raise ValidationError(
            {
                "rule_pack": [
                    _("Unknown rule pack “%(value)s”; available: %(packs)s.")
                    % {"value": value, "packs": ", ".join(sorted(packs))}
                ]
            }
        )


# --- incidents -----------------------------------------------------------------------------------


def _check_occurred_at(value: datetime) -> None:
    if value is None:
        raise ValidationError({"occurred_at": [_("Enter when it happened.")]})
    if timezone.is_naive(value):
        raise ValidationError({"occurred_at": [_("The time needs a time zone.")]})
    if value > timezone.now() + timedelta(minutes=10):
        raise ValidationError({"occurred_at": [_("This time is in the future.")]})
    if value.year < 2000:
        raise ValidationError(
            {"occurred_at": [_("This date is too far in the past to be a collection call.")]}
        )


def _clean_incident(incident: Incident, *, time_unknown_ok: bool = False) -> None:
    if incident.occurred_at is not None or not time_unknown_ok:
        _check_occurred_at(incident.occurred_at)
    errors: dict[str, list[str]] = {}
    for field_name, allowed in (("contacted", Contacted.values), ("flags", Flag.values)):
        value = getattr(incident, field_name)
        if not isinstance(value, list) or any(item not in allowed for item in value):
            errors[field_name] = [_("Choose from: %(choices)s.") % {"choices": ", ".join(allowed)}]
        else:
            # Keep lists canonical: no repeats, a stable order, so hashes do not depend on clicks.
            setattr(incident, field_name, [item for item in allowed if item in value])
    quotes = incident.quotes
    if quotes is None:
        incident.quotes = []
    elif not isinstance(quotes, list) or not all(_valid_quote(q) for q in quotes):
        errors["quotes"] = [
            _(
                "Each quote needs its text (at most 2,000 characters) and, optionally, where it is "
                "in the recording in seconds (0 to 24 hours)."
            )
        ]
    else:
        incident.quotes = [{"at": q.get("at"), "text": q["text"].strip()} for q in quotes]
        length = _recording_length(incident)
        beyond = [
            q["at"]
            for q in incident.quotes
            if q["at"] is not None and length is not None and q["at"] > length
        ]
        if beyond:
            errors["quotes"] = [
                _("A quote at %(at)s lies beyond the end of the recording (%(length)s long).")
                % {"at": _clock(max(beyond)), "length": _clock(length)}
            ]
    incident.place = (incident.place or "").strip()
    if incident.location is not None:
        location = _clean_location(incident.location)
        if location is None:
            errors["location"] = [
                _(
                    "A location needs a latitude (-90 to 90), a longitude (-180 to 180) and, "
                    "optionally, its accuracy in metres (0 or more)."
                )
            ]
        else:
            incident.location = location
    if errors:
        raise ValidationError(errors)
    incident.full_clean()


def _clean_location(value) -> dict | None:
    """{"lat", "lon", "accuracy_m"} as numbers in range (accuracy may be null); None when not."""

    def number(raw):
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw != raw:  # NaN
            return None
        return float(raw)

    if not isinstance(value, dict) or set(value) - {"lat", "lon", "accuracy_m"}:
        return None
    lat, lon = number(value.get("lat")), number(value.get("lon"))
    accuracy = value.get("accuracy_m")
    accuracy = None if accuracy is None else number(accuracy)
    if lat is None or lon is None or not -90 <= lat <= 90 or not -180 <= lon <= 180:
        return None
    if value.get("accuracy_m") is not None and (accuracy is None or not 0 <= accuracy <= 1e7):
        return None
    # Six decimals is about 0.1 m: more says nothing a phone can know.
    return {
        "lat": round(lat, 6),
        "lon": round(lon, 6),
        "accuracy_m": round(accuracy, 1) if accuracy is not None else None,
    }


def _clock(seconds: int | float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def _recording_length(incident: Incident) -> float | None:
    """How long the incident's recording runs, in seconds: the longest audio file attached to it
    (what the file itself states), else the call's stated duration; None when nothing says."""
    if incident.pk:
        lengths = [
            float(value)
            for value in EvidenceFile.objects.filter(incident_id=incident.pk).values_list(
                "metadata__duration_seconds", flat=True
            )
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        ]
        if lengths:
            # A second's slack: players round the length they show.
            return max(lengths) + 1
    return incident.duration_seconds or None


def _valid_quote(quote) -> bool:
    if not isinstance(quote, dict) or not isinstance(quote.get("text"), str) or not quote["text"].strip():
        return False
    at = quote.get("at")
    return len(quote["text"]) <= 2000 and (
        at is None or (isinstance(at, int) and not isinstance(at, bool) and 0 <= at <= 24 * 3600)
    )


@transaction.atomic
def incident_create(
    *,
    case: Case,
    kind: str,
    occurred_at: datetime | None,
    source: str = Source.MANUAL,
    refresh: bool = True,
    time_unknown_ok: bool = False,
    **fields,
) -> Incident:
    """Log one incident. Bulk callers (imports) pass refresh=False and refresh the case once.

    occurred_at may be None only with time_unknown_ok (a file whose time could not be read): the
    incident is then "time unknown" until the person sets it, never given the upload time."""
    incident = Incident(case=case, kind=kind, occurred_at=occurred_at, source=source, **fields)
    _clean_incident(incident, time_unknown_ok=time_unknown_ok)
    incident.save()
    audit_append(
        owner=case.owner,
        action="incident.create",
        subject=incident,
        payload={"case": case.pk, "after": incident.snapshot()},
    )
    if refresh:
        _refresh_violations(case)
        incident.refresh_from_db(fields=["violations", "violation_rules"])
    return incident


@transaction.atomic
def incident_log(*, case: Case, kind: str, occurred_at: datetime, source: str = Source.API, **fields):
    """Log an incident sent by automation, unless it is the same real event as one already logged
    (merging.same_call, strict): then that incident gains the source and is returned. Returns
    (incident, created). An entry by a helper on a shared case (`entered_by`) is always a row of
    its own, marked as theirs: it never changes what the owner or an import recorded."""
    if fields.get("entered_by") is not None:
        return incident_create(case=case, kind=kind, occurred_at=occurred_at, source=source, **fields), True
    fields.pop("entered_by", None)
    existing = merging.same_call(
        case=case,
        kind=kind,
        at=occurred_at,
        duration=fields.get("duration_seconds"),
        number=fields.get("counterpart_number", ""),
        strict=True,
    )
    if existing is not None:
        facts = {k: fields.get(k) for k in merging.FILLABLE}
        return merging.incident_join(
            incident=existing, source={"kind": "manual", "ref": source}, facts=facts
        ), False
    return incident_create(case=case, kind=kind, occurred_at=occurred_at, source=source, **fields), True


@transaction.atomic
def incident_update(*, incident: Incident, **changes) -> Incident:
    """Amend an incident. The chain keeps before and after; logged_at never changes."""
    before = incident.snapshot()
    for key, value in changes.items():
        if key not in Incident.STATED_FIELDS:
            raise ValueError(f"{key} cannot be amended")
        setattr(incident, key, value)
    # A time not yet known may stay unknown while other facts change; once given it is required.
    _clean_incident(incident, time_unknown_ok="occurred_at" not in changes)
    after = incident.snapshot()
    # Stating a field that sources disagreed on is the person's choice: the conflict is resolved
    # (also when they keep what they typed), and the choice is an amendment in the history.
    conflicts = list(incident.conflicts or [])
    resolved = [c for c in conflicts if c.get("field") in changes]
    if after == before and not resolved:
        return incident
    incident.amended_at = timezone.now()
    if resolved:
        incident.conflicts = [c for c in conflicts if c not in resolved]
    incident.save()
    # A stated field set for the first time (quotes on an entry that had none) is absent before.
    changed = sorted(k for k in after if after[k] != before.get(k))
    payload = {
        "before": {k: before.get(k) for k in changed},
        "after": {k: after[k] for k in changed},
        # The whole statement after the change, and a digest of the one before it, so the
        # chain can vouch for every field of the row (verify_evidence compares them).
        "snapshot": after,
        "previous_facts": Incident.facts_digest(before),
    }
    if resolved:
        payload["resolved"] = resolved
    audit_append(owner=incident.case.owner, action="incident.amend", subject=incident, payload=payload)
    _refresh_violations(incident.case)
    incident.refresh_from_db(fields=["violations", "violation_rules"])
    return incident


@transaction.atomic
def incident_delete(*, incident: Incident) -> None:
    # A case on legal hold (a lawsuit pending): nothing in it may be deleted until it is lifted.
    hold = Case.objects.select_for_update().filter(pk=incident.case_id, hold_at__isnull=False).first()
    if hold is not None:
        raise ValidationError(
            {
                "incident": [
                    _(
                        "This case is on hold since %(date)s (%(reason)s): nothing in it can be deleted until the hold is lifted."
                    )
                    % {
                        "date": timezone.localtime(hold.hold_at).strftime("%Y-%m-%d"),
                        "reason": hold.hold_reason,
                    }
                ]
            }
        )
    owner = incident.case.owner
    held = sorted(
        {
            h
            for holds in EvidenceFile.all_objects.filter(incident=incident).values_list("holds", flat=True)
            for h in holds
        }
    )
    if held:
        raise ValidationError(
            {
                "incident": [
                    _(
                        "This incident's files are in %(dossiers)s, which must stay complete; the incident cannot be deleted. "
                        "You can delete its files one by one: they are hidden but kept for that dossier."
                    )
                    % {"dossiers": ", ".join(held)}
                ]
            }
        )
    files = list(EvidenceFile.all_objects.filter(incident=incident))
    snapshot = {
        "case": incident.case_id,
        "before": incident.snapshot(),
        "evidence": [f.snapshot() for f in files],
    }
    audit_append(owner=owner, action="incident.delete", subject=incident, payload=snapshot)
    names = [f.storage_name for f in files]
    case = incident.case
    incident.delete()
    _refresh_violations(case)
    transaction.on_commit(lambda: _delete_unreferenced_blobs(names))


# --- evidence ------------------------------------------------------------------------------------

_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def sanitise_file_name(name: str) -> str:
    """The user's file name without any path, control characters or excessive length."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip().lstrip(".") or "file"
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:190] + dot + ext[:9]) if dot else name[:200]
    return name


def content_address(*, owner_id: int, sha256: str, extension: str) -> str:
    """The blob's name states what it must hash to; one blob per owner and content."""
    return f"evidence/{owner_id}/{sha256[:2]}/{sha256}.{extension}"


def _delete_unreferenced_blobs(names: list[str]) -> None:
    for name in set(names):
        if not EvidenceFile.all_objects.filter(storage_name=name).exists():
            default_storage.delete(name)
            # evidence/<owner>/<xx>/<sha>.<ext>: its thumbnail goes with the last reference.
            parts = name.split("/")
            if len(parts) == 4:
                default_storage.delete(thumbnail_name(owner_id=int(parts[1]), sha256=parts[3].split(".")[0]))


def storage_used(*, owner) -> int:
    """Bytes of evidence the owner keeps (withdrawn files included: they are still stored)."""
    return EvidenceFile.all_objects.filter(owner=owner).aggregate(total=Sum("size"))["total"] or 0


def check_quota(*, owner, adding: int, staged: int = 0) -> None:
    """Refuse (413) a file that would take the owner past EVIDENCE_QUOTA_BYTES (`staged`: bytes held
    for the owner outside the evidence, such as files shared into the app and not yet filed)."""
    quota = settings.EVIDENCE_QUOTA_BYTES
    used = storage_used(owner=owner) + staged
    if quota and used + adding > quota:
        raise EvidenceRejected(
            code="quota_exceeded",
            status=413,
            message=_(
                "Your account keeps %(used)s of evidence; its limit is %(quota)s, and this file (%(size)s) "
                "would pass it. Ask the organisation that runs this site for more space."
            )
            % {"used": filesizeformat(used), "quota": filesizeformat(quota), "size": filesizeformat(adding)},
        )


def evidence_inspect(*, upload, tz) -> dict:
    """Check an upload and read what it says, before anything is stored.

    Raises EvidenceRejected (400 empty, 413 too large, 415 not an accepted type).
    """
    name = sanitise_file_name(getattr(upload, "name", "") or "file")
    sha256 = getattr(upload, "sha256", None)
    size = upload.size
    if sha256 is None:
        sha256, size = sha256_of(upload)
    if size == 0:
        raise EvidenceRejected(
            code="empty_file",
            status=400,
            message=_("“%(name)s” is empty: there is nothing to keep.") % {"name": name},
        )
    limit = settings.EVIDENCE_MAX_UPLOAD_BYTES
    if size > limit:
        raise EvidenceRejected(
            code="file_too_large",
            status=413,
            message=_("“%(name)s” is larger than the limit of %(limit)d MB.")
            % {"name": name, "limit": limit // (1 << 20)},
        )
    upload.seek(0)
    head = upload.read(64)
    upload.seek(0)
    sniffed = sniff(head)
    if sniffed is None:
        raise EvidenceRejected(
            code="unsupported_type",
            status=415,
            message=_("“%(name)s” is not a file type that can be kept as evidence. Accepted: %(accepted)s.")
            % {"name": name, "accepted": ACCEPTED_DESCRIPTION},
        )
    if sniffed.content_type == "application/pdf" and not pdf_parses(upload):
        raise EvidenceRejected(
            code="invalid_pdf",
            status=415,
            message=_(
                "“%(name)s” begins like a PDF but cannot be opened as one: it is damaged, cut short or "
                "not a PDF. Save or download it again as PDF, or keep a screenshot of it instead."
            )
            % {"name": name},
        )
    extracted = meta.extract(
        upload, content_type=sniffed.content_type, extension=sniffed.extension, original_name=name, tz=tz
    )
    return {
        "name": name,
        "sha256": sha256,
        "size": size,
        "content_type": sniffed.content_type,
        "extension": sniffed.extension,
        "metadata": extracted,
    }


def evidence_store(
    *,
    incident: Incident,
    upload,
    provenance: str = Provenance.UPLOADED,
    inspected: dict | None = None,
    stored: tuple[str, str] | None = None,
    on_stored: Callable[[EvidenceFile], None] | None = None,
) -> EvidenceFile:
    """Keep one uploaded file as evidence of an incident.

    The blob is written through the storage API under its content address, then the row and its
    audit link are written in one transaction. If that fails, a blob this call wrote is removed
    again, so there is never a row without a file nor a file this call left behind. A blob already
    at the address is re-hashed before it is trusted and written again when wrong (a crash once left
    a fragment there). `on_stored(evidence)` runs inside that transaction, so what it writes commits
    or rolls back with the evidence.
    """
    owner = incident.case.owner
    info = inspected or evidence_inspect(upload=upload, tz=profile_for(owner).tz)
    check_quota(owner=owner, adding=info["size"])
    name = content_address(owner_id=owner.pk, sha256=info["sha256"], extension=info["extension"])
    wrote_blob = False
    if stored is not None:  # the caller already wrote this blob (a phone export kept at preview)
        stored_name, version = stored
    else:
        recorded = (
            EvidenceFile.all_objects.filter(storage_name=name)
            .order_by("-pk")
            .values_list("storage_version", flat=True)
            .first()
        )
        stored_name, version, wrote_blob = keep_blob(
            name, upload, sha256=info["sha256"], recorded_version=recorded
        )
    try:
        with transaction.atomic():
            evidence = EvidenceFile(
                owner=owner,
                incident=incident,
                storage_name=stored_name,
                storage_version=version,
                original_name=info["name"],
                content_type=info["content_type"],
                size=info["size"],
                sha256=info["sha256"],
                metadata=info["metadata"],
                provenance=provenance,
            )
            evidence.full_clean()
            evidence.save()
            audit_append(
                owner=owner, action="evidence.store", subject=evidence, payload={"after": evidence.snapshot()}
            )
            # Into the next trusted-timestamp batch, committed with the row (stamps/services.py).
            stamp_enqueue(kind="evidence", ref=evidence.pk, sha256=evidence.sha256, at=evidence.received_at)
            # An image's text is read by a worker after the commit (evidence/recognition.py).
            text_queue(evidence=evidence)
            if on_stored is not None:
                on_stored(evidence)
    except BaseException:
        if wrote_blob:
            _delete_unreferenced_blobs([stored_name])
        raise
    if evidence.content_type in THUMBNAIL_TYPES:
        # Made now, from the file already on local disk, so no later page or dossier decodes the
        # full-size original again. Best effort: evidence never depends on its thumbnail.
        thumbnail_store(owner_id=owner.pk, sha256=evidence.sha256, fileobj=upload)
    return evidence


@transaction.atomic
def evidence_delete(*, evidence: EvidenceFile) -> None:
    """Delete a piece of evidence. A file an issued dossier lists, or a phone import still reads, is
    withdrawn instead: hidden everywhere, its deletion audited, its bytes kept for what needs them.
    Nothing is deleted or withdrawn while the case is on legal hold."""
    hold = (
        Case.objects.select_for_update().filter(pk=evidence.incident.case_id, hold_at__isnull=False).first()
    )
    if hold is not None:
        raise ValidationError(
            {
                "evidence": [
                    _(
                        "This case is on hold since %(date)s (%(reason)s): nothing in it can be deleted until the hold is lifted."
                    )
                    % {
                        "date": timezone.localtime(hold.hold_at).strftime("%Y-%m-%d"),
                        "reason": hold.hold_reason,
                    }
                ]
            }
        )
    needed_by = list(evidence.holds) + (
        [_("a phone import")]
        if PhoneImport.objects.filter(Q(evidence=evidence) | Q(storage_name=evidence.storage_name)).exists()
        else []
    )
    if needed_by:
        evidence.withdrawn_at = timezone.now()
        evidence.save(update_fields=["withdrawn_at"])
        audit_append(
            owner=evidence.owner,
            action="evidence.withdraw",
            subject=evidence,
            payload={"before": evidence.snapshot(), "kept_for": [str(reason) for reason in needed_by]},
        )
        return
    audit_append(
        owner=evidence.owner,
        action="evidence.delete",
        subject=evidence,
        payload={"before": evidence.snapshot()},
    )
    name = evidence.storage_name
    evidence.delete()
    transaction.on_commit(lambda: _delete_unreferenced_blobs([name]))


@transaction.atomic
def evidence_hold(*, evidence_ids: list[int], reason: str) -> None:
    """Record that something issued (a dossier) lists these files: from now on they are never destroyed."""
    for evidence in EvidenceFile.all_objects.select_for_update().filter(pk__in=evidence_ids):
        if reason not in evidence.holds:
            evidence.holds = [*evidence.holds, reason]
            evidence.save(update_fields=["holds"])


# How far a recording's start may lie before a logged call and still belong to it: phone clocks
# and the moment recording starts differ by a few seconds.
MATCH_SLACK = merging.MATCH_SLACK


def incident_matching(*, case: Case, start: datetime, number: str = "") -> Incident | None:
    """The call incident whose span contains a recording's start (phone-formats.md)."""
    candidates = case.incidents.filter(
        kind=IncidentKind.CALL,
        occurred_at__lte=start + MATCH_SLACK,
        occurred_at__gte=start - timedelta(hours=6),
    ).order_by("-occurred_at")
    wanted = meta.normalise_number(number)[-8:] if number else ""
    for incident in candidates:
        end = incident.occurred_at + timedelta(seconds=incident.duration_seconds or 0) + MATCH_SLACK
        if not (incident.occurred_at - MATCH_SLACK <= start <= end):
            continue
        have = meta.normalise_number(incident.counterpart_number)[-8:]
        if wanted and have and wanted != have:
            continue
        return incident
    return None


def evidence_autofile(
    *, case: Case, upload, provenance: str = Provenance.UPLOADED, source: str = Source.API
) -> EvidenceFile:
    """File an upload under the incident it belongs to, or a new one, from what the file says.

    A file whose time cannot be read (no known name pattern, no metadata) becomes an incident with
    its time unknown — never the upload time, which would put a noon call at 23:30."""
    tz = profile_for(case.owner).tz
    info = evidence_inspect(upload=upload, tz=tz)
    data = info["metadata"]
    named = data.get("from_name") or {}
    start = meta.suggested_time(data)
    number = named.get("number", "")
    is_audio = info["content_type"].startswith("audio/")
    file_source = {
        "kind": "recording"
        if is_audio
        else ("screenshot" if info["content_type"].startswith("image/") else "manual"),
        "ref": info["name"],
    }
    with transaction.atomic():
        incident = incident_matching(case=case, start=start, number=number) if start else None
        data["filed"] = "matched" if incident is not None else "new"
        if incident is not None:
            merging.incident_join(
                incident=incident,
                source=file_source,
                facts={"counterpart_number": number, "counterpart_name": named.get("name", "")[:100]},
            )
        else:
            kind = (
                IncidentKind.CALL
                if is_audio
                else (
                    IncidentKind.LETTER if info["content_type"] == "application/pdf" else IncidentKind.OTHER
                )
            )
            duration = data.get("duration_seconds")
            description = _("Filed automatically from “%(name)s”.") % {"name": info["name"]}
            if start is None:
                data["time_status"] = "unknown"
            incident = incident_create(
                case=case,
                kind=kind,
                occurred_at=start,
                time_unknown_ok=True,
                source=source,
                counterpart_number=number,
                counterpart_name=named.get("name", "")[:100],
                duration_seconds=int(round(duration)) if (duration and is_audio) else None,
                description=description,
                sources=[file_source],
            )
        return evidence_store(incident=incident, upload=upload, provenance=provenance, inspected=info)


@transaction.atomic
def evidence_move(*, evidence: EvidenceFile, incident: Incident) -> EvidenceFile:
    """File a piece of evidence under another incident of the same case (fixing an automatic match)."""
    if incident.case_id != evidence.incident.case_id:
        raise ValidationError({"incident": [_("The incident must be in the same case.")]})
    if incident.pk == evidence.incident_id:
        return evidence
    before = evidence.incident_id
    previous = evidence.incident
    evidence.incident = incident
    evidence.metadata = {**evidence.metadata, "filed": "moved"}
    evidence.save(update_fields=["incident", "metadata"])
    audit_append(
        owner=evidence.owner,
        action="evidence.move",
        subject=evidence,
        payload={"before": {"incident": before}, "after": {"incident": incident.pk}},
    )
    # The incident that was made for this file alone (filed automatically, nothing else known from
    # it) was the same call all along: it joins the chosen one instead of staying as a second row.
    made_for_file = previous.sources and all(
        s.get("kind") in ("recording", "screenshot") and s.get("ref") == evidence.original_name
        for s in previous.sources
    )
    if made_for_file and not EvidenceFile.all_objects.filter(incident=previous).exists():
        merging.incident_join(incident=incident, source=previous.sources[0])
        incident_delete(incident=previous)
    return evidence


def visit_ref(recording_id: str) -> str:
    """The mark a visit made with the in-page recorder carries (Incident.source_ref)."""
    recording_id = (recording_id or "").strip()
    return f"visit:{recording_id}"[:100] if recording_id and recording_id.isprintable() else ""


def visit_for_recording(*, case: Case, recording_id: str) -> Incident | None:
    """The visit already made for this recording (by its upload or by the details form), if any."""
    ref = visit_ref(recording_id)
    if not ref:
        return None
    return (
        case.incidents.select_for_update()
        .filter(kind=IncidentKind.VISIT, source_ref=ref)
        .order_by("pk")
        .first()
    )


# The longest a visit recorder's timer is believed to have run.
LONGEST_VISIT = 24 * 3600


def visit_recording_store(
    *,
    case: Case,
    upload,
    started_at: datetime | None,
    elapsed_seconds: float | None,
    age_seconds: float | None = None,
    recording_id: str = "",
) -> EvidenceFile:
    """A recording made in the browser during a home visit: a new visit incident, the audio kept as
    evidence with provenance "recorded in this app" and the server's receipt time.

    The recorder reports when recording began (the phone's clock) and how long its timer ran. The
    server's estimate of the start is its receipt time minus the timer. The phone's start is used
    only when it has a time zone and lies within ten minutes of that estimate; otherwise (missing,
    unreadable, without a zone, year 0001...) the estimate is the start. A timer that is not a
    finite number of seconds between 0 and 24 hours is unknown: the estimate is then the receipt
    time and the duration is only what the file itself states.

    A recording kept on the phone while offline is sent later, with `age_seconds`: how long ago,
    by the phone's clock, recording began. The estimate is then the receipt time minus that age
    (at most 30 days), so a recording sent hours later keeps the time it was made.

    `recording_id` (the recorder's own id for the recording) ties the recording to the visit's
    details form on the same page: whichever arrives first makes the visit, the other completes it
    (visit_for_recording), so a visit recorded offline and then described is one visit.
    """
    now = timezone.now()
    timer = elapsed_seconds
    if timer is not None and not (math.isfinite(timer) and 0 <= timer <= LONGEST_VISIT):
        timer = None
    elapsed = timedelta(seconds=timer or 0)
    expected = now - elapsed
    if age_seconds is not None and math.isfinite(age_seconds) and 0 <= age_seconds <= 30 * 24 * 3600:
        expected = now - timedelta(seconds=age_seconds)
    if (
        started_at is None
        or timezone.is_naive(started_at)
        or abs(started_at - expected) > timedelta(minutes=10)
    ):
        started_at = expected
    info = evidence_inspect(upload=upload, tz=profile_for(case.owner).tz)
    if not (info["content_type"].startswith("audio/") or info["content_type"] == "video/webm"):
        raise EvidenceRejected(
            code="unsupported_type", status=415, message=_("A visit recording must be audio.")
        )
    if "duration_seconds" not in info["metadata"] and timer:
        info["metadata"]["duration_seconds"] = round(elapsed.total_seconds(), 2)
        info["metadata"]["duration_source"] = "recorder timer"
    with transaction.atomic():
        incident = visit_for_recording(case=case, recording_id=recording_id)
        if incident is None:
            incident = incident_create(
                case=case,
                kind=IncidentKind.VISIT,
                occurred_at=started_at,
                duration_seconds=int(elapsed.total_seconds()) or None,
                description=_("Recorded in the app during the visit."),
                source_ref=visit_ref(recording_id),
            )
        return evidence_store(
            incident=incident, upload=upload, provenance=Provenance.RECORDED, inspected=info
        )
