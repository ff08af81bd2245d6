"""Check the whole store: every stored file against its recorded SHA-256, every owner's audit chain."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.core.files.storage import default_storage

from ledger.chain import chain_problems, jsonable
from ledger.models import AuditEvent, AuditHead
from ledger.records import acknowledged_records, closed_chains, recorded_heads
from stamps.models import BatchState, ChainMark, Leaf, LeafKind

from .hashing import sha256_of
from .models import Case, EvidenceFile, Incident, PhoneImport
from .storage import client_errors, open_evidence

# Checks of the apps above evidence (complaints, privacy), registered from their AppConfig.ready():
# evidence imports none of them. A row check gets an owner's id and chain and returns one line per
# row that differs from what the chain last recorded of it; a store check returns how many records
# it read, one line per record the database has forgotten (with that record's name, so an operator
# may acknowledge it after a restore) and notes; it is given the records already acknowledged.
RowCheck = Callable[[int, list[AuditEvent]], list[str]]
StoreCheck = Callable[[dict[str, str]], tuple[int, list[tuple[str, str]], list[str]]]
ROW_CHECKS: list[RowCheck] = []
STORE_CHECKS: list[StoreCheck] = []


def register_row_check(check: RowCheck) -> None:
    if check not in ROW_CHECKS:
        ROW_CHECKS.append(check)


def register_store_check(check: StoreCheck) -> None:
    if check not in STORE_CHECKS:
        STORE_CHECKS.append(check)


@dataclass
class VerificationReport:
    files_checked: int = 0
    events_checked: int = 0
    owners_checked: int = 0
    # Chain heads and issued seals recorded outside the database (ledger.records, the stamps tables).
    heads_checked: int = 0
    records_checked: int = 0
    problems: list[str] = field(default_factory=list)
    # Intact, but an operator should look (a versioned key written to or deleted after arrival).
    warnings: list[str] = field(default_factory=list)
    # What a check could not compare and why (a release that recorded less): never a failure.
    notes: list[str] = field(default_factory=list)
    # The store's records (ledger.records) behind the problems above: what the database forgot.
    forgotten: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _file_where(evidence: EvidenceFile) -> str:
    return f"evidence id {evidence.pk} '{evidence.original_name}' ({evidence.storage_name})"


def _error_name(exc: Exception) -> str:
    """The error's class, and an object store's error code (NoSuchVersion, AccessDenied, ...)."""
    if isinstance(exc, client_errors()):
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
        missing = (
            isinstance(exc, client_errors()) and exc.response.get("Error", {}).get("Code") in MISSING_CODES
        )
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
    holds: dict[int, dict | None] = {}  # case id -> {"since", "reason"} while on hold
    imports: dict[int, tuple[str, int]] = {}  # import id -> (export sha256, seq of its last link)
    case_deleted_at: list[int] = []  # seq of each case.delete link
    # Actions not named below change no stored facts: "evidence.withdraw" hides a file but keeps its
    # row (checked like any other) for the dossier or import that needs it.
    for event in events:
        payload, pk = event.payload, event.subject_id
        if event.action in ("case.create", "case.update"):
            cases[int(pk)] = payload.get("after", {})
        elif event.action == "case.hold":
            holds[int(pk)] = {"since": payload.get("since"), "reason": payload.get("reason", "")}
        elif event.action == "case.release":
            holds[int(pk)] = None
        elif event.action == "case.delete":
            case_deleted_at.append(event.seq)
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
            if event.subject_type == "phoneimport" and payload.get("export_sha256"):
                imports[int(pk)] = (payload["export_sha256"], event.seq)
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
        hold = holds.get(case.pk)
        if hold is None and case.hold_at is not None:
            problems.append(f"{where}: on hold since {case.hold_at.isoformat()} without an audit record")
        elif hold is not None and (
            not same_instant(hold["since"], case.hold_at) or hold["reason"] != case.hold_reason
        ):
            now = case.hold_at.isoformat() if case.hold_at else "no hold"
            problems.append(
                f"{where}: hold changed without an audit record: since {hold['since']} "
                f"({hold['reason']!r}) in the audit chain, {now} ({case.hold_reason!r}) now"
            )
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
    # Phone imports: each one the chain records must still be there with the export it named. A row
    # without a link is an import prepared, refused or still running (it created nothing).
    found = dict(
        PhoneImport.objects.filter(owner_id=owner_id, pk__in=list(imports)).values_list("pk", "sha256")
    )
    for pk, (sha256, seq) in sorted(imports.items()):
        if pk not in found:
            # Deleting its case takes an import with it (that link does not list each import).
            if not any(deleted > seq for deleted in case_deleted_at):
                problems.append(f"import id {pk}: in the audit chain but missing from the database")
        elif found[pk] != sha256:
            problems.append(
                f"import id {pk}: changed without an audit record: export sha256 {sha256} in the audit "
                f"chain, {found[pk]} now"
            )
    for check in ROW_CHECKS:
        problems.extend(check(owner_id, events))
    return problems


def same_instant(recorded, current) -> bool:
    """Whether a time the chain recorded (ISO text, in whatever zone it was given) is `current`."""
    if recorded is None or current is None:
        return recorded is None and current is None
    try:
        return datetime.fromisoformat(str(recorded)) == current
    except (TypeError, ValueError):
        return False


# --- the chain against the heads recorded outside the database -----------------------------------


def _outside_heads(
    owner_ids: set[int] | None,
) -> tuple[dict[int, list[dict]], dict[int, list[dict]], list[str]]:
    """Each owner's chain heads known outside the chain's own tables: the write-once records in the
    evidence store (ledger.records), the head that last entered a timestamp batch (ChainMark) and
    the last one a TSA stamped (a chain Leaf of a stamped batch: its hash, its seq unknown)."""
    heads, problems = recorded_heads()
    closed = closed_chains()
    for mark in ChainMark.objects.all():
        heads.setdefault(mark.owner_id, []).append(
            {
                "seq": mark.seq,
                "hash": mark.hash,
                "name": "stamps ChainMark, the last head sent for a timestamp",
            }
        )
    last_stamped: dict[int, Leaf] = {}
    stamped = (
        Leaf.objects.filter(kind=LeafKind.CHAIN, batch__state=BatchState.STAMPED)
        .select_related("batch")
        .only("ref", "sha256", "batch__id", "batch__stamped_at")
        .order_by("id")
    )
    for leaf in stamped.iterator():
        if leaf.ref.isdigit():
            last_stamped[int(leaf.ref)] = leaf
    for owner_id, leaf in last_stamped.items():
        when = leaf.batch.stamped_at.isoformat() if leaf.batch.stamped_at else "?"
        heads.setdefault(owner_id, []).append(
            {
                "seq": None,
                "hash": leaf.sha256,
                "name": f"the head the TSA stamped in batch {leaf.batch.pk} at {when}",
            }
        )
    if owner_ids is not None:
        heads = {k: v for k, v in heads.items() if k in owner_ids}
        closed = {k: v for k, v in closed.items() if k in owner_ids}
    return heads, closed, problems


def _recorded_after(record: dict, moment: str | None) -> bool:
    try:
        return moment is None or datetime.fromisoformat(record.get("at") or "") > datetime.fromisoformat(
            moment
        )
    except ValueError:
        return True


def cut_off_problems(
    owner_id: int,
    events: list[AuditEvent],
    recorded: list[dict],
    closed: list[dict],
    forgotten: list[str] | None = None,
) -> list[str]:
    """Compare one owner's chain in the database with the heads recorded outside it: a chain that
    ends before a recorded head was cut off (the missing seq numbers are named), one that holds
    another hash at a recorded seq was rewritten. An account deleted through the services (a
    closed record) explains heads recorded before its deletion."""
    who = f"audit chain owner={owner_id}"
    hashes = {event.seq: event.hash for event in events}
    end = max(hashes, default=0)
    problems: list[str] = []
    if closed:
        last_closed = max(closed, key=lambda record: record.get("seq") or 0)
        if last_closed.get("seq") and hashes.get(last_closed["seq"]) == last_closed.get("hash"):
            problems.append(
                f"{who}: the store records this account's deletion (at seq {last_closed['seq']}, "
                f"{last_closed.get('at')}), yet the database holds it again: restored from a backup taken "
                f"before the deletion? Delete it again."
            )
            return problems
        # Heads of the deleted account are explained; a later account with the same id is compared.
        since = max((record.get("at") or "" for record in closed), default=None) or None
        recorded = [record for record in recorded if record["seq"] is None or _recorded_after(record, since)]
    by_seq = [record for record in recorded if record["seq"] is not None]
    if by_seq:
        latest = max(by_seq, key=lambda record: record["seq"])
        if latest["seq"] > end:
            if forgotten is not None:
                forgotten.extend(r["name"] for r in by_seq if r["seq"] > end and r.get("owner") is not None)
            missing = f"seq {end + 1}" if latest["seq"] == end + 1 else f"seq {end + 1}–{latest['seq']}"
            problems.append(
                f"{who}: cut off: the database's chain ends at seq {end}, but head seq {latest['seq']} "
                f"({latest['hash']}) is recorded outside the database ({latest['name']}); missing: {missing}"
            )
    reported: set[tuple[int, str]] = set()
    for record in sorted(by_seq, key=lambda record: record["seq"]):
        seq, digest = record["seq"], record["hash"]
        if seq <= end and hashes.get(seq) != digest and (seq, digest) not in reported:
            reported.add((seq, digest))
            if forgotten is not None and record.get("owner") is not None:
                forgotten.append(record["name"])
            problems.append(
                f"{who}: seq {seq} differs from the head recorded outside the database ({record['name']}): "
                f"recorded {digest}, database {hashes.get(seq) or 'none'}; the chain was rewritten"
            )
    known = set(hashes.values())
    for record in recorded:
        if record["seq"] is None and record["hash"] not in known:
            problems.append(
                f"{who}: {record['name']} (hash {record['hash']}) is not in the database's chain, which "
                f"ends at seq {end}: the chain was cut off or rewritten after it"
            )
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
    outside, closed, unreadable = _outside_heads(None if owner is None else {owner.pk})
    report.problems.extend(unreadable)
    # Records an operator acknowledged after restoring an earlier backup are notes, not problems.
    acknowledged = acknowledged_records()
    for owner_id, recorded in list(outside.items()):
        kept = [record for record in recorded if record.get("name") not in acknowledged]
        if len(kept) != len(recorded):
            report.notes.append(
                f"audit chain owner={owner_id}: {len(recorded) - len(kept)} recorded head(s) "
                f"{acknowledged[next(r['name'] for r in recorded if r.get('name') in acknowledged)]}"
            )
        outside[owner_id] = kept
    for owner_id in sorted(set(by_owner) | set(heads)):
        owner_events = by_owner.get(owner_id, [])
        count, problems = chain_problems(owner_id, owner_events, heads.get(owner_id))
        report.owners_checked += 1
        report.events_checked += count
        report.problems.extend(problems)
        report.problems.extend(row_problems(owner_id, owner_events, report.notes))
        recorded = outside.get(owner_id, [])
        report.heads_checked += len(recorded)
        report.problems.extend(
            cut_off_problems(owner_id, owner_events, recorded, closed.get(owner_id, []), report.forgotten)
        )
    # Owners the store remembers and the database does not (restored from an earlier backup).
    for owner_id in sorted(set(outside) - set(by_owner) - set(heads)):
        # Only the store's records count here: a stamp row naming a deleted account is the
        # database's own, and accounts deleted before these records have no closed record.
        recorded = [record for record in outside[owner_id] if record.get("owner") is not None]
        report.heads_checked += len(recorded)
        if not recorded or closed.get(owner_id):
            continue  # nothing recorded in the store, or the account was deleted through the services
        latest = max((record["seq"] or 0 for record in recorded), default=0)
        report.forgotten.extend(record["name"] for record in recorded)
        report.problems.append(
            f"audit chain owner={owner_id}: the database has no such account, but its chain heads up to seq "
            f"{latest} are recorded outside the database ({len(recorded)} record(s)): the database has forgotten it"
        )
    if owner is None:
        for check in STORE_CHECKS:
            checked, problems, notes = check(acknowledged)
            report.records_checked += checked
            report.problems.extend(problem for _name, problem in problems)
            report.forgotten.extend(name for name, _problem in problems)
            report.notes.extend(notes)
    return report
