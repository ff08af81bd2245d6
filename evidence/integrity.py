"""Check the whole store: every stored file against its recorded SHA-256, every owner's audit chain."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from botocore.exceptions import ClientError
from django.core.files.storage import default_storage

from ledger.chain import chain_problems, jsonable
from ledger.models import AuditEvent, AuditHead

from .hashing import sha256_of
from .models import Case, EvidenceFile, Incident
from .storage import open_evidence


@dataclass
class VerificationReport:
    files_checked: int = 0
    events_checked: int = 0
    owners_checked: int = 0
    problems: list[str] = field(default_factory=list)
    # Intact, but an operator should look (a versioned key written to or deleted after arrival).
    warnings: list[str] = field(default_factory=list)
    # What a check could not compare and why (a release that recorded less): never a failure.
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _file_where(evidence: EvidenceFile) -> str:
    return f"evidence id {evidence.pk} '{evidence.original_name}' ({evidence.storage_name})"


def _error_name(exc: Exception) -> str:
    """The error's class, and an object store's error code (NoSuchVersion, AccessDenied, ...)."""
    if isinstance(exc, ClientError):
        return f"ClientError {exc.response.get('Error', {}).get('Code') or '?'}"
    return exc.__class__.__name__


# Object store answers meaning the recorded version (or the whole key) is not there.
MISSING_CODES = {"NoSuchKey", "NoSuchVersion", "404"}


def file_problem(evidence: EvidenceFile) -> str | None:
    """One line when the stored file does not hash to what was recorded, or cannot be read at all.

    Any error opening or reading the file (a missing file or version, access denied, a store that
    does not answer, a name the storage refuses) is that file's problem, never the whole run's."""
    where = _file_where(evidence)
    try:
        with open_evidence(evidence) as handle:
            actual, size = sha256_of(handle)
    except FileNotFoundError as exc:
        return f"{where}: file missing ({_error_name(exc)})"
    except Exception as exc:
        missing = isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in MISSING_CODES
        what = "the recorded version is missing" if missing else "cannot be read"
        return f"{where}: {what} ({_error_name(exc)})"
    if actual != evidence.sha256 or size != evidence.size:
        return (
            f"{where}: expected sha256 {evidence.sha256} size {evidence.size}, "
            f"actual sha256 {actual} size {size}"
        )
    return None


def version_warning(evidence: EvidenceFile, current_version) -> str | None:
    """On a versioned object store: one line when the key's current version is not the recorded
    one (another PUT, or a delete marker). Reads use the recorded version, so the evidence is intact,
    but something other than this app's upload wrote to or deleted the key."""
    try:
        now = current_version(evidence.storage_name)
    except Exception as exc:
        return f"evidence id {evidence.pk}: the key's current version cannot be read ({_error_name(exc)})"
    if now == evidence.storage_version:
        return None
    shown = "a delete marker (or nothing)" if now is None else now
    return (
        f"evidence id {evidence.pk}: the key's current version is {shown} "
        f"(recorded {evidence.storage_version}) — reads use the recorded version and are correct, "
        f"but something wrote to or deleted the key ({evidence.storage_name})"
    )


def _differences(expected: dict, actual: dict) -> list[str]:
    return [
        f"{key} {expected.get(key)!r} in the audit chain, {actual.get(key)!r} now"
        for key in sorted(set(expected) | set(actual))
        if expected.get(key) != actual.get(key)
    ]


def row_problems(owner_id: int, events: list[AuditEvent], notes: list[str] | None = None) -> list[str]:
    """Compare the owner's current rows with what the audit chain last recorded of each.

    The chain is replayed: a create records a snapshot, an amendment the new one, a deletion removes
    it, an import a digest per created entry. A row that differs (changed in the admin or the
    database, behind the services' back), a row the chain never recorded, and a recorded row that
    is gone are each one line.
    """
    cases: dict[int, dict] = {}
    incidents: dict[int, dict] = {}
    imported: dict[str, str] = {}  # import key -> facts digest at import
    legacy_import_cases: set[int] = set()
    # The first release's import link names the export (its sha256) and counts what it created, but
    # neither the case nor each entry's facts: its entries are matched through their export file.
    legacy_exports: Counter[str] = Counter()
    evidence: dict[int, dict] = {}
    # Actions not named below change no stored facts: "evidence.withdraw" hides a file but keeps its
    # row (checked like any other) for the dossier or import that needs it.
    for event in events:
        payload, pk = event.payload, event.subject_id
        if event.action in ("case.create", "case.update"):
            cases[int(pk)] = payload.get("after", {})
        elif event.action == "incident.create":
            incidents[int(pk)] = dict(payload.get("after", {}))
        elif event.action == "incident.merge":
            # A later entry joined the incident (evidence.merging): the whole statement after it.
            incidents[int(pk)] = dict(payload["snapshot"])
        elif event.action == "import.merge":
            for merged in payload.get("merged", []):
                incidents[int(merged["incident"])] = dict(merged["snapshot"])
        elif event.action == "incident.amend":
            if "snapshot" in payload:
                incidents[int(pk)] = dict(payload["snapshot"])
            else:  # recorded before amendments kept the whole statement: the changed fields
                incidents.setdefault(int(pk), {}).update(payload.get("after", {}))
        elif event.action == "incident.delete":
            incidents[int(pk)] = {"__deleted__": True}
            # Its files went with it (a cascade; this event's payload lists them).
            for file_pk, expected in evidence.items():
                if expected.get("incident") == int(pk):
                    evidence[file_pk] = {"__deleted__": True}
        elif event.action == "import.create":
            if "facts" in payload:
                imported.update(payload["facts"])
            elif "case" in payload:
                legacy_import_cases.add(payload.get("case"))
            elif payload.get("export_sha256"):
                legacy_exports[payload["export_sha256"]] += int(payload.get("created") or 0)
        elif event.action == "evidence.store":
            evidence[int(pk)] = dict(payload.get("after", {}))
        elif event.action == "evidence.move":
            evidence.setdefault(int(pk), {})["incident"] = payload.get("after", {}).get("incident")
        elif event.action == "evidence.delete":
            evidence[int(pk)] = {"__deleted__": True}

    problems: list[str] = []
    for case in Case.objects.filter(owner_id=owner_id).order_by("pk"):
        where = f"case id {case.pk} '{case.title}'"
        if case.pk not in cases:
            problems.append(f"{where}: not in the audit chain (created behind the services' back)")
            continue
        for line in _differences(cases[case.pk], jsonable(case.snapshot())):
            problems.append(f"{where}: changed without an audit record: {line}")
    seen_incidents: set[int] = set()
    export_sha = (
        dict(
            EvidenceFile.all_objects.filter(owner_id=owner_id, sha256__in=list(legacy_exports)).values_list(
                "pk", "sha256"
            )
        )
        if legacy_exports
        else {}
    )
    legacy_found: Counter[str] = Counter()
    rows = Incident.objects.filter(case__owner_id=owner_id).order_by("pk")
    for incident in rows.iterator(chunk_size=2000):
        seen_incidents.add(incident.pk)
        where = f"incident id {incident.pk} ({incident.kind}, case {incident.case_id})"
        current = jsonable(incident.snapshot())
        expected = incidents.get(incident.pk)
        if expected is not None and not expected.get("__deleted__"):
            for line in _differences(expected, current):
                problems.append(f"{where}: changed without an audit record: {line}")
        elif expected is not None:
            problems.append(f"{where}: deleted in the audit chain but still present")
        elif incident.import_key and incident.import_key in imported:
            if Incident.facts_digest(current) != imported[incident.import_key]:
                problems.append(
                    f"{where}: changed since it was imported (occurred_at now {current['occurred_at']}); "
                    f"the import recorded other facts"
                )
        elif incident.import_key and incident.case_id in legacy_import_cases:
            continue  # imported before imports recorded each entry's facts
        elif incident.import_key and incident.source_evidence_id in export_sha:
            legacy_found[export_sha[incident.source_evidence_id]] += 1
        else:
            problems.append(f"{where}: not in the audit chain (created behind the services' back)")
    for digest, created in sorted(legacy_exports.items()):
        if legacy_found[digest] != created:
            problems.append(
                f"import of export sha256 {digest}: the audit chain records {created} entries created, "
                f"the database holds {legacy_found[digest]}"
            )
        elif notes is not None:
            notes.append(
                f"import of export sha256 {digest} (owner {owner_id}): {created} entries, made by the first "
                "release, which recorded their number but not each one's facts: counted, not compared"
            )
    for pk, expected in sorted(incidents.items()):
        if pk not in seen_incidents and not expected.get("__deleted__"):
            problems.append(f"incident id {pk}: in the audit chain but missing from the database")
    seen_files: set[int] = set()
    for item in EvidenceFile.all_objects.filter(owner_id=owner_id).order_by("pk").iterator(chunk_size=2000):
        seen_files.add(item.pk)
        where = f"evidence id {item.pk} '{item.original_name}'"
        expected = evidence.get(item.pk)
        if expected is None:
            problems.append(f"{where}: not in the audit chain (stored behind the services' back)")
        elif expected.get("__deleted__"):
            problems.append(f"{where}: deleted in the audit chain but still present")
        else:
            for line in _differences(expected, jsonable(item.snapshot())):
                problems.append(f"{where}: changed without an audit record: {line}")
    for pk, expected in sorted(evidence.items()):
        if pk not in seen_files and not expected.get("__deleted__"):
            problems.append(f"evidence id {pk}: in the audit chain but missing from the database")
    return problems


def verify_store(*, owner=None) -> VerificationReport:
    """Re-hash every stored evidence file and re-compute every owner's audit chain."""
    report = VerificationReport()
    files = EvidenceFile.all_objects.order_by("pk")
    events = AuditEvent.objects.order_by("owner_id", "seq")
    heads = {h.owner_id: h for h in AuditHead.objects.all()}
    if owner is not None:
        files, events = files.filter(owner=owner), events.filter(owner=owner)
        heads = {k: v for k, v in heads.items() if k == owner.pk}
    current_version = getattr(default_storage, "current_version", None)  # versioned stores only
    for evidence in files.iterator():
        report.files_checked += 1
        problem = file_problem(evidence)
        if problem:
            report.problems.append(problem)
        elif current_version is not None and evidence.storage_version:
            warning = version_warning(evidence, current_version)
            if warning:
                report.warnings.append(warning)
    by_owner: dict[int, list[AuditEvent]] = {}
    for event in events.iterator():
        by_owner.setdefault(event.owner_id, []).append(event)
    for owner_id in sorted(set(by_owner) | set(heads)):
        owner_events = by_owner.get(owner_id, [])
        count, problems = chain_problems(owner_id, owner_events, heads.get(owner_id))
        report.owners_checked += 1
        report.events_checked += count
        report.problems.extend(problems)
        report.problems.extend(row_problems(owner_id, owner_events, report.notes))
    return report
