"""One real call, one row: telling when a new entry is the same real event as an incident already
logged, and joining it there instead of counting it twice.

A call reaches the record in several ways: typed by hand, filed from its recording, imported from the
phone's call log (from more than one export, written differently). Counts and rules count events, so
whichever arrives first, a later entry for the same event joins the existing incident: the incident
gains a source (`sources`), missing facts are filled from the phone's own log, and the join is an
audit event (`incident.merge`).

When two entries are the same event:
- same kind (a call with a call, a message with a message);
- the same counterpart: the numbers' last eight digits agree, or the existing incident has no number
  (a recording named without one);
- overlapping time: an imported entry at the same second as another imported one (the same call in
  two exports that write the number differently); a call whose start lies within the other's span
  (start to start + duration) with MATCH_SLACK either side (phone clocks and the moment recording
  starts differ by seconds, and a time typed by hand has no seconds); a message within MATCH_SLACK.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from ledger.chain import audit_append

from .metadata import normalise_number
from .models import Case, Incident, IncidentKind, Source

MATCH_SLACK = timedelta(seconds=90)
SOURCE_KINDS = ("manual", "import", "recording", "screenshot", "ocr", "carrier")


@functools.lru_cache(maxsize=65536)
def number_key(number: str) -> str:
    """What two spellings of one counterpart share: the last eight digits of a phone number; a
    sender without digits (an e-mail address, a name) as written, in lower case."""
    number = (number or "").strip()
    if not number:
        return ""
    digits = normalise_number(number).lstrip("+")
    return digits[-8:] if digits else number.lower()


def source_label(kind: str) -> str:
    return str(
        {
            "manual": _("Entered by hand"),
            "import": _("Phone call log"),
            "recording": _("Recording"),
            "screenshot": _("Screenshot"),
            "ocr": _("Text read from a screenshot"),
            "carrier": _("Carrier's call record"),
        }.get(kind, kind)
    )


# How an imported entry's source is written ("calls-recent.xml #1 (incoming)", "shot.png #3"): kept
# as written in `source_ref` and `sources`; pages say it in words.
_ENTRY_REF = re.compile(r"^(?P<file>.*) #(?P<position>\d+)(?: \((?P<direction>[a-z_]+)\))?$")


def _direction_label(direction: str) -> str:
    return str(
        {
            "incoming": pgettext("call or message direction", "incoming call"),
            "outgoing": pgettext("call or message direction", "outgoing call"),
            "missed": pgettext("call or message direction", "missed call"),
            "voicemail": pgettext("call or message direction", "voicemail"),
            "rejected": pgettext("call or message direction", "rejected call"),
            "blocked": pgettext("call or message direction", "blocked call"),
            "answered_elsewhere": pgettext("call or message direction", "answered on another device"),
            "received": pgettext("call or message direction", "message received"),
            "sent": pgettext("call or message direction", "message sent"),
            "draft": pgettext("call or message direction", "draft"),
            "outbox": pgettext("call or message direction", "message sent"),
            "queued": pgettext("call or message direction", "message sent"),
            "failed": pgettext("call or message direction", "message not sent"),
        }.get(direction, "")
    )


def source_shown(source: dict) -> dict:
    """A source as a page shows it: "手机通话记录（来电）第1条" (Phone call log (incoming call) no. 1)
    for an entry of an imported file, with the file's name apart (`file`) for a title or a muted line;
    the kind's label and its reference as written otherwise."""
    label = source_label(source.get("kind", ""))
    ref = str(source.get("ref") or "")
    match = _ENTRY_REF.match(ref)
    if not match or source.get("kind") not in ("import", "carrier", "ocr"):
        return {**source, "label": label, "file": "", "ref": ref}
    direction = _direction_label(match["direction"] or "")
    if direction:
        label = _("%(source)s (%(direction)s)") % {"source": label, "direction": direction}
    text = _("%(source)s, entry %(position)s") % {"source": label, "position": match["position"]}
    return {**source, "label": text, "file": match["file"], "ref": ""}


def origin_of(incident: Incident) -> dict:
    if incident.source == Source.IMPORT:
        return {"kind": "import", "ref": incident.source_ref}
    return {"kind": "manual", "ref": ""}


def source_list(incident: Incident) -> list[dict]:
    """Every way this incident is known: stored once a second source joined (or when the first was
    a file), derived from how it was entered otherwise."""
    return list(incident.sources) if incident.sources else [origin_of(incident)]


@dataclass(slots=True)
class Candidate:
    start: datetime
    pk: int
    kind: str
    duration: int
    number: str  # number_key
    keyed: bool  # imported: holds an import key


class Matcher:
    """The incidents of a case an incoming batch of entries may join, held compactly.

    Incidents typed by hand or filed from files (no import key) are few and held whole, sorted by
    start. Imported incidents can number 100,000: they are looked up per batch, by the batch's time
    range, and only for entries whose own import key is new (find_imported).
    """

    def __init__(self, case: Case):
        self.case = case
        rows = (
            case.incidents.filter(
                import_key="", kind__in=(IncidentKind.CALL, IncidentKind.SMS), occurred_at__isnull=False
            )
            .order_by("occurred_at", "id")
            .values_list("occurred_at", "id", "kind", "duration_seconds", "counterpart_number")
        )
        self.loose = [
            Candidate(at, pk, kind, dur or 0, number_key(num), False) for at, pk, kind, dur, num in rows
        ]
        self.starts = [c.start for c in self.loose]
        # How far back a logged call may start and still span a new entry's start.
        self.lookback = MATCH_SLACK + timedelta(seconds=max((c.duration for c in self.loose), default=0))
        self.used: set[int] = set()

    def find_loose(self, *, kind: str, at: datetime, duration: int | None, number: str) -> int | None:
        """The closest unused hand-typed or file-filed incident that is the same event."""
        if not self.loose:
            return None
        span = timedelta(seconds=duration or 0) if kind == IncidentKind.CALL else timedelta(0)
        low = bisect.bisect_left(self.starts, at - self.lookback)
        high = bisect.bisect_right(self.starts, at + span + MATCH_SLACK)
        if low >= high:
            return None
        wanted = number_key(number)
        best, best_gap = None, None
        for candidate in self.loose[low:high]:
            if candidate.pk in self.used or candidate.kind != kind:
                continue
            if candidate.number and wanted and candidate.number != wanted:
                continue
            if not candidate.number and not wanted:
                continue  # no counterpart on either side: too weak to join
            if not _overlap(candidate.start, candidate.duration, at, duration or 0, kind):
                continue
            gap = abs(candidate.start - at)
            if best_gap is None or gap < best_gap:
                best, best_gap = candidate.pk, gap
        return best

    def find_imported(self, entries: list[tuple[str, datetime, str]]) -> dict[int, int]:
        """For entries (kind, at, number) given by position: the imported incident at the same
        second with the same counterpart, if any. One query for the whole batch."""
        if not entries:
            return {}
        first = min(at for _k, at, _n in entries)
        last = max(at for _k, at, _n in entries)
        rows = self.case.incidents.filter(
            occurred_at__gte=first.replace(microsecond=0),
            occurred_at__lt=last.replace(microsecond=0) + timedelta(seconds=1),
        ).exclude(import_key="")
        index: dict[tuple, list] = {}
        for pk, kind, at, number in rows.values_list("id", "kind", "occurred_at", "counterpart_number"):
            index.setdefault((kind, int(at.timestamp())), []).append((number, pk))
        found = {}
        if not index:
            return found
        for position, (kind, at, number) in enumerate(entries):
            for other, pk in index.get((kind, int(at.timestamp())), ()):
                if pk not in self.used and number_key(other) == number_key(number):
                    found[position] = pk
                    self.used.add(pk)
                    break
        return found


def _overlap(start_a: datetime, duration_a: int, start_b: datetime, duration_b: int, kind: str) -> bool:
    if kind != IncidentKind.CALL:
        return abs(start_a - start_b) <= MATCH_SLACK
    end_a = start_a + timedelta(seconds=duration_a) + MATCH_SLACK
    end_b = start_b + timedelta(seconds=duration_b) + MATCH_SLACK
    return start_b - MATCH_SLACK <= start_a <= end_b or start_a - MATCH_SLACK <= start_b <= end_a


def same_call(*, case: Case, kind: str, at: datetime, duration: int | None, number: str, strict: bool):
    """An incident of the case that is the same event as a new entry, or None.

    strict (an entry sent by automation): the number must be known on both sides and the new start
    must lie within the existing call (or at the same second) — two missed calls a minute apart are
    two calls. Otherwise (a person typing, asked before saving): the wider match above.
    """
    if kind not in (IncidentKind.CALL, IncidentKind.SMS) or at is None:
        return None
    wanted = number_key(number)
    if strict and not wanted:
        return None
    nearby = case.incidents.filter(
        kind=kind, occurred_at__gte=at - timedelta(hours=6), occurred_at__lte=at + MATCH_SLACK
    ).order_by("occurred_at", "id")
    for incident in nearby:
        have = number_key(incident.counterpart_number)
        if wanted != have and (strict or (wanted and have)):
            continue
        if not have and not wanted:
            continue
        if strict:
            end = incident.occurred_at + timedelta(seconds=incident.duration_seconds or 0)
            if abs(incident.occurred_at - at) < timedelta(seconds=1) or (
                kind == IncidentKind.CALL and incident.occurred_at <= at <= end
            ):
                return incident
        elif _overlap(incident.occurred_at, incident.duration_seconds or 0, at, duration or 0, kind):
            return incident
    return None


def typed_by_person(incident: Incident) -> bool:
    """Whether the incident's stated facts are the person's own: typed in a form or sent by their
    automation (its first source is "manual"), or amended by them since. A merge never changes
    those; a value another source gives is kept beside them as a conflict (third wave)."""
    if incident.amended_at is not None:
        return True
    return incident.source != Source.IMPORT and source_list(incident)[0].get("kind") == "manual"


# Stated fields a later source may contradict (the time, how long, whether it was answered).
CONFLICT_FIELDS = ("occurred_at", "duration_seconds", "answered")


def conflict_value(field: str, value):
    """A value as a conflict records it (JSON): times in UTC ISO 8601."""
    if field == "occurred_at" and value is not None:
        return value.astimezone(UTC).isoformat()
    return value


def _times_disagree(typed: datetime, other: datetime) -> bool:
    """A time typed to the minute (no seconds) agrees with any second of that minute."""
    if typed.second == 0 and typed.microsecond == 0:
        return not (typed <= other < typed + timedelta(minutes=1))
    return abs(typed - other) >= timedelta(seconds=1)


def _disagree(incident: Incident, field: str, value, source: dict) -> list[dict]:
    """Record another source's value for a typed field; returns the conflicts it added."""
    entry = {
        "field": field,
        "value": conflict_value(field, value),
        "source": source["kind"],
        "ref": source["ref"],
    }
    conflicts = list(incident.conflicts or [])
    if any(c.get("field") == field and c.get("value") == entry["value"] for c in conflicts):
        return []
    incident.conflicts = [*conflicts, entry]
    return [entry]


def _apply(incident: Incident, source: dict, facts: dict | None, exact_time, import_key: str) -> dict:
    """Join one entry's source and facts to the incident (not saved); the audit record of it.

    What the person typed is never changed: a different value from the joining source is kept as a
    conflict (`Incident.conflicts`) for the person to choose (services.incident_update)."""
    before = incident.snapshot()
    typed = typed_by_person(incident)
    added: list[dict] = []
    for name, value in (facts or {}).items():
        if name not in FILLABLE or value in (None, ""):
            continue
        current = getattr(incident, name)
        if current in (None, ""):
            setattr(incident, name, value)
        elif typed and name in CONFLICT_FIELDS and current != value:
            added += _disagree(incident, name, value, source)
    if exact_time is not None:
        if not typed or incident.occurred_at is None:
            incident.occurred_at = exact_time
        elif _times_disagree(incident.occurred_at, exact_time):
            added += _disagree(incident, "occurred_at", exact_time, source)
    sources = source_list(incident)
    if source not in sources:
        sources.append(source)
    incident.sources = sources
    if import_key and not incident.import_key:
        incident.import_key = import_key
    after = incident.snapshot()
    # Not an amendment by the person: the join is its own audit record (incident.merge), and pages
    # and dossiers show the sources instead of "amended".
    changed = sorted(k for k in after if after.get(k) != before.get(k))
    record = {
        "incident": incident.pk,
        "source": source,
        "before": {k: before.get(k) for k in changed},
        "after": {k: after.get(k) for k in changed},
        "snapshot": after,
    }
    if added:  # only when a source disagreed, so earlier merge records keep their shape
        record["conflicts"] = added
    return record


def _clean_source(source: dict) -> dict:
    if source.get("kind") not in SOURCE_KINDS:
        raise ValueError(f"unknown source kind {source.get('kind')!r}")
    return {"kind": source["kind"], "ref": str(source.get("ref", ""))[:200]}


JOIN_FIELDS = ["sources", "duration_seconds", "answered", "counterpart_number", "counterpart_name"]
JOIN_FIELDS += ["occurred_at", "import_key", "amended_at", "source_evidence", "conflicts"]


def _update_joined(incidents: list[Incident]) -> None:
    """Write the joined columns of many incidents with one prepared UPDATE run many times (Django's
    bulk_update builds a CASE per column and row: seconds for a thousand rows)."""
    fields = [Incident._meta.get_field(name) for name in JOIN_FIELDS]
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(Incident._meta.db_table)} SET "
        + ", ".join(f"{quote(f.column)} = %s" for f in fields)
        + f" WHERE {quote('id')} = %s"
    )
    rows = [
        [*(f.get_db_prep_save(getattr(incident, f.attname), connection) for f in fields), incident.pk]
        for incident in incidents
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


@transaction.atomic
def incidents_join_imported(
    *, case: Case, joins: list[tuple[int, dict, dict, datetime | None, str]], export_id: int | None = None
) -> None:
    """Many entries of one import joining incidents already logged: the rows updated in one pass and
    one audit link (import.merge) holding each incident's record, as incident_join would write it."""
    if not joins:
        return
    incidents = Incident.objects.select_related("case").in_bulk([pk for pk, *_rest in joins])
    records = []
    for pk, source, facts, exact_time, import_key in joins:
        incident = incidents[pk]
        records.append(_apply(incident, _clean_source(source), facts, exact_time, import_key))
        # The kept phone export now backs this incident too: a dossier lists it in the evidence.
        if export_id and not incident.source_evidence_id:
            incident.source_evidence_id = export_id
    _update_joined(list(incidents.values()))
    audit_append(
        owner=case.owner, action="import.merge", subject=case, payload={"case": case.pk, "merged": records}
    )


# What a later entry may add to an incident: facts the first entry lacked.
FILLABLE = ("duration_seconds", "answered", "counterpart_number", "counterpart_name")


@transaction.atomic
def incident_join(
    *,
    incident: Incident,
    source: dict,
    facts: dict | None = None,
    exact_time: datetime | None = None,
    import_key: str = "",
) -> Incident:
    """A later entry is the same real event as `incident`: record its source, fill what the incident
    lacked from it, and (from the phone's own call log) take its exact start. Audited as
    incident.merge with the whole statement after it."""
    record = _apply(incident, _clean_source(source), facts, exact_time, import_key)
    incident.save(update_fields=JOIN_FIELDS)
    audit_append(
        owner=incident.case.owner,
        action="incident.merge",
        subject=incident,
        payload={"case": incident.case_id, **{k: v for k, v in record.items() if k != "incident"}},
    )
    return incident
