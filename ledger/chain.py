"""Append one link to an owner's chain, and check a chain's links."""

from __future__ import annotations

import hashlib

from django.db import transaction
from django.utils import timezone

from .models import AuditEvent, AuditHead, canonical_json


def jsonable(value):
    """Payloads hold before/after values; make dates and other objects plain JSON."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
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
    payload = jsonable(payload)
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


def chain_problems(owner_id: int, events, head: AuditHead | None) -> tuple[int, list[str]]:
    """Re-compute one owner's chain; one line per broken link, missing event or edited payload."""
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
        problems.append(
            f"audit head owner={owner_id}: records seq {head.seq} {head.hash}, "
            f"chain ends at seq {count} {previous}"
        )
    return count, problems
