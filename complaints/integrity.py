"""What verify_evidence checks of this app: its rows against the audit chain, and the issued seals
the evidence store remembers (ledger.records) against the database. Registered with
evidence.integrity from ComplaintsConfig.ready(), since evidence imports nothing above it.

Also the one lookup of an issued seal (verification and the verify page): the dossier, else the
record kept of it in the database (IssuedSeal), else the record kept in the evidence store, which
outlives a restore of the database from a backup taken before the issue.
"""

from __future__ import annotations

from datetime import datetime

from evidence.integrity import register_row_check, register_store_check, same_instant
from ledger.records import seal_record, seal_records

from .models import Complaint, ComplaintReply, Dossier, DossierStatus, IssuedSeal, StopNotice


def _moment(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def issued_by_seal(seal: str) -> Dossier | IssuedSeal | None:
    """The dossier or notice this server issued with `seal`: the dossier itself; after its owner
    deleted it, the IssuedSeal row; after the database forgot it, an IssuedSeal (not saved) made
    from the evidence store's record."""
    if not seal:
        return None
    found = (
        Dossier.objects.filter(seal=seal, status=DossierStatus.READY).first()
        or IssuedSeal.objects.filter(seal=seal).first()
    )
    if found is not None:
        return found
    try:
        record = seal_record(seal)
    except ValueError:
        return None
    if record is None or record.get("seal") != seal or not record.get("pdf_sha256"):
        return None
    kept = IssuedSeal(
        seal=seal,
        number=str(record.get("number") or ""),
        pdf_sha256=record["pdf_sha256"],
        created_at=_moment(record.get("created_at")) or _moment(record.get("issued_at")),
        finished_at=_moment(record.get("issued_at")),
        verify_text_sha256=record.get("verify_text_sha256"),
    )
    kept.from_store = True
    return kept


# --- verify_evidence: the store's seals the database has forgotten ----------------------------------


def forgotten_seals(acknowledged: dict[str, str]) -> tuple[int, list[tuple[str, str]], list[str]]:
    """Every issued seal recorded in the evidence store must be known to the database (the dossier
    or notice, or the IssuedSeal kept when it was deleted): (records read, (record, problem) for
    each one forgotten, notes for those acknowledged after a restore)."""
    records = list(seal_records())
    seals = [record["seal"] for _name, record in records if record and record.get("seal")]
    known: set[str] = set()
    for start in range(0, len(seals), 500):
        chunk = seals[start : start + 500]
        known |= set(IssuedSeal.objects.filter(seal__in=chunk).values_list("seal", flat=True))
        known |= set(
            Dossier.objects.filter(seal__in=chunk, status=DossierStatus.READY).values_list("seal", flat=True)
        )
        known |= set(StopNotice.objects.filter(seal__in=chunk).values_list("seal", flat=True))
    problems: list[tuple[str, str]] = []
    notes: list[str] = []
    for name, record in records:
        if not record or not record.get("seal"):
            problems.append((name, f"{name}: not a readable issued-seal record"))
        elif record["seal"] not in known and name in acknowledged:
            notes.append(f"seal {record['seal']} ({record.get('number')}): {acknowledged[name]}")
        elif record["seal"] not in known:
            problems.append(
                (
                    name,
                    f"seal {record['seal']} ({record.get('kind')} {record.get('number')}, owner "
                    f"{record.get('owner')}, issued {record.get('issued_at')}) is recorded in the evidence store "
                    f"({name}) but the database has forgotten it: restored from a backup taken before it was "
                    f"issued, or deleted behind the services' back",
                )
            )
    return len(records), problems, notes


# --- verify_evidence: this app's rows against the audit chain ---------------------------------------


def _compare(where: str, expected: dict, current: dict, times: tuple[str, ...] = ()) -> list[str]:
    """One line per recorded field whose value differs now (times compared as instants)."""
    lines = []
    for key in sorted(expected):
        if key not in current:
            continue
        recorded, now = expected[key], current[key]
        same = same_instant(recorded, now) if key in times else recorded == now
        if not same:
            shown = now.isoformat() if isinstance(now, datetime) else now
            lines.append(
                f"{where}: changed without an audit record: {key} {recorded!r} in the audit chain, {shown!r} now"
            )
    return lines


def chain_rows(owner_id: int, events) -> list[str]:
    """Complaints, replies, notices and dossiers, compared with what the chain last recorded of
    each (as evidence.integrity does for cases, incidents and files). Deleting a case takes its
    rows with it: that link explains their absence."""
    complaints: dict[int, dict] = {}
    replies: dict[int, dict] = {}
    notices: dict[int, dict] = {}
    dossiers: dict[int, dict] = {}
    deleted_cases: set[int] = set()
    for event in events:
        payload, action = event.payload, event.action
        pk = int(event.subject_id) if str(event.subject_id).isdigit() else None
        if pk is None:
            continue
        if action == "complaint.log":
            complaints[pk] = {k: payload.get(k) for k in payload}
        elif action == "complaint.update":
            complaints.setdefault(pk, {}).update(payload.get("after", {}))
        elif action == "complaint.reply":
            replies[pk] = dict(payload)
        elif action == "notice.create":
            notices[pk] = {k: payload.get(k) for k in ("case", "seal", "pdf_sha256")}
        elif action == "notice.sent":
            notices.setdefault(pk, {}).update(
                sent_at=payload.get("sent_at"), sent_channel=payload.get("channel")
            )
        elif action == "dossier.order":
            dossiers[pk] = {k: payload[k] for k in ("case", "addressee", "language") if k in payload}
        elif action == "dossier.issue":
            dossiers.setdefault(pk, {}).update(
                issued=True, **{k: payload[k] for k in ("number", "seal", "pdf_sha256") if k in payload}
            )
        elif action == "case.delete":
            deleted_cases.add(pk)

    problems: list[str] = []

    def gone(kind: str, recorded: dict[int, dict], seen: set[int], case_of) -> None:
        for pk, expected in sorted(recorded.items()):
            if pk not in seen and case_of(expected) not in deleted_cases:
                problems.append(f"{kind} id {pk}: in the audit chain but missing from the database")

    seen: set[int] = set()
    for row in Complaint.objects.filter(owner_id=owner_id).select_related("dossier").order_by("pk"):
        seen.add(row.pk)
        where = f"complaint id {row.pk} (case {row.case_id}, sent {row.sent_at:%Y-%m-%d})"
        if row.pk not in complaints:
            problems.append(f"{where}: not in the audit chain (created behind the services' back)")
            continue
        current = {
            "case": row.case_id,
            "addressee": row.addressee,
            "addressee_name": row.addressee_name,
            "channel": row.channel,
            "sent_at": row.sent_at,
            "ticket_number": row.ticket_number,
            "deadline": row.deadline,
            "closed": bool(row.closed_at),
            "dossier": row.dossier.number if row.dossier else None,
        }
        problems += _compare(where, complaints[row.pk], current, times=("sent_at",))
    gone("complaint", complaints, seen, lambda expected: expected.get("case"))

    seen = set()
    replies_of = ComplaintReply.objects.filter(complaint__owner_id=owner_id).select_related("complaint")
    for row in replies_of.order_by("pk"):
        seen.add(row.pk)
        where = f"reply id {row.pk} (complaint {row.complaint_id})"
        if row.pk not in replies:
            problems.append(f"{where}: not in the audit chain (created behind the services' back)")
            continue
        current = {
            "complaint": row.complaint_id,
            "received_at": row.received_at,
            "text": row.text,
            "outcome": row.outcome,
        }
        problems += _compare(where, replies[row.pk], current, times=("received_at",))
    gone("reply", replies, seen, lambda expected: complaints.get(expected.get("complaint"), {}).get("case"))

    seen = set()
    for row in StopNotice.objects.filter(owner_id=owner_id).order_by("pk"):
        seen.add(row.pk)
        where = f"notice id {row.pk} ({row.number})"
        if row.pk not in notices:
            problems.append(f"{where}: not in the audit chain (created behind the services' back)")
            continue
        expected = {"sent_at": None, "sent_channel": None, **notices[row.pk]}
        current = {
            "case": row.case_id,
            "seal": row.seal,
            "pdf_sha256": row.pdf_sha256,
            "sent_at": row.sent_at,
            "sent_channel": row.sent_channel or None,
        }
        problems += _compare(where, expected, current, times=("sent_at",))
    gone("notice", notices, seen, lambda expected: expected.get("case"))

    seen = set()
    for row in Dossier.objects.filter(owner_id=owner_id).order_by("pk"):
        seen.add(row.pk)
        where = f"dossier id {row.pk} ({row.number})"
        if row.pk not in dossiers:
            problems.append(f"{where}: not in the audit chain (created behind the services' back)")
            continue
        expected = dossiers[row.pk]
        issued = row.status == DossierStatus.READY
        if issued and not expected.get("issued"):
            problems.append(f"{where}: issued without an audit record (seal {row.seal})")
            continue
        if expected.get("issued") and not issued:
            problems.append(f"{where}: issued in the audit chain, but now {row.status}")
            continue
        current = {"case": row.case_id, "addressee": row.addressee, "language": row.language}
        if issued:
            current.update(number=row.number, seal=row.seal, pdf_sha256=row.pdf_sha256)
        problems += _compare(where, {k: v for k, v in expected.items() if k != "issued"}, current)
    gone("dossier", dossiers, seen, lambda expected: expected.get("case"))
    return problems


def register() -> None:
    register_row_check(chain_rows)
    register_store_check(forgotten_seals)
