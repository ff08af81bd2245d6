"""The per-owner audit hash chain: append one link, and check every link and every stored file."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from .storage import open_evidence
from django.db import transaction
from django.utils import timezone

from .models import AuditEvent, AuditHead, EvidenceFile, canonical_json


def _jsonable(value):
    """Payloads hold before/after values; make dates and other objects plain JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def audit_append(*, owner, action: str, subject, payload: dict) -> AuditEvent:
    """Append one event to the owner's chain. Must run inside the caller's transaction.

    The head row is locked first, so concurrent appends for one owner queue behind each other and
    each one links to the event before it: the chain never forks.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_append must run inside transaction.atomic()")
    head, _ = AuditHead.objects.get_or_create(owner=owner)
    head = AuditHead.objects.select_for_update().get(pk=head.pk)
    payload = _jsonable(payload)
    event = AuditEvent(
        owner=owner,
        seq=head.seq + 1,
        action=action,
        subject_type=type(subject).__name__.lower(),
        subject_id=str(subject.pk),
        payload=payload,
        payload_digest=hashlib.sha256(canonical_json(payload)).hexdigest(),
        at=timezone.now(),
        prev_hash=head.hash,
    )
    event.hash = event.compute_hash()
    event.save()
    head.seq, head.hash = event.seq, event.hash
    head.save(update_fields=["seq", "hash"])
    return event


@dataclass
class VerificationReport:
    files_checked: int = 0
    events_checked: int = 0
    owners_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def chain_problems(owner_id: int, events, head: AuditHead | None) -> tuple[int, list[str]]:
    problems: list[str] = []
    previous = AuditEvent.GENESIS
    count = 0
    for expected_seq, event in enumerate(events, start=1):
        count += 1
        where = f"audit event owner={owner_id} seq={event.seq} (id {event.pk})"
        if event.seq != expected_seq:
            problems.append(f"{where}: expected seq {expected_seq}; an event is missing or inserted")
        if event.prev_hash != previous:
            problems.append(f"{where}: prev_hash {event.prev_hash} does not link to {previous}")
        digest = hashlib.sha256(canonical_json(event.payload)).hexdigest()
        if digest != event.payload_digest:
            problems.append(f"{where}: payload changed (digest {digest}, recorded {event.payload_digest})")
        computed = event.compute_hash()
        if computed != event.hash:
            problems.append(f"{where}: hash mismatch (computed {computed}, stored {event.hash})")
        previous = event.hash
    if head is not None and (head.seq != count or head.hash != previous):
        problems.append(f"audit head owner={owner_id}: records seq {head.seq} {head.hash}, "
                        f"chain ends at seq {count} {previous}")
    return count, problems


def file_problem(evidence: EvidenceFile) -> str | None:
    where = f"evidence id {evidence.pk} '{evidence.original_name}' ({evidence.storage_name})"
    try:
        handle = open_evidence(evidence)
    except (FileNotFoundError, OSError) as exc:
        return f"{where}: file missing ({exc.__class__.__name__})"
    hasher = hashlib.sha256()
    size = 0
    with handle:
        for chunk in handle.chunks(1 << 20):
            hasher.update(chunk)
            size += len(chunk)
    actual = hasher.hexdigest()
    if actual != evidence.sha256 or size != evidence.size:
        return (f"{where}: expected sha256 {evidence.sha256} size {evidence.size}, "
                f"actual sha256 {actual} size {size}")
    return None


def verify_store(*, owner=None) -> VerificationReport:
    """Re-hash every stored evidence file and re-compute every owner's audit chain."""
    report = VerificationReport()
    files = EvidenceFile.objects.order_by("pk")
    events = AuditEvent.objects.order_by("owner_id", "seq")
    heads = {h.owner_id: h for h in AuditHead.objects.all()}
    if owner is not None:
        files, events = files.filter(owner=owner), events.filter(owner=owner)
        heads = {k: v for k, v in heads.items() if k == owner.pk}
    for evidence in files.iterator():
        report.files_checked += 1
        problem = file_problem(evidence)
        if problem:
            report.problems.append(problem)
    by_owner: dict[int, list[AuditEvent]] = {}
    for event in events.iterator():
        by_owner.setdefault(event.owner_id, []).append(event)
    for owner_id in sorted(set(by_owner) | set(heads)):
        count, problems = chain_problems(owner_id, by_owner.get(owner_id, []), heads.get(owner_id))
        report.owners_checked += 1
        report.events_checked += count
        report.problems.extend(problems)
    return report
