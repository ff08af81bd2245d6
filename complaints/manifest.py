"""The dossier's canonical manifest: every fact the dossier states, as canonical JSON.

seal = sha256(manifest bytes). Building the manifest twice from the same data gives the same bytes:
keys are sorted, times are UTC ISO strings, lists have a fixed order, and the audit-chain head and
creation time are those recorded when the dossier was ordered.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import F, Q
from django.urls import reverse
from django.utils import translation

from accounts.services import profile_for
from evidence.hashing import sha256_of
from evidence.merging import number_key, source_list
from evidence.models import (
    OWN_DIRECTIONS,
    Creditor,
    EvidenceFile,
    Incident,
    IncidentKind,
    PhoneImport,
    TextStatus,
    own_entries_q,
)
from evidence.recognition import recognized_row
from evidence.rules import RECORD_FIELDS, RulePackError, evaluate, get_pack, records_from_rows
from evidence.selectors import present
from evidence.shares import case_agent
from evidence.storage import open_evidence
from ledger.models import canonical_json
from stamps.selectors import batch_subjects, evidence_stamps
from stamps.tsa import configured as tsa_configured

from .bundle_files import bundle_section
from .followup_letter import after_notice_contacts, follows_entries, notice_entry
from .letters import addressee as addressee_details
from .letters import full_id_allowed, request_text
from .regulators import local_office
from .statement import information_provided, statement_facts
from .summary import call_direction, summaries

# /2: the statistics the dossier prints are part of the sealed manifest.
# /3: the bundle's calls.csv neutralises cells a spreadsheet would run as formulas (summary.calls_csv).
# /4: "bundle" seals the SHA-256 of every non-evidence file of the bundle, verify.py among them.
FORMAT = "collection-evidence-dossier/4"
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
    # Incidents whose time is unknown come last, on every database.
    return Incident.objects.filter(case=dossier.case, pk__in=dossier.incident_ids).order_by(
        F("occurred_at").asc(nulls_last=True), "id"
    )


def rehash(evidence: EvidenceFile) -> str:
    with open_evidence(evidence) as handle:
        return sha256_of(handle)[0]


def recognized_entry(item: EvidenceFile) -> dict | None:
    row = recognized_row(item)
    if row is None or row.status != TextStatus.DONE or row.sha256 != item.sha256 or not row.text:
        return None
    return {"text": row.text, "engine": row.engine}


def verify_address() -> str:
    site = (getattr(settings, "SITE_URL", "") or "").rstrip("/")
    return f"{site}{reverse('verify')}" if site else reverse("verify")


def product_name(creditor: str, language: str) -> str:
    """The credit product in the dossier's language (花呗, 借呗, 京东白条…)."""
    with translation.override(language):
        return str(Creditor(creditor).label) if creditor in Creditor.values else creditor


def _within(view: dict, pack, areas: set[str]) -> dict:
    """A finding as shown, citing only the sources of the given areas."""
    keep = {
        key: [c for c in view[key] if pack.sources[c["id"]].area in areas]
        for key in ("binding_sources", "standard_sources")
    }
    return {**view, **keep}


# Sources that back an incident beyond the person's word.
BACKING_SOURCES = {"import", "recording", "screenshot", "carrier", "ocr"}


def _own(incident) -> bool:
    """Imported with the phone's log as dialled or sent by the person (evidence.models.OWN_DIRECTIONS)."""
    return (
        incident.source == "import" and call_direction({"source_ref": incident.source_ref}) in OWN_DIRECTIONS
    )


def numbers_seen(incidents) -> list[str]:
    """The numbers collectors used, each once however it was written (+86 170… and 170… are one
    number), and not the person's own calls and messages."""
    by_key: dict[str, str] = {}
    for incident in incidents:
        number = incident.counterpart_number
        if number and not _own(incident):
            key = number_key(number)
            # Keep the shortest spelling (the national form) of each number.
            if key not in by_key or len(number) < len(by_key[key]):
                by_key[key] = number
    return sorted(by_key.values())


def night_basis(whole: dict[str, dict], pack, areas: set[str] | None = None) -> dict | None:
    """The sources the quiet-hours findings cite (each in force on its incident's date), and whether
    any of them binds; only those of the recipient's areas (the police: none, the fact stays)."""
    if pack is None:
        return None
    cited = [
        source
        for rule in pack.rules
        if rule.type == "quiet_hours" and rule.id in whole
        for source in whole[rule.id]["sources"]
        if areas is None or pack.sources[source["id"]].area in areas
    ]
    if not cited:
        return None
    unique = list({c["id"]: c for c in cited}.values())
    return {
        "binding": any(pack.sources[c["id"]].binding for c in unique),
        "sources": [c["text"] for c in unique],
        # The quiet-hours rules: a letter counts, per source, the night calls on whose dates it was
        # in force (a 2026 guideline is not cited for the 2025 calls; issue 26 review).
        "rules": [rule.id for rule in pack.rules if rule.type == "quiet_hours" and rule.id in whole],
    }


def _connected(incident) -> bool:
    return incident.answered if incident.answered is not None else bool(incident.duration_seconds)


def statistics(
    incidents, findings: dict[int, list[dict]], pack, tz, with_files: set[int] | None = None
) -> dict:
    """Every count the dossier prints, computed once here so that it is sealed with the facts.

    "Night" is the pack's own quiet-hours rule: the count of included incidents it found, so the
    summary never disagrees with the rule the dossier cites.
    """
    quiet = next((rule for rule in pack.rules if rule.type == "quiet_hours"), None) if pack else None
    quiet_rules = {rule.id for rule in pack.rules if rule.type == "quiet_hours"} if pack else set()

    def at_night(incident) -> bool:
        return any(f["rule"] in quiet_rules for f in findings.get(incident.pk, []))

    # Counted: collection events whose time is known. Entries whose time could not be read, and the
    # calls the person dialled or messages they sent (imported with the phone's log), are listed in
    # the timeline but counted apart, never as collection calls.
    own = [i for i in incidents if _own(i)]
    unknown = [i for i in incidents if i.occurred_at is None and not _own(i)]
    listed = incidents
    incidents = [i for i in incidents if i.occurred_at is not None and not _own(i)]
    calls = [i for i in incidents if i.kind == IncidentKind.CALL]
    timed = calls
    per_day = Counter(i.occurred_at.astimezone(tz).date().isoformat() for i in timed)
    per_hour = Counter(i.occurred_at.astimezone(tz).hour for i in timed)
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
        # Listed but not counted above: entries whose time could not be read (in no count and no time
        # rule), and the person's own calls and messages.
        "time_unknown": len(unknown),
        "own": len(own),
        "listed": len(listed),
        "calls": len(calls),
        "connected": sum(1 for i in calls if _connected(i)),
        "night": sum(1 for i in incidents if at_night(i)) if window else None,
        "night_calls": sum(1 for i in calls if at_night(i)) if window else None,
        "quiet_hours": window,
        "sms": sum(1 for i in incidents if i.kind in (IncidentKind.SMS, IncidentKind.APP_MESSAGE)),
        # Contacts with third parties. Family present at a home visit is not a contact with a third
        # party (the visit is counted as a visit).
        "third": sum(
            1
            for i in incidents
            if i.kind == IncidentKind.THIRD_PARTY
            or (i.kind != IncidentKind.VISIT and THIRD_PARTIES & set(i.contacted))
        ),
        "visits": sum(1 for i in incidents if i.kind == IncidentKind.VISIT),
        "threats": sum(1 for i in incidents if ABUSE_FLAGS & set(i.flags)),
        "max_day": busiest[1],
        "max_date": busiest[0],
        "calls_per_day": dict(sorted(per_day.items())),
        "calls_per_hour": [per_hour.get(hour, 0) for hour in range(24)],
        # Backed by more than the person's word: the phone's own log, or a recording or screenshot.
        "backed": sum(
            1
            for i in incidents
            if i.source == "import"
            or i.pk in (with_files or set())
            or any(s.get("kind") in BACKING_SOURCES for s in i.sources or [])
        ),
    }


def _stamp_entry(stamp, sha256: str, subjects: dict[int, str]) -> dict | None:
    """A file's trusted timestamp as sealed: when, by which TSA (its URL, and the subject of the
    certificate that signed the token), in which batch (None: not yet). Manifests sealed before
    "tsa_subject" existed lack it; readers fall back to the URL's host."""
    if stamp is None or stamp.state != "stamped" or stamp.leaf.sha256 != sha256:
        return None
    entry = {"time": _utc(stamp.time), "tsa": stamp.tsa, "batch": stamp.batch}
    if stamp.leaf is not None and stamp.leaf.at_upgrade:
        entry["at_upgrade"] = True  # stamped when an upgrade backfilled it, not at arrival
    if subjects.get(stamp.batch):
        entry["tsa_subject"] = subjects[stamp.batch]
    return entry


def stamp_statistics(files: list[dict]) -> dict:
    """How many files a TSA stamped, and how many within TSA_PROMPT_MINUTES of their arrival
    (`configured`: whether this server stamps evidence at all)."""
    minutes = int(getattr(settings, "TSA_PROMPT_MINUTES", 5))
    stamped = [entry for entry in files if entry["timestamp"]]
    prompt = [
        entry
        for entry in stamped
        if (
            datetime.fromisoformat(entry["timestamp"]["time"]) - datetime.fromisoformat(entry["received_at"])
        ).total_seconds()
        <= minutes * 60
    ]
    return {
        "configured": tsa_configured(),
        "files": len(files),
        "stamped": len(stamped),
        "within_minutes": minutes,
        "stamped_within": len(prompt),
    }


def build_manifest(dossier, *, progress=None) -> tuple[bytes, dict]:
    """The manifest's canonical bytes and the same data as a dict (for rendering)."""
    language = dossier.language
    case = dossier.case
    profile = profile_for(dossier.owner)
    # The entry that only holds a phone export (made when the log was imported, at the import's
    # time) records the import, not a collection event: it is never counted or listed as one. The
    # export itself stays in the evidence index through the incidents imported from it.
    export_holders = set(
        PhoneImport.objects.filter(case=case, evidence__isnull=False).values_list(
            "evidence__incident_id", flat=True
        )
    )
    # Nor are the person's own follow-up entries (the proof a stop-contact notice was sent, the
    # screenshot of a reply): their files stay in the evidence index, the entries are not counted.
    own = set((case.rule_context or {}).get("own", []))
    incidents = [i for i in included_incidents(dossier) if i.pk not in export_holders and i.pk not in own]
    # The files of the included incidents, the phone exports that imported incidents came from, and
    # the files of the person's own follow-up entries.
    source_ids = {i.source_evidence_id for i in incidents if i.source_evidence_id}
    evidence = list(
        EvidenceFile.objects.filter(
            Q(incident__in=incidents) | Q(pk__in=source_ids) | Q(incident_id__in=own)
        ).order_by("incident__occurred_at", "incident_id", "received_at", "id")
    )
    files = []
    stamps = evidence_stamps([item.pk for item in evidence])
    subjects = batch_subjects(stamp.batch for stamp in stamps.values() if stamp.state == "stamped")
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
                "timestamp": _stamp_entry(stamps.get(item.pk), item.sha256, subjects),
                # Text read from an image (OCR), sealed as derived data: for reference only, the
                # image prevails. Null for other files and images not (yet) read.
                "recognized_text": recognized_entry(item),
                # A carrier's call-detail record imported as the source of calls: the strongest
                # record of a call (the dossier says so).
                **(
                    {"carrier_record": True}
                    if str(item.metadata.get("import_format", "")).startswith("carrier")
                    else {}
                ),
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
    lender = pack.lender_type(case.creditor) if pack else None
    recipient = addressee_details(dossier.addressee, language, dossier.addressee_name)
    # 12378 and 12363 complaints are handled where the lender is registered (regulators.toml): the
    # letter goes to that office, not to the headquarters.
    office = local_office(dossier.addressee, case.lender_name, case.creditor, language)
    if office:
        recipient = addressee_details("custom", language, office["name"]) | {
            key: recipient[key] for key in ("form", "code", "kind", "grounds", "id_number", "channel")
        }
        recipient["office"] = office
    station = getattr(dossier, "police_station", "")
    if recipient["form"] == "report" and station:
        # The police station the person reports to, when they named it.
        recipient = addressee_details("custom", language, station) | {
            key: recipient[key] for key in ("form", "code", "kind", "grounds", "id_number", "channel")
        }
    areas = None if recipient["grounds"] == "all" else set(recipient["grounds"])
    # The dossier's own pack is evaluated over the whole case (windows look at neighbours that may
    # be left out of the dossier), then read for the included incidents.
    findings = {}
    if pack:
        rows = (
            case.incidents.exclude(own_entries_q()).order_by("occurred_at", "id").values_list(*RECORD_FIELDS)
        )
        findings = evaluate(
            records_from_rows(rows),
            pack,
            profile.tz,
            pack.lender_type(case.creditor),
            context=case.rule_context,
        )
    violations: dict[str, dict] = {}
    # The whole record's findings, before the recipient's filter: every sentence about the record
    # (the contacts after a notice, the basis for the night count) is written from these, so a
    # letter that cites fewer grounds never states fewer facts.
    whole: dict[str, dict] = {}
    incident_entries = []
    for number, incident in enumerate(incidents, start=1):
        on = incident.occurred_at.astimezone(profile.tz).date() if incident.occurred_at else None
        shown = present(findings.get(incident.pk, []), pack, language, on=on, lender=lender) if pack else []
        for view in shown:
            entry = whole.setdefault(view["rule"], {"incidents": [], "sources": []})
            entry["incidents"].append({"incident": incident.pk, "explanation": view["explanation"]})
            for cited in view["binding_sources"] + view["standard_sources"]:
                if cited not in entry["sources"]:
                    entry["sources"].append(cited)
        if areas is not None:  # e.g. the police: only public-security and criminal grounds
            shown = [_within(view, pack, areas) for view in shown]
            shown = [view for view in shown if view["binding_sources"] or view["standard_sources"]]
        for view in shown:
            group = violations.setdefault(
                view["rule"],
                {
                    "rule": view["rule"],
                    "title": view["title"],
                    "binding_sources": [],
                    "standard_sources": [],
                    "incidents": [],
                },
            )
            # The sources cited for any of the rule's incidents (each judged by the text in force on
            # its own date), binding law apart from standards and self-regulation.
            for key in ("binding_sources", "standard_sources"):
                for cited in view[key]:
                    if cited not in group[key]:
                        group[key].append(cited)
            group["incidents"].append(
                # The sources in force on this incident's own date (a 2025 event never cites a
                # source issued in 2026): the letter prints them per incident, not per rule.
                {
                    "incident": incident.pk,
                    "explanation": view["explanation"],
                    "cites": [c["id"] for c in view["binding_sources"] + view["standard_sources"]],
                }
                # Cited with the date of the written notice it came after.
                | ({"after_notice": view["notice_date"]} if view.get("after_notice") else {})
            )
        incident_entries.append(
            {
                # The incident's evidence number (E-0007), kept for the life of the case, so two
                # dossiers call one event by one number; rows without one keep the running number.
                "ref": incident.ref or f"#{number}",
                "id": incident.pk,
                "kind": incident.kind,
                "occurred_at": _utc(incident.occurred_at),
                "time_status": incident.time_status,
                "sources": source_list(incident),
                "duration_seconds": incident.duration_seconds,
                "answered": incident.answered,
                "counterpart_number": incident.counterpart_number,
                "counterpart_name": incident.counterpart_name,
                "agency": incident.agency,
                "contacted": list(incident.contacted),
                "flags": list(incident.flags),
                "visitors": incident.visitors,
                "description": incident.description,
                "quotes": list(incident.quotes or []),
                "source": incident.source,
                "direction": call_direction({"source_ref": incident.source_ref})
                if incident.source_ref
                else "",
                "logged_at": _utc(incident.logged_at),
                "amended_at": _utc(incident.amended_at),
                "evidence": refs_by_incident.get(incident.pk, []),
                "source_evidence": ref_of.get(incident.source_evidence_id),
                "source_ref": incident.source_ref,
                "violations": [v["rule"] for v in shown],
            }
            # Entered by a helper of a shared case (not the owner): said so in the row's source.
            | (
                {"entered_by": "helper"}
                if incident.entered_by_id and incident.entered_by_id != case.owner_id
                else {}
            )
            # Where a visit happened (third wave): only when stated, so earlier manifests keep
            # their shape. The location is the phone's {"lat", "lon", "accuracy_m"}.
            | ({"place": incident.place} if incident.place else {})
            | ({"location": incident.location} if incident.location else {})
        )
    quiet_rules = {rule.id for rule in pack.rules if rule.type == "quiet_hours"} if pack else set()
    night_ids = {
        entry["id"]
        for entry in incident_entries
        if any(f["rule"] in quiet_rules for f in findings.get(entry["id"], []))
    }
    separator = "；" if language == "zh-hans" else "; "
    for group in violations.values():
        cited = group["binding_sources"] + group["standard_sources"]
        group["binding"] = bool(group["binding_sources"])
        group["citation"] = separator.join(c["text"] for c in cited)
        group["confidence"] = "V" if any(c["mark"] == "V" for c in cited) else "S"
        colon = "：" if language == "zh-hans" else ": "
        group["wording"] = pack.wording[language] if group["binding"] else pack.wording_standards[language]
        group["heading"] = f"{group['wording']}{colon}{group['title']}"
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
            # Where anyone can check this dossier (the QR code adds the seal).
            "verify_url": verify_address(),
            "rule_pack": dossier.rule_pack,
            "reissue_of": dossier.reissue_of.number if dossier.reissue_of else None,
            # The case is on legal hold (e.g. a lawsuit pending): nothing in it can be deleted.
            "on_hold": {"since": _utc(case.hold_at), "reason": case.hold_reason} if case.hold_at else None,
        },
        "complainant": {
            "name": profile.display_name or dossier.owner.get_username(),
            # Masked unless this recipient needs it (police, a written regulator complaint) and the
            # complainant ticked it.
            "id_number": profile.id_number
            if (getattr(dossier, "full_id_number", False) and full_id_allowed(dossier.addressee))
            else mask_id_number(profile.id_number),
            "phone": profile.phone,
        }
        # Where the person lives and takes written replies: only when given, so manifests sealed
        # before it was asked keep their shape.
        | ({"address": dossier.contact_address} if getattr(dossier, "contact_address", "") else {}),
        # The helper the owner named as 代理人 on a shared case: only when named, so manifests sealed
        # before sharing existed keep their shape.
        **({"agent": {"name": agent[0], "phone": agent[1]}} if (agent := case_agent(case)) else {}),
        "addressee": recipient,
        "letter": {
            "kind": recipient["kind"],
            # The earlier complaint this one follows (date, channel, ticket number, reply), when
            # escalating to a regulator.
            "earlier_complaint": getattr(dossier, "earlier_complaint", None) or None,
            # The complaints logged in this app that it follows, the written notice sent before it,
            # and the contacts after that notice which broke it (complaints/followup_letter.py).
            "follows": follows_entries(dossier=dossier, tz=profile.tz, language=language),
            "notice": notice_entry(dossier=dossier, tz=profile.tz, language=language),
            "after_notice": after_notice_contacts(whole, incident_entries, pack),
            # What the night-time count rests on, from the whole record: binding law or only
            # standards and self-regulation (then the letter never says "forbidden").
            "night_basis": night_basis(whole, pack, areas),
        }
        # A police report opens with a first-person statement: its most serious events, places,
        # the names collectors gave, the harm (complaints/statement.py).
        | (
            {
                "statement": statement_facts(
                    incident_entries,
                    night=night_ids,
                    station=station,
                    harm=getattr(dossier, "harm", ""),
                    after={a["incident"] for a in after_notice_contacts(whole, incident_entries, pack)},
                )
            }
            if recipient["form"] == "report"
            else {}
        )
        # 12363 is competent for personal financial information: the events in which the debt
        # went to others are what its letter reports.
        | (
            {"information_provided": information_provided(incident_entries)}
            if dossier.addressee == "pboc"
            else {}
        ),
        "respondent": {
            "lender_name": case.lender_name,
            "lender_type": lender,
            "creditor": case.creditor,
            "product": product_name(case.creditor, language),
            "account_hint": case.account_hint,
            "collectors": [line.strip() for line in case.collectors.splitlines() if line.strip()],
            "agencies_seen": sorted({i.agency for i in incidents if i.agency}),
            "numbers_seen": numbers_seen(incidents),
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
        "statistics": {
            **statistics(incidents, findings, pack, profile.tz, set(refs_by_incident)),
            "timestamps": stamp_statistics(files),
        },
        "audit_chain_head": {"seq": dossier.chain_seq, "hash": dossier.chain_hash},
    }
    manifest["summary"] = summaries(manifest)
    # Every other file of the bundle, sealed (bundle_files.py): a stranger's verify.py checks them.
    manifest["bundle"] = bundle_section(manifest)
    return canonical_json(manifest), manifest
