"""Check the whole store: every stored file against its recorded SHA-256, every owner's audit chain."""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger.chain import chain_problems
from ledger.models import AuditEvent, AuditHead

from .hashing import sha256_of
from .models import EvidenceFile
from .storage import open_evidence


@dataclass
class VerificationReport:
    files_checked: int = 0
    events_checked: int = 0
    owners_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def file_problem(evidence: EvidenceFile) -> str | None:
    where = f"evidence id {evidence.pk} '{evidence.original_name}' ({evidence.storage_name})"
    try:
        handle = open_evidence(evidence)
    except (FileNotFoundError, OSError) as exc:
        return f"{where}: file missing ({exc.__class__.__name__})"
    with handle:
        actual, size = sha256_of(handle)
    if actual != evidence.sha256 or size != evidence.size:
        return (
            f"{where}: expected sha256 {evidence.sha256} size {evidence.size}, "
            f"actual sha256 {actual} size {size}"
        )
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
