"""Importing phone call and message logs into a case: prepare (keep the export, preview it), then run
(for the numbers and kinds the person picked). Every write is in one transaction; importing the same
entries again creates nothing."""

from __future__ import annotations

import hashlib
import operator
from contextlib import nullcontext

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import profile_for
from ledger.chain import audit_append

from .archives import ArchiveRefused
from .findings import case_violations_refresh, case_violations_refresh_in_steps
from .hashing import sha256_of
from .merging import Matcher, incidents_join_imported
from .metadata import normalise_number
from .models import (
    Case,
    EvidenceFile,
    ImportStatus,
    Incident,
    IncidentKind,
    PhoneImport,
    Provenance,
    Source,
    refs_take,
)
from .phone_logs import (
    DEFAULT_KINDS,
    IMPORT_KINDS,
    PhoneLogError,
    decode_image,
    detect_format,
    iter_entries,
    nothing_plausible,
    summarise,
)
from .services import EvidenceRejected, content_address, evidence_store, sanitise_file_name
from .storage import open_blob, save_blob

BATCH = 1000
# What the API's `numbers` may name for the entries of a hidden caller (no number).
HIDDEN = "hidden"


def batch_size() -> int:
    """Entries per transaction of a background import (IMPORT_BATCH_ROWS)."""
    return max(int(getattr(settings, "IMPORT_BATCH_ROWS", 2000)), 1)


EXPORT_TYPES = {
    "calls_xml": ("application/xml", "xml"),
    "sms_xml": ("application/xml", "xml"),
    "imazing_csv": ("text/csv", "csv"),
    "oppo_calls_xml": ("application/xml", "xml"),
    "smsrecord_xml": ("application/xml", "xml"),
    "carrier_xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "carrier_csv": ("text/csv", "csv"),
}


def known_numbers(case: Case) -> set[str]:
    numbers = {
        normalise_number(line) for line in case.collectors.splitlines() if any(c.isdigit() for c in line)
    }
    numbers |= set(
        case.incidents.exclude(counterpart_number="").values_list("counterpart_number", flat=True).distinct()
    )
    return {normalise_number(n) for n in numbers if n}


def phone_import_prepare(
    *, case: Case, upload, preview: bool = True, mapping: dict | None = None
) -> PhoneImport:
    """Keep the uploaded export under its content address and summarise it. Nothing is imported yet.

    Without `preview` (the one-step API) only the format is checked here; the import run parses it,
    and a refused run is undone with phone_import_discard.

    The export is stored only once those checks pass (so a refused preview stores nothing), and
    only when neither an earlier import nor the evidence already keeps these bytes. The returned row's `wrote_blob` (not saved) says
    whether this call wrote the blob, so a discard removes only what this call stored.
    """
    tz = profile_for(case.owner).tz
    sha256 = getattr(upload, "sha256", None)
    if sha256 is None:
        sha256, _size = sha256_of(upload)
    if not upload.size:
        raise EvidenceRejected(code="empty_file", status=400, message=_("The file is empty."))
    try:
        if preview:
            summary = summarise(upload, tz=tz, known_numbers=known_numbers(case), mapping=mapping)
        else:
            upload.seek(0)
            summary = {"format": detect_format(upload.read(4096))}
            if summary["format"] not in EXPORT_TYPES or mapping or summary["format"] == "carrier_xlsx":
                # raises the right message for an unknown or wrong-column file (or unmapped columns)
                summary["format"] = iter_entries(upload, tz, mapping=mapping)[0]
                next(iter_entries(upload, tz, mapping=mapping)[1], None)
            if mapping:
                summary["mapping"] = mapping
    except PhoneLogError as exc:
        code, status = ("unsupported_type", 415) if exc.unsupported else ("invalid_import", 400)
        raise EvidenceRejected(code=code, status=status, message=str(exc)) from None
    except ArchiveRefused as exc:  # a spreadsheet that would inflate past its limits
        raise EvidenceRejected(code=exc.code, status=exc.status, message=exc.message) from None
    if preview:
        summary["linked"] = links_expected(
            case, upload, tz, (summary.get("date_order") or {}).get("order"), mapping
        )
        summary["before_period"] = before_period_count(
            case, upload, tz, (summary.get("date_order") or {}).get("order"), mapping
        )
    fmt = summary["format"]
    if fmt not in EXPORT_TYPES:
        raise EvidenceRejected(
            code="unsupported_type",
            status=415,
            message=_(
                "This is neither an SMS Backup & Restore XML (calls.xml, sms.xml), an OPPO/ColorOS call log, "
                "an <SMSRecord> message backup, an iMazing call CSV nor a carrier's call-detail spreadsheet "
                "(.xlsx, .csv)."
            ),
        )
    name = content_address(owner_id=case.owner_id, sha256=sha256, extension=EXPORT_TYPES[fmt][1])
    earlier = PhoneImport.objects.filter(owner=case.owner, sha256=sha256).order_by("pk").first()
    kept = EvidenceFile.all_objects.filter(owner=case.owner, storage_name=name).values_list(
        "storage_version", flat=True
    )
    wrote = False
    if earlier is not None:  # the same export again: its blob is already kept
        name, version = earlier.storage_name, earlier.storage_version
    elif (kept_version := kept.first()) is not None:  # kept as evidence by an import whose row is gone
        version = kept_version
    else:
        upload.seek(0)
        upload.sha256 = sha256
        name, version = save_blob(name, upload)
        wrote = True
    phone_import = PhoneImport.objects.create(
        owner=case.owner,
        case=case,
        original_name=sanitise_file_name(upload.name),
        storage_name=name,
        storage_version=version,
        sha256=sha256,
        size=upload.size,
        format=fmt,
        summary=summary,
    )
    phone_import.wrote_blob = wrote
    return phone_import


def links_expected(case: Case, upload, tz, date_order: str | None = None, mapping: dict | None = None) -> int:
    """How many entries of the export (of the kinds imported by default) are the same real events
    as incidents already logged: the preview says they will be linked, not counted twice."""
    matcher = Matcher(case)
    if not matcher.loose and not case.incidents.exclude(import_key="").exists():
        return 0
    existing = set(case.incidents.exclude(import_key="").values_list("import_key", flat=True))
    linked = 0
    pending: list = []

    def count() -> int:
        found = matcher.find_imported([(e.incident_kind, e.at, e.number) for e in pending])
        n = len(found)
        for position, entry in enumerate(pending):
            if position in found:
                continue
            target = matcher.find_loose(
                kind=entry.incident_kind, at=entry.at, duration=entry.duration, number=entry.number
            )
            if target is not None:
                matcher.used.add(target)
                n += 1
        pending.clear()
        return n

    try:
        upload.seek(0)
        _fmt, entries = iter_entries(upload, tz, date_order=date_order, mapping=mapping)
        for entry in entries:
            if entry.import_kind in DEFAULT_KINDS and entry.key not in existing:
                pending.append(entry)
                if len(pending) >= BATCH:
                    linked += count()
        linked += count()
    except PhoneLogError:
        return 0
    return linked


def _delete_export_blob(name: str) -> None:
    """Remove an export blob an import wrote, unless evidence or an import row refers to it."""
    if not (
        EvidenceFile.all_objects.filter(storage_name=name).exists()
        or PhoneImport.objects.filter(storage_name=name).exists()
    ):
        default_storage.delete(name)


def phone_import_discard(*, phone_import: PhoneImport) -> None:
    """Undo a prepared import that was refused before anything was imported (the one-step API):
    its row goes, and so does the stored export once that is committed, if this upload wrote it
    (`wrote_blob`) and nothing else refers to it. A blob shared with evidence or another import
    stays."""
    name, wrote = phone_import.storage_name, getattr(phone_import, "wrote_blob", False)
    with transaction.atomic():
        phone_import.delete()
        if wrote:
            transaction.on_commit(lambda: _delete_export_blob(name))


def _number_matches(number: str, wanted: set[str]) -> bool:
    return bool(number) and any(number == w or (len(w) >= 8 and number[-8:] == w[-8:]) for w in wanted)


def period_filter(case: Case, tz, include_before_period: bool = False):
    """A test for entries dated before the case's period (the local day the debt began)."""
    start = case.period_start
    if start is None or include_before_period:
        return lambda entry: False
    return lambda entry: entry.at is not None and entry.at.astimezone(tz).date() < start


def before_period_count(
    case: Case, upload, tz, date_order: str | None = None, mapping: dict | None = None
) -> int:
    """How many entries of the export fall before the case's period (the preview says so)."""
    if case.period_start is None:
        return 0
    before = period_filter(case, tz)
    try:
        upload.seek(0)
        _fmt, entries = iter_entries(upload, tz, date_order=date_order, mapping=mapping)
        return sum(1 for entry in entries if before(entry))
    except PhoneLogError:
        return 0


def _export_evidence(phone_import: PhoneImport, case: Case) -> EvidenceFile:
    """The export kept as evidence, under an incident that records the import itself."""
    existing = (
        EvidenceFile.objects.filter(owner=case.owner, incident__case=case, sha256=phone_import.sha256)
        .order_by("pk")
        .first()
    )
    if existing:
        return existing
    content_type, extension = EXPORT_TYPES[phone_import.format]
    holder = Incident(
        case=case,
        kind=IncidentKind.OTHER,
        occurred_at=timezone.now(),
        source=Source.IMPORT,
        description=_("Phone log export imported: %(name)s") % {"name": phone_import.original_name},
    )
    holder.full_clean()
    holder.save()
    audit_append(
        owner=case.owner,
        action="incident.create",
        subject=holder,
        payload={"case": case.pk, "after": holder.snapshot()},
    )
    with open_blob(phone_import.storage_name, phone_import.storage_version) as handle:
        return evidence_store(
            incident=holder,
            upload=handle,
            provenance=Provenance.IMPORTED,
            stored=(phone_import.storage_name, phone_import.storage_version),
            inspected={
                "name": phone_import.original_name,
                "sha256": phone_import.sha256,
                "size": phone_import.size,
                "content_type": content_type,
                "extension": extension,
                "metadata": {
                    "import_format": phone_import.format,
                    "calls": phone_import.summary.get("calls"),
                    "messages": phone_import.summary.get("messages"),
                },
            },
        )


def phone_import_run(
    *,
    phone_import: PhoneImport,
    numbers: list[str] | None = None,
    kinds: list[str] | None = None,
    date_order: str | None = None,
    mapping: dict | None = None,
    in_batches: bool = False,
    include_before_period: bool = False,
) -> dict:
    """Create an incident for every new entry from the chosen numbers and kinds.

    Entries dated before the case's period (Case.period_start, the day the debt began) are left
    out and counted as `before_period`, unless `include_before_period`: an old call log must not
    put unrelated years and numbers into the record of this debt.

    Returns {"created", "duplicates", "linked", "skipped", "implausible"}: duplicates are entries
    already in the case (from this or an overlapping export), linked are entries that are the same
    real event as an incident already logged (a recording filed first, a call typed by hand, the same
    call in another export): that incident gains the import as a source (evidence.merging); skipped are those outside the chosen numbers and
    kinds, implausible those left out for an unreadable or implausible date (phone_logs.py). An
    export with no valid entry at all is refused (EvidenceRejected, 400) and nothing is written.

    `in_batches` (a background import, phone_import_background): every batch of entries is its own
    short transaction with its own audit link (`import.create` with that batch's facts), which also
    records the counts and the entries read so far on the import row. A run that is interrupted and
    run again carries on after the last committed batch; the findings are refreshed in steps too
    (evidence.findings). On SQLite the write lock is then held for one batch at a time, never for
    the whole import, so other users' uploads go on meanwhile.
    """
    case = phone_import.case
    tz = profile_for(case.owner).tz
    wanted_numbers = {normalise_number(n) for n in numbers if normalise_number(n)} if numbers else None
    # A hidden caller ticked on the preview (its number is "", or "hidden" through the API): its
    # entries are imported as hidden, never silently skipped.
    wanted_hidden = bool(numbers) and any((n or "").strip().lower() in ("", HIDDEN) for n in numbers)
    wanted_kinds = set(kinds) if kinds else set(DEFAULT_KINDS)
    unknown = wanted_kinds - set(IMPORT_KINDS)
    if unknown:
        raise EvidenceRejected(
            code="invalid",
            status=400,
            message=_("Unknown kinds: %(kinds)s.") % {"kinds": ", ".join(sorted(unknown))},
        )
    existing = set(case.incidents.exclude(import_key="").values_list("import_key", flat=True))
    # implausible: entries left out for their date (phone_logs.Entries), never imported.
    counts = {"created": 0, "duplicates": 0, "linked": 0, "skipped": 0, "implausible": 0, "before_period": 0}
    before = period_filter(case, tz, include_before_period)
    # Entries read (and settled) so far: a resumed background import skips these.
    done_before = 0
    if in_batches:
        saved = phone_import.result or {}
        done_before = int(saved.get("read") or 0)
        counts.update({name: int(saved.get(name) or 0) for name in counts if name != "implausible"})
    matcher = Matcher(case)
    to_join: list[tuple] = []
    keys_digest = hashlib.sha256()
    facts: dict[str, str] = {}
    now = timezone.now()
    read = 0
    batches = {"written": 0, "read_at_last": done_before}
    # The earliest and latest time of the entries created or linked: the findings are refreshed for
    # the days those can change, not the whole case (findings.case_violations_refresh's `span`).
    span: list = [None, None]

    def widen(moment) -> None:
        if span[0] is None or moment < span[0]:
            span[0] = moment
        if span[1] is None or moment > span[1]:
            span[1] = moment

    try:
        with (
            nullcontext() if in_batches else transaction.atomic(),
            open_blob(phone_import.storage_name, phone_import.storage_version) as handle,
        ):
            _fmt, entries = iter_entries(
                handle, tz, date_order, mapping or phone_import.summary.get("mapping")
            )
            export = None
            batch: list[dict] = []
            with_images: list[tuple[Incident, list]] = []

            def flush():
                _insert(batch)
                for incident, images in with_images:
                    incident.save()
                    for index, (content_type, data) in enumerate(images, start=1):
                        raw = decode_image(data)
                        if not raw:
                            continue
                        extension = content_type.split("/")[-1].split(";")[0] or "img"
                        upload = ContentFile(
                            raw,
                            name=f"mms-{incident.occurred_at.astimezone(tz):%Y%m%d-%H%M%S}-{index}.{extension}",
                        )
                        try:
                            evidence_store(incident=incident, upload=upload, provenance=Provenance.IMPORTED)
                        except EvidenceRejected:
                            continue  # an attachment of a type we do not keep; the text is imported
                batch.clear()
                with_images.clear()

            pending: list = []
            pending_images = 0

            def process():
                """Decide for a batch of new entries: join an incident already logged (the same
                real call or message) or create one. In batches: in a transaction of its own."""
                if not in_batches:
                    decide()
                    return
                with transaction.atomic():
                    decide()
                    batch_commit()

            def batch_commit():
                """The batch's joins and audit link, and how far the import got, with its rows."""
                nonlocal keys_digest
                incidents_join_imported(
                    case=case, export_id=export.pk if export is not None else None, joins=joins_of(to_join)
                )
                to_join.clear()
                if facts:
                    batches["written"] += 1
                    audit_append(
                        owner=case.owner,
                        action="import.create",
                        subject=phone_import,
                        payload={
                            "export_sha256": phone_import.sha256,
                            "name": phone_import.original_name,
                            "batch": batches["written"],
                            "created": len(facts),
                            "keys_digest": keys_digest.hexdigest(),
                            "facts": dict(facts),
                        },
                    )
                    facts.clear()
                    keys_digest = hashlib.sha256()
                batches["read_at_last"] = done_before + read
                _import_progress(phone_import, {**counts, "read": done_before + read}, handle, export)

            def decide():
                nonlocal export
                if not pending:
                    return
                if export is None:
                    export = _export_evidence(phone_import, case)
                joined = matcher.find_imported([(e.incident_kind, e.at, e.number) for e, _k in pending])
                for position, (entry, key) in enumerate(pending):
                    ref = f"{phone_import.original_name[:60]} #{entry.position} ({entry.direction})"
                    target = joined.get(position)
                    if target is None:
                        target = matcher.find_loose(
                            kind=entry.incident_kind,
                            at=entry.at,
                            duration=entry.duration,
                            number=entry.number,
                        )
                        if target is not None:
                            matcher.used.add(target)
                    if target is not None:
                        to_join.append((target, entry, key, ref))
                        counts["linked"] += 1
                        widen(entry.at)
                        continue
                    values = {
                        "case_id": case.pk,
                        "kind": entry.incident_kind,
                        "occurred_at": entry.at,
                        "duration_seconds": entry.duration,
                        "answered": entry.answered,
                        "counterpart_number": entry.number,
                        "counterpart_name": entry.contact_name[:100],
                        "agency": "",
                        "description": entry.body,
                        "quotes": [],
                        "contacted": ["self"],
                        "flags": [],
                        "visitors": None,
                        "source": Source.IMPORT,
                        "logged_at": now,
                        "amended_at": None,
                        "violations": [],
                        "violation_rules": "",
                        "import_key": key,
                        "source_evidence_id": export.pk,
                        "source_ref": ref,
                        # A carrier's call-detail record is named as such (the strongest record of a call).
                        "sources": [{"kind": entry.source_kind, "ref": ref}]
                        if entry.source_kind not in ("", "import")
                        else [],
                    }
                    facts[key] = Incident.facts_digest(Incident.snapshot_of(values))
                    if entry.images:
                        # Saved one by one: its attachments need its id.
                        with_images.append((Incident(**values), entry.images))
                    else:
                        batch.append(values)
                    keys_digest.update(key.encode("ascii"))
                    counts["created"] += 1
                    widen(entry.at)
                pending.clear()
                if batch or with_images:
                    flush()

            size = batch_size() if in_batches else BATCH
            for position, entry in enumerate(entries):
                if position < done_before:
                    continue  # settled by an earlier run of this import
                read += 1
                if before(entry):
                    counts["before_period"] += 1
                elif entry.import_kind not in wanted_kinds or (
                    wanted_numbers is not None
                    and not _number_matches(entry.number, wanted_numbers)
                    and not (wanted_hidden and not entry.number)
                ):
                    counts["skipped"] += 1
                elif (key := entry.key) in existing:
                    counts["duplicates"] += 1
                else:
                    existing.add(key)
                    pending.append((entry, key))
                    pending_images += bool(entry.images)
                if len(pending) >= size or pending_images >= 50:
                    process()
                    pending_images = 0
                elif in_batches and done_before + read - batches["read_at_last"] >= size:
                    process()  # only entries already here or not chosen: record how far it got
            if pending or in_batches:
                process()
            if not in_batches:
                incidents_join_imported(
                    case=case, export_id=export.pk if export is not None else None, joins=joins_of(to_join)
                )
            counts["implausible"] = entries.implausible
            if not (
                counts["created"]
                or counts["duplicates"]
                or counts["linked"]
                or counts["skipped"]
                or counts["before_period"]
            ):
                # Nothing valid remains: refuse (and roll back) rather than report an empty success.
                if entries.implausible:
                    raise nothing_plausible(entries.implausible)
                raise PhoneLogError(_("The file holds no calls or messages."))
            if in_batches:
                if counts["created"] or counts["linked"]:
                    # Derived data, computed outside any transaction and written in steps.
                    # A resumed run did not see the entries of the run before it: the whole case.
                    case_violations_refresh_in_steps(case=case, span=None if done_before else tuple(span))
                moment = timezone.now()
                done = {
                    "result": counts,
                    "imported_at": moment,
                    "status": ImportStatus.DONE,
                    "progress": 100,
                    "finished_at": moment,
                    "heartbeat_at": moment,
                }
                if export is not None:
                    done["evidence"] = export
                with transaction.atomic():
                    if not PhoneImport.objects.filter(pk=phone_import.pk, status=ImportStatus.RUNNING).update(
                        **done
                    ):
                        raise ImportStopped(phone_import.pk)
                for name, value in done.items():
                    setattr(phone_import, name, value)
                return counts
            if counts["created"] or counts["linked"]:
                # One link for the whole import: it names the export and digests every created entry.
                audit_append(
                    owner=case.owner,
                    action="import.create",
                    subject=phone_import,
                    payload={
                        "export_sha256": phone_import.sha256,
                        "name": phone_import.original_name,
                        **counts,
                        "keys_digest": keys_digest.hexdigest(),
                        # What each created entry stated, so verify_evidence can tell a later
                        # change made behind the services' back.
                        "facts": facts,
                    },
                )
                case_violations_refresh(case=case, span=tuple(span))
            phone_import.result = counts
            phone_import.evidence = export or phone_import.evidence
            phone_import.imported_at = now
            phone_import.save(update_fields=["result", "evidence", "imported_at"])
    except PhoneLogError as exc:
        raise EvidenceRejected(code="invalid_import", status=400, message=str(exc)) from None
    return counts


def joins_of(to_join: list[tuple]) -> list[tuple]:
    """Entries that join incidents already logged, as incidents_join_imported takes them."""
    return [
        (
            target,
            {"kind": entry.source_kind or "import", "ref": ref},
            {
                "duration_seconds": entry.duration,
                "answered": entry.answered,
                "counterpart_number": entry.number,
                "counterpart_name": entry.contact_name[:100],
            },
            # The phone's own log has the call's exact start.
            entry.at if entry.incident_kind == IncidentKind.CALL else None,
            key,
        )
        for target, entry, key, ref in to_join
    ]


class ImportStopped(Exception):
    """The import row no longer says "running" for this run (the sweep gave it up, or it was
    deleted): the run stops at once, after its last committed batch."""


def _import_progress(phone_import: PhoneImport, result: dict, handle, export: EvidenceFile | None) -> None:
    """Inside a batch's transaction: the counts so far, the share of the file read, a heartbeat."""
    try:
        percent = min(int(handle.tell() * 100 / max(phone_import.size, 1)), 99)
    except (AttributeError, OSError, ValueError):
        percent = 0
    updated = PhoneImport.objects.filter(pk=phone_import.pk, status=ImportStatus.RUNNING).update(
        result=result,
        progress=percent,
        heartbeat_at=timezone.now(),
        evidence=export.pk if export is not None else phone_import.evidence_id,
    )
    if not updated:
        raise ImportStopped(phone_import.pk)


# Every column of an imported incident: what it states (the same fields the audit chain records),
# then where it came from.
INSERT_FIELDS = (
    "case",
    *Incident.STATED_FIELDS,
    "source",
    "logged_at",
    "amended_at",
    "violations",
    "violation_rules",
    "source_evidence",
    "source_ref",
    "import_key",
    "sources",
    "ref",
    "entered_by",
    "conflicts",
)


def _insert(incidents: list[dict]) -> None:
    """Insert many imported incidents with one prepared statement run many times.

    Imports may hold 100,000 calls; building and compiling a model instance per row cost far more
    than the parse. Values still go through each field's own database preparation.
    """

    if not incidents:
        return
    # Each gets the case's next evidence numbers, in the order the entries were read.
    for case_id in {incident["case_id"] for incident in incidents}:
        mine = [
            incident for incident in incidents if incident["case_id"] == case_id and not incident.get("ref")
        ]
        for incident, ref in zip(mine, refs_take(case_id, len(mine)), strict=True):
            incident["ref"] = ref
    for incident in incidents:
        incident.setdefault("entered_by_id", None)
        incident.setdefault("place", "")
        incident.setdefault("location", None)
        incident.setdefault("conflicts", [])
    fields = [Incident._meta.get_field(name) for name in INSERT_FIELDS]
    missing = {f.name for f in Incident._meta.concrete_fields} - {f.name for f in fields} - {"id"}
    if missing:  # a new model field must be added here too
        raise RuntimeError(f"imported incidents lack: {sorted(missing)}")
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(Incident._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    # Only dates need converting for the database (they are aware UTC datetimes here); JSON values
    # repeat across rows and are prepared once each; strings, numbers and ids go in as they are.
    # The columns are picked in C (itemgetter) and only the few that need it are converted.
    adapt = connection.ops.adapt_datetimefield_value
    pick = operator.itemgetter(*(field.attname for field in fields))
    json_columns = [(i, f) for i, f in enumerate(fields) if f.get_internal_type() == "JSONField"]
    date_columns = [i for i, f in enumerate(fields) if f.get_internal_type() == "DateTimeField"]
    cache: dict[tuple[int, str], object] = {}
    # Most list columns of an imported row are empty: those take their prepared value directly.
    empty = {i: field.get_db_prep_save([], connection) for i, field in json_columns}
    dates: dict[int, tuple] = {}
    rows = []
    for incident in incidents:
        row = list(pick(incident))
        for i, field in json_columns:
            if row[i].__class__ is list and not row[i]:
                row[i] = empty[i]
                continue
            key = (i, repr(row[i]))
            prepared = cache.get(key)
            if prepared is None:
                prepared = cache[key] = field.get_db_prep_save(row[i], connection)
            row[i] = prepared
        for i in date_columns:
            value = row[i]
            if value is not None:
                # logged_at is one value for the whole import: converted once.
                row[i] = dates[i][1] if dates.get(i, (None,))[0] is value else adapt(value)
                dates[i] = (value, row[i])
        rows.append(row)
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
