"""The dossier's canonical manifest: every fact the dossier states, as canonical JSON.

seal = sha256(manifest bytes). Building the manifest twice from the same data gives the same bytes:
keys are sorted, times are UTC ISO strings, lists have a fixed order, and the audit-chain head and
creation time are those recorded when the dossier was ordered.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC

from django.db.models import Q

from accounts.services import profile_for
from evidence.hashing import sha256_of
from evidence.models import EvidenceFile, Incident, IncidentKind
from evidence.rules import RECORD_FIELDS, RulePackError, evaluate, get_pack, records_from_rows
from evidence.selectors import present
from evidence.storage import open_evidence
from ledger.models import canonical_json

from .letters import addressee as addressee_details
from .letters import request_text

# /2: the statistics the dossier prints are part of the sealed manifest.
FORMAT = "collection-evidence-dossier/2"
THIRD_PARTIES = {"family", "employer", "colleague", "friend", "contacts_list"}
ABUSE_FLAGS = {"threat", "insult", "impersonation", "fake_legal_document", "violence"}


class EvidenceChanged(Exception):
    """A stored file no longer hashes to what was recorded when it arrived."""


def mask_id_number(value: str) -> str:
    value = (value or "").strip()
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def _utc(moment) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def included_incidents(dossier):
    return Incident.objects.filter(case=dossier.case, pk__in=dossier.incident_ids).order_by(
        "occurred_at", "id"
    )


def rehash(evidence: EvidenceFile) -> str:
    with open_evidence(evidence) as handle:
        return sha256_of(handle)[0]


def _connected(incident) -> bool:
    return incident.answered if incident.answered is not None else bool(incident.duration_seconds)


def statistics(incidents, findings: dict[int, list[dict]], pack, tz) -> dict:
    """Every count the dossier prints, computed once here so that it is sealed with the facts.

    "Night" is the pack's own quiet-hours rule: the count of included incidents it found, so the
    summary never disagrees with the rule the dossier cites.
    """
    quiet = next((rule for rule in pack.rules if rule.type == "quiet_hours"), None) if pack else None
    quiet_rules = {rule.id for rule in pack.rules if rule.type == "quiet_hours"} if pack else set()

    def at_night(incident) -> bool:
        return any(f["rule"] in quiet_rules for f in findings.get(incident.pk, []))

    calls = [i for i in incidents if i.kind == IncidentKind.CALL]
    per_day = Counter(i.occurred_at.astimezone(tz).date().isoformat() for i in calls)
    per_hour = Counter(i.occurred_at.astimezone(tz).hour for i in calls)
    busiest = max(sorted(per_day.items()), key=lambda item: item[1], default=(None, 0))
    window = None
    if quiet is not None:
        start, end = quiet.predicate["from"], quiet.predicate["until"]
        # Hours of the day that the window touches (for marking the by-hour chart).
        if start > end:  # wraps past midnight
            hours = [h for h in range(24) if h >= start.hour or h < end.hour]
        else:
            hours = [h for h in range(24) if start.hour <= h < end.hour]
        window = {
            "rule": quiet.id,
            "from": start.strftime("%H:%M"),
            "until": end.strftime("%H:%M"),
            "hours": hours,
        }
    return {
        "total": len(incidents),
        "calls": len(calls),
        "connected": sum(1 for i in calls if _connected(i)),
        "night": sum(1 for i in incidents if at_night(i)) if window else None,
        "night_calls": sum(1 for i in calls if at_night(i)) if window else None,
        "quiet_hours": window,
        "sms": sum(1 for i in incidents if i.kind in (IncidentKind.SMS, IncidentKind.APP_MESSAGE)),
        "third": sum(
            1 for i in incidents if i.kind == IncidentKind.THIRD_PARTY or THIRD_PARTIES & set(i.contacted)
        ),
        "visits": sum(1 for i in incidents if i.kind == IncidentKind.VISIT),
        "threats": sum(1 for i in incidents if ABUSE_FLAGS & set(i.flags)),
        "max_day": busiest[1],
        "max_date": busiest[0],
        "calls_per_day": dict(sorted(per_day.items())),
        "calls_per_hour": [per_hour.get(hour, 0) for hour in range(24)],
    }


def build_manifest(dossier, *, progress=None) -> tuple[bytes, dict]:
    """The manifest's canonical bytes and the same data as a dict (for rendering)."""
    language = dossier.language
    case = dossier.case
    profile = profile_for(dossier.owner)
    incidents = list(included_incidents(dossier))
    # The files of the included incidents, and the phone exports that imported incidents came from.
    source_ids = {i.source_evidence_id for i in incidents if i.source_evidence_id}
    evidence = list(
        EvidenceFile.objects.filter(Q(incident__in=incidents) | Q(pk__in=source_ids)).order_by(
            "incident__occurred_at", "incident_id", "received_at", "id"
        )
    )
    files = []
    for index, item in enumerate(evidence, start=1):
        # The bytes are read again now: a dossier never vouches for a file that changed.
        actual = rehash(item)
        if actual != item.sha256:
            raise EvidenceChanged(
                f"evidence id {item.pk} '{item.original_name}': recorded sha256 {item.sha256}, "
                f"stored file now hashes to {actual}"
            )
        files.append(
            {
                "ref": f"E{index}",
                "id": item.pk,
                "incident": item.incident_id,
                "original_name": item.original_name,
                "content_type": item.content_type,
                "size": item.size,
                "sha256": item.sha256,
                "received_at": _utc(item.received_at),
                "provenance": item.provenance,
                "duration_seconds": item.metadata.get("duration_seconds"),
                "bundle_path": f"evidence/E{index}-{item.original_name}",
            }
        )
        if progress and index % 10 == 0:
            progress(5 + int(10 * index / max(len(evidence), 1)), "hashing evidence")
    ref_of = {entry["id"]: entry["ref"] for entry in files}
    refs_by_incident: dict[int, list[str]] = {}
    for entry in files:
        refs_by_incident.setdefault(entry["incident"], []).append(entry["ref"])

    try:
        pack = get_pack(dossier.rule_pack)
    except RulePackError:
        pack = None
    # The dossier's own pack is evaluated over the whole case (windows look at neighbours that may
    # be left out of the dossier), then read for the included incidents.
    findings = {}
    if pack:
        rows = case.incidents.order_by("occurred_at", "id").values_list(*RECORD_FIELDS)
        findings = evaluate(records_from_rows(rows), pack, profile.tz)
    violations: dict[str, dict] = {}
    incident_entries = []
    for number, incident in enumerate(incidents, start=1):
        shown = present(findings.get(incident.pk, []), pack, language) if pack else []
        for view in shown:
            group = violations.setdefault(
                view["rule"],
                {
                    "rule": view["rule"],
                    "title": view["title"],
                    "citation": view["citation"],
                    "confidence": view["confidence"],
                    "incidents": [],
                },
            )
            group["incidents"].append({"incident": incident.pk, "explanation": view["explanation"]})
        incident_entries.append(
            {
                "ref": f"#{number}",
                "id": incident.pk,
                "kind": incident.kind,
                "occurred_at": _utc(incident.occurred_at),
                "duration_seconds": incident.duration_seconds,
                "answered": incident.answered,
                "counterpart_number": incident.counterpart_number,
                "counterpart_name": incident.counterpart_name,
                "agency": incident.agency,
                "contacted": list(incident.contacted),
                "flags": list(incident.flags),
                "visitors": incident.visitors,
                "description": incident.description,
                "source": incident.source,
                "logged_at": _utc(incident.logged_at),
                "amended_at": _utc(incident.amended_at),
                "evidence": refs_by_incident.get(incident.pk, []),
                "source_evidence": ref_of.get(incident.source_evidence_id),
                "source_ref": incident.source_ref,
                "violations": [v["rule"] for v in shown],
            }
        )
    ordered_rules = [rule.id for rule in pack.rules] if pack else []
    manifest = {
        "format": FORMAT,
        "dossier": {
            "number": dossier.number,
            "created_at": _utc(dossier.created_at),
            "language": language,
            "period": {
                "from": dossier.date_from.isoformat() if dossier.date_from else None,
                "to": dossier.date_to.isoformat() if dossier.date_to else None,
            },
            "time_zone": profile.time_zone,
            "rule_pack": dossier.rule_pack,
            "reissue_of": dossier.reissue_of.number if dossier.reissue_of else None,
        },
        "complainant": {
            "name": profile.display_name or dossier.owner.get_username(),
            "id_number": mask_id_number(profile.id_number),
            "phone": profile.phone,
        },
        "addressee": addressee_details(dossier.addressee, language, dossier.addressee_name),
        "respondent": {
            "lender_name": case.lender_name,
            "creditor": case.creditor,
            "account_hint": case.account_hint,
            "collectors": [line.strip() for line in case.collectors.splitlines() if line.strip()],
            "agencies_seen": sorted({i.agency for i in incidents if i.agency}),
            "numbers_seen": sorted({i.counterpart_number for i in incidents if i.counterpart_number}),
        },
        "requests": [{"code": code, "text": request_text(code, language)} for code in dossier.requests],
        "request_text": dossier.request_text,
        "incidents": incident_entries,
        "evidence": files,
        "violations": sorted(
            violations.values(),
            key=lambda v: (
                ordered_rules.index(v["rule"]) if v["rule"] in ordered_rules else len(ordered_rules)
            ),
        ),
        "rules_evaluated": pack is not None,
        "statistics": statistics(incidents, findings, pack, profile.tz),
        "audit_chain_head": {"seq": dossier.chain_seq, "hash": dossier.chain_hash},
    }
    return canonical_json(manifest), manifest
