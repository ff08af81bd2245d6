"""The violation finder: rule packs are data (one TOML file per jurisdiction), the engine is generic.

A pack names rules; each rule has a predicate type with parameters. The engine knows the predicate
types (quiet hours, a count in a window, a count after an event, flags on the incident, home-visit
conditions, contacts after a written notice) and nothing about any particular rule, so adding a rule or a jurisdiction is adding data.

Each rule cites sources defined once in the pack. A source says what it is (a law, regulation or
judicial interpretation binds; a recommended standard or self-regulation does not), the dates it is
in force, the kinds of lender it governs and how sure we are of its text (V: seen verbatim, kept in
the pack; S: secondary reports only, cited by name without article numbers). An incident is judged
only by the sources in force on its local date that govern the case's lender; a finding with no such
source is not made.

Findings are stored on each incident in a language-neutral form ({"rule", "params"}); titles,
citations and explanations are rendered in the reader's language from the pack when shown.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from django.conf import settings

from accounts.models import language_codes

from .models import Contacted, Flag, IncidentKind

CONFIDENCE = {"V", "S"}
BINDING_TYPES = {"law", "regulation", "judicial"}
SOURCE_TYPES = BINDING_TYPES | {"standard", "self_regulation"}
ALL_LENDERS = "all"
# An S-marked source is cited by name only: no article, section or paragraph numbers.
_ARTICLE_NUMBER = re.compile(
    r"第[一二三四五六七八九十百千零〇\d]+条|§|\bArt(icle)?s?\.?\s*\d|\b\d+\s*U\.S\.C\.|"
    r"\bCFR\s+\d+\.\d+|\b\d+\.\d+\("
)


class RulePackError(ValueError):
    """A pack file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True, slots=True)
class Record:
    """The facts of one incident the engine needs, without the ORM's weight."""

    id: int
    kind: str
    at: datetime
    answered: bool | None
    duration: int | None
    contacted: tuple[str, ...]
    flags: tuple[str, ...]
    visitors: int | None
    number: str

    @property
    def connected(self) -> bool:
        if self.answered is not None:
            return self.answered
        return bool(self.duration)


RECORD_FIELDS = (
    "id",
    "kind",
    "occurred_at",
    "answered",
    "duration_seconds",
    "contacted",
    "flags",
    "visitors",
    "counterpart_number",
)


def records_from_rows(rows: Iterable[tuple]) -> list[Record]:
    return [
        Record(
            pk,
            kind,
            at,
            answered,
            duration,
            tuple(contacted or ()),
            tuple(flags or ()),
            visitors,
            number or "",
        )
        for pk, kind, at, answered, duration, contacted, flags, visitors, number in rows
    ]


@dataclass(frozen=True)
class Source:
    """One citable text: a law's article, a regulation, a standard, a guideline."""

    id: str
    type: str
    mark: str
    in_force_from: date
    in_force_until: date | None
    lenders: frozenset[str]
    text: dict[str, str]
    verbatim: str = ""
    # What body of law it belongs to ("public_security", "criminal", "civil", …): a letter to the
    # police cites only public-security and criminal grounds.
    area: str = ""

    @property
    def binding(self) -> bool:
        return self.type in BINDING_TYPES

    def applies(self, on: date | None, lender: str | None) -> bool:
        if on is not None and (on < self.in_force_from or (self.in_force_until and on > self.in_force_until)):
            return False
        return lender is None or ALL_LENDERS in self.lenders or lender in self.lenders


@dataclass(frozen=True)
class Rule:
    id: str
    title: dict[str, str]
    explanation: dict[str, str]
    sources: tuple[Source, ...]
    predicate: dict

    @property
    def type(self) -> str:
        return self.predicate["type"]

    def sources_for(self, on: date | None = None, lender: str | None = None) -> list[Source]:
        """The sources in force on the incident's date that govern the case's lender."""
        return [source for source in self.sources if source.applies(on, lender)]

    def citation_text(self, language: str, on: date | None = None, lender: str | None = None) -> str:
        separator = "；" if language == "zh-hans" else "; "
        return separator.join(s.text[language] for s in self.sources_for(on, lender))

    @property
    def confidence(self) -> str:
        return "V" if any(s.mark == "V" for s in self.sources) else "S"


@dataclass(frozen=True)
class Pack:
    id: str
    name: dict[str, str]
    wording: dict[str, str]
    rules: tuple[Rule, ...]
    source: str = ""
    # What a letter says of a rule that only standards or self-regulation support.
    wording_standards: dict[str, str] = field(default_factory=dict)
    # A case's creditor (花呗, bank card, …) → the kind of lender sources are written for.
    lender_types: dict[str, str] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict, compare=False)
    by_id: dict[str, Rule] = field(default_factory=dict, compare=False)
    # Wording that suggests a flag in text read from a screenshot: {flag: {language: (phrase, …)}}
    # (the pack's [keywords] tables; evidence/proposals.py). Suggestions only, never findings.
    keywords: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict, compare=False)

    def lender_type(self, creditor: str) -> str | None:
        return self.lender_types.get(creditor)


# --- loading and validation ---------------------------------------------------------------------


def _parse_clock(value, where: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise RulePackError(f"{where}: '{value}' is not a time of day like 22:00") from None


def _bilingual(value, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or any(
        not isinstance(value.get(lang), str) or not value.get(lang) for lang in language_codes()
    ):
        raise RulePackError(f"{where}: needs text in each language ({', '.join(language_codes())})")
    return {lang: value[lang] for lang in language_codes()}


def _choices(values, allowed: Iterable[str], where: str) -> list[str]:
    allowed = set(allowed)
    if not isinstance(values, list) or any(v not in allowed for v in values):
        raise RulePackError(f"{where}: must be a list drawn from {sorted(allowed)}")
    return list(values)


def _validate_predicate(raw: dict, where: str) -> dict:
    if not isinstance(raw, dict) or "type" not in raw:
        raise RulePackError(f"{where}: predicate needs a type")
    kind = raw["type"]
    predicate = dict(raw)
    if "kinds" in raw:
        predicate["kinds"] = _choices(raw["kinds"], IncidentKind.values, f"{where}.kinds")
    if kind == "quiet_hours":
        predicate["from"] = _parse_clock(raw.get("from"), f"{where}.from")
        predicate["until"] = _parse_clock(raw.get("until"), f"{where}.until")
        predicate["from_exclusive"] = bool(raw.get("from_exclusive", False))
    elif kind == "count_in_window":
        if raw.get("window") not in ("day", "rolling_days"):
            raise RulePackError(f"{where}.window: 'day' or 'rolling_days'")
        if raw["window"] == "rolling_days" and not (isinstance(raw.get("days"), int) and raw["days"] >= 1):
            raise RulePackError(f"{where}.days: a whole number of days >= 1")
        if raw.get("count", "all") not in ("all", "connected", "unanswered"):
            raise RulePackError(f"{where}.count: 'all', 'connected' or 'unanswered'")
        if raw.get("group_by", "none") not in ("none", "counterpart_number"):
            raise RulePackError(f"{where}.group_by: 'none' or 'counterpart_number'")
        if not (isinstance(raw.get("limit"), int) and raw["limit"] >= 0):
            raise RulePackError(f"{where}.limit: a whole number >= 0")
    elif kind == "count_after_event":
        if not (isinstance(raw.get("days"), int) and raw["days"] >= 1):
            raise RulePackError(f"{where}.days: a whole number of days >= 1")
        if raw.get("event", "connected") != "connected":
            raise RulePackError(f"{where}.event: only 'connected' (a conversation) is known")
    elif kind == "flags":
        predicate["any_kind"] = _choices(raw.get("any_kind", []), IncidentKind.values, f"{where}.any_kind")
        predicate["any_flag"] = _choices(raw.get("any_flag", []), Flag.values, f"{where}.any_flag")
        predicate["any_contacted"] = _choices(
            raw.get("any_contacted", []), Contacted.values, f"{where}.any_contacted"
        )
        # The kinds of incident in which a contacted person counts (family present at a home visit
        # is not, by itself, collection through a third party).
        predicate["contacted_kinds"] = _choices(
            raw.get("contacted_kinds", IncidentKind.values), IncidentKind.values, f"{where}.contacted_kinds"
        )
        if not (predicate["any_kind"] or predicate["any_flag"] or predicate["any_contacted"]):
            raise RulePackError(f"{where}: a flags predicate needs any_kind, any_flag or any_contacted")
    elif kind == "after_notice":
        # Contacts after a written stop-contact notice: through a channel or at an hour the notice
        # does not allow, or with third parties. The notice's date, channels and hours are the case's
        # data (evaluate's `context`), never the pack's.
        predicate["kinds"] = _choices(
            raw.get("kinds", IncidentKind.values), IncidentKind.values, f"{where}.kinds"
        )
        predicate["third_parties"] = _choices(
            raw.get("third_parties", []), Contacted.values, f"{where}.third_parties"
        )
        predicate["contacted_kinds"] = _choices(
            raw.get("contacted_kinds", IncidentKind.values), IncidentKind.values, f"{where}.contacted_kinds"
        )
        reasons = raw.get("reasons")
        if not isinstance(reasons, dict) or set(reasons) != set(NOTICE_REASONS):
            raise RulePackError(f"{where}.reasons: a text for each of {', '.join(NOTICE_REASONS)}")
        predicate["reasons"] = {
            code: _bilingual(reasons[code], f"{where}.reasons.{code}") for code in reasons
        }
        # The reasons this rule judges (default: all): contact with third parties after consent was
        # withdrawn rests on other sources than a call outside the hours the notice asks for.
        only = raw.get("only", list(NOTICE_REASONS))
        if not isinstance(only, list) or not only or set(only) - set(NOTICE_REASONS):
            raise RulePackError(f"{where}.only: some of {', '.join(NOTICE_REASONS)}")
        predicate["only"] = list(only)
    elif kind == "visit_conditions":
        predicate["night_from"] = _parse_clock(raw.get("night_from", "22:00"), f"{where}.night_from")
        predicate["night_until"] = _parse_clock(raw.get("night_until", "08:00"), f"{where}.night_until")
        predicate["flags"] = _choices(raw.get("flags", []), Flag.values, f"{where}.flags")
        if not isinstance(raw.get("min_visitors", 0), int):
            raise RulePackError(f"{where}.min_visitors: a whole number")
    else:
        raise RulePackError(f"{where}: unknown predicate type '{kind}' (known: {', '.join(PREDICATES)})")
    return predicate


def _date(value, where: str, *, required: bool) -> date | None:
    if value in (None, "") and not required:
        return None
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        raise RulePackError(f"{where}: '{value}' is not a date like 2026-01-01") from None


def _parse_source(source_id: str, raw: dict, lender_kinds: set[str], where: str) -> Source:
    if not isinstance(raw, dict):
        raise RulePackError(f"{where}: a source is a table")
    mark = raw.get("mark")
    if mark == "R":
        raise RulePackError(f"{where}: a recalled, unverified (R) source is never encoded")
    if mark not in CONFIDENCE:
        raise RulePackError(f"{where}: mark must be V (seen verbatim) or S (secondary sources)")
    if raw.get("type") not in SOURCE_TYPES:
        raise RulePackError(
            f"{where}: type must be one of {sorted(SOURCE_TYPES)} (binding: {sorted(BINDING_TYPES)})"
        )
    if "in_force_from" not in raw:
        raise RulePackError(f"{where}: needs in_force_from (the date it came into force)")
    start = _date(raw.get("in_force_from"), f"{where}.in_force_from", required=True)
    end = _date(raw.get("in_force_until"), f"{where}.in_force_until", required=False)
    if end and end < start:
        raise RulePackError(f"{where}: in_force_until is before in_force_from")
    lenders = raw.get("lenders")
    if not isinstance(lenders, list) or not lenders:
        raise RulePackError(f'{where}: needs lenders, the kinds of lender it governs (or ["all"])')
    unknown = set(lenders) - lender_kinds - {ALL_LENDERS}
    if unknown:
        raise RulePackError(
            f"{where}.lenders: unknown {sorted(unknown)} (known: {sorted(lender_kinds)} or all)"
        )
    text = _bilingual(raw, where)
    if mark == "S" and any(_ARTICLE_NUMBER.search(t) for t in text.values()):
        raise RulePackError(f"{where}: an S-marked source is cited by name only, without article numbers")
    verbatim = raw.get("verbatim", "")
    if mark == "V" and not (isinstance(verbatim, str) and verbatim.strip()):
        raise RulePackError(f"{where}: a V-marked source keeps its verbatim text in the pack (verbatim)")
    area = raw.get("area", "")
    if not isinstance(area, str):
        raise RulePackError(f'{where}.area: a short name such as "criminal"')
    return Source(
        id=source_id,
        type=raw["type"],
        mark=mark,
        in_force_from=start,
        in_force_until=end,
        lenders=frozenset(lenders),
        text=text,
        verbatim=verbatim.strip(),
        area=area,
    )


def parse_pack(data: dict, source: str) -> Pack:
    if not isinstance(data.get("id"), str) or not re.fullmatch(r"[a-z][a-z0-9_-]{0,19}", data["id"]):
        raise RulePackError(f"{source}: 'id' must be a short lowercase name such as 'cn'")
    lender_types = data.get("lender_types") or {}
    if not isinstance(lender_types, dict) or not all(isinstance(v, str) for v in lender_types.values()):
        raise RulePackError(
            f'{source}: lender_types maps a creditor to a lender kind, e.g. huabei = "consumer_finance"'
        )
    lender_kinds = set(lender_types.values())
    sources = {
        source_id: _parse_source(source_id, raw, lender_kinds, f"{source}: source {source_id}")
        for source_id, raw in (data.get("sources") or {}).items()
    }
    rules = []
    seen = set()
    for index, raw in enumerate(data.get("rules") or []):
        where = f"{source}: rule {raw.get('id', index + 1)}"
        rule_id = raw.get("id")
        if not isinstance(rule_id, str) or not rule_id or rule_id in seen:
            raise RulePackError(f"{where}: each rule needs a unique id")
        seen.add(rule_id)
        if "citations" in raw:
            raise RulePackError(
                f"{where}: cite sources by id (sources = [...]) defined in [sources.<id>] tables"
            )
        cited = raw.get("sources") or []
        if not cited:
            raise RulePackError(f"{where}: a rule needs at least one source")
        missing = [s for s in cited if s not in sources]
        if missing:
            raise RulePackError(f"{where}: unknown sources {missing}")
        rules.append(
            Rule(
                id=rule_id,
                title=_bilingual(raw.get("title"), f"{where}.title"),
                explanation=_bilingual(raw.get("explanation"), f"{where}.explanation"),
                sources=tuple(sources[s] for s in cited),
                predicate=_validate_predicate(raw.get("predicate"), where),
            )
        )
    if not rules:
        raise RulePackError(f"{source}: a pack needs at least one rule")
    pack = Pack(
        id=data["id"],
        name=_bilingual(data.get("name"), f"{source}: name"),
        wording=_bilingual(
            data.get("wording", {"zh-hans": "涉嫌违反", "en": "Suspected breach of"}), f"{source}: wording"
        ),
        wording_standards=_bilingual(
            data.get(
                "wording_standards",
                {
                    "zh-hans": "不符合以下标准或自律规范的要求",
                    "en": "Falls short of the standards or self-regulation",
                },
            ),
            f"{source}: wording_standards",
        ),
        lender_types=dict(lender_types),
        rules=tuple(rules),
        source=source,
    )
    pack.sources.update(sources)
    pack.by_id.update({rule.id: rule for rule in rules})
    pack.keywords.update(_parse_keywords(data.get("keywords"), source))
    return pack


def _parse_keywords(raw, source: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """[keywords.<flag>] tables: a list of phrases per language ("zh-hans", "en")."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RulePackError(f"{source}: [keywords] holds one table per flag, e.g. [keywords.threat]")
    parsed = {}
    for flag, languages in raw.items():
        if not isinstance(languages, dict) or not all(
            isinstance(words, list) and all(isinstance(w, str) and w.strip() for w in words)
            for words in languages.values()
        ):
            raise RulePackError(f'{source}: keywords.{flag} maps a language to phrases, e.g. en = ["..."]')
        parsed[flag] = {lang: tuple(w.strip() for w in words) for lang, words in languages.items()}
    return parsed


def pack_dirs() -> list[Path]:
    dirs = [Path(d) for d in getattr(settings, "RULE_PACK_DIRS", [])]
    extra = os.environ.get("RULE_PACK_DIRS", "")
    dirs += [Path(d) for d in extra.split(os.pathsep) if d]
    return dirs


_cache: dict[tuple[str, float], Pack] = {}


def load_pack_file(path: Path) -> Pack:
    key = (str(path), path.stat().st_mtime)
    if key not in _cache:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise RulePackError(f"{path.name}: not valid TOML ({exc})") from None
        _cache[key] = parse_pack(data, path.name)
    return _cache[key]


def available_packs() -> dict[str, Pack]:
    """Every pack in the configured folders; a later folder's pack replaces one of the same id.

    Files are re-read when they change, so a new pack is picked up without a restart.
    """
    packs: dict[str, Pack] = {}
    for folder in pack_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                pack = load_pack_file(path)
                packs[pack.id] = pack
    return packs


def get_pack(pack_id: str) -> Pack:
    packs = available_packs()
    if pack_id not in packs:
        raise RulePackError(f"no rule pack '{pack_id}' (available: {', '.join(sorted(packs))})")
    return packs[pack_id]


# --- predicates ----------------------------------------------------------------------------------


def _in_window(clock: time, start: time, end: time, start_exclusive: bool) -> bool:
    after_start = clock > start if start_exclusive else clock >= start
    if start > end:  # the window wraps past midnight
        return after_start or clock < end
    return after_start and clock < end


def _kinds(predicate: dict) -> set[str] | None:
    return set(predicate["kinds"]) if predicate.get("kinds") else None


def quiet_hours(records, local, predicate):
    kinds = _kinds(predicate)
    for record, moment in zip(records, local, strict=True):
        if moment is None or (kinds and record.kind not in kinds):
            continue
        if _in_window(moment.time(), predicate["from"], predicate["until"], predicate["from_exclusive"]):
            yield record.id, {"local_time": moment.strftime("%Y-%m-%d %H:%M:%S")}


def _counted(record: Record, mode: str) -> bool:
    if mode == "connected":
        return record.connected
    if mode == "unanswered":
        return not record.connected
    return True


def count_in_window(records, local, predicate):
    """Flag each counted incident that is the (limit+1)th or later in its window.

    day: the debtor's local calendar day. rolling_days N: the N consecutive local days ending on the
    incident's day, counting incidents up to and including it. Linear: one pass, a queue per group.
    """
    kinds, mode, limit = _kinds(predicate), predicate.get("count", "all"), predicate["limit"]
    by_number = predicate.get("group_by") == "counterpart_number"
    rolling = predicate["window"] == "rolling_days"
    span = timedelta(days=predicate.get("days", 1) - 1)
    per_day: dict[tuple, int] = defaultdict(int)
    queues: dict[str, deque] = defaultdict(deque)
    for record, moment in zip(records, local, strict=True):
        if moment is None or (kinds and record.kind not in kinds) or not _counted(record, mode):
            continue
        group = record.number if by_number else ""
        day = moment.date()
        if rolling:
            queue = queues[group]
            while queue and queue[0] < day - span:
                queue.popleft()
            queue.append(day)
            n = len(queue)
        else:
            per_day[(group, day)] += 1
            n = per_day[(group, day)]
        if n > limit:
            yield record.id, {"n": n, "limit": limit, "date": day.isoformat()}


def count_after_event(records, local, predicate):
    """Flag calls within N days after a conversation, the conversation's day counted as day 1."""
    kinds, days = _kinds(predicate), predicate["days"]
    last_event: date | None = None
    for record, moment in zip(records, local, strict=True):
        if moment is None or (kinds and record.kind not in kinds):
            continue
        today = moment.date()
        if last_event is not None:
            day_number = (today - last_event).days + 1
            if day_number <= days:
                yield record.id, {"day": day_number, "event_date": last_event.isoformat(), "limit": days}
        if record.connected:
            last_event = today


def flags(records, local, predicate):
    any_kind, any_flag = set(predicate["any_kind"]), set(predicate["any_flag"])
    any_contacted = set(predicate["any_contacted"])
    contacted_kinds = set(predicate.get("contacted_kinds") or IncidentKind.values)
    # `kinds`, when given, limits the rule to those kinds of incident (a forged document is shown
    # or sent: a letter, a message, a visit; a caller who only claims one has shown nothing).
    kinds = _kinds(predicate)
    for record in records:
        if kinds and record.kind not in kinds:
            continue
        kind_matches = record.kind in any_kind
        # Most incidents carry no flags and only "self": skip them without building lists.
        if (
            not kind_matches
            and any_flag.isdisjoint(record.flags)
            and any_contacted.isdisjoint(record.contacted)
        ):
            continue
        matched_flags = [f for f in record.flags if f in any_flag]
        matched_contacted = (
            [c for c in record.contacted if c in any_contacted] if record.kind in contacted_kinds else []
        )
        if kind_matches or matched_flags or matched_contacted:
            yield record.id, {"flags": matched_flags, "contacted": matched_contacted, "kind": record.kind}


def visit_conditions(records, local, predicate):
    kinds = _kinds(predicate) or {"visit"}
    minimum = predicate.get("min_visitors", 0)
    wanted_flags = set(predicate["flags"])
    for record, moment in zip(records, local, strict=True):
        if record.kind not in kinds:
            continue
        conditions = []
        if record.visitors is not None and record.visitors < minimum:
            conditions.append(f"few_visitors:{record.visitors}:{minimum}")
        if moment is not None and _in_window(
            moment.time(), predicate["night_from"], predicate["night_until"], False
        ):
            conditions.append(f"night:{moment:%H:%M}")
        conditions += [f for f in record.flags if f in wanted_flags]
        if conditions:
            yield record.id, {"conditions": conditions}


NOTICE_REASONS = ("channel", "hours", "third_party")


@dataclass(frozen=True)
class Notice:
    """A written stop-contact notice as the rules see it: sent when, allowing which incident kinds
    (channels) and which local hours (None: any hour)."""

    sent_at: datetime
    date: str
    channels: frozenset[str]
    hours: tuple[time, time] | None

    @classmethod
    def parse(cls, raw: dict) -> Notice | None:
        try:
            sent_at = datetime.fromisoformat(raw["sent_at"])
            hours = raw.get("hours") or None
            window = (
                (time.fromisoformat(hours["from"]), time.fromisoformat(hours["until"])) if hours else None
            )
            return cls(sent_at, str(raw.get("date") or ""), frozenset(raw.get("channels") or ()), window)
        except (KeyError, TypeError, ValueError):
            return None  # a malformed entry cites nothing, rather than stopping every rule


def notices_in(context: dict | None) -> list[Notice]:
    """The sent notices of a rule context, oldest first."""
    parsed = [Notice.parse(raw) for raw in (context or {}).get("notices") or [] if isinstance(raw, dict)]
    return sorted((n for n in parsed if n is not None and n.sent_at.tzinfo), key=lambda n: n.sent_at)


def notice_before(notices: list[Notice], at: datetime | None) -> Notice | None:
    """The latest notice sent before `at` (its terms are the ones in force then)."""
    if at is None:
        return None
    found = None
    for notice in notices:
        if notice.sent_at < at:
            found = notice
    return found


def after_notice(records, local, predicate, context=None):
    """Flag each contact after a written notice that the notice did not allow: a channel it does not
    name, an hour outside the hours it names, or a third party. Incidents whose time is unknown are
    never "after" anything."""
    notices = notices_in(context)
    if not notices:
        return
    kinds, third = set(predicate["kinds"]), set(predicate["third_parties"])
    contacted_kinds = set(predicate["contacted_kinds"])
    for record, moment in zip(records, local, strict=True):
        notice = notice_before(notices, record.at)
        if notice is None or moment is None or record.kind not in kinds:
            continue
        reasons = []
        if record.kind not in notice.channels:
            reasons.append("channel")
        if notice.hours and not _in_window(moment.time(), notice.hours[0], notice.hours[1], False):
            reasons.append("hours")
        reached = [c for c in record.contacted if c in third] if record.kind in contacted_kinds else []
        if record.kind == "third_party" or reached:
            reasons.append("third_party")
        reasons = [r for r in reasons if r in predicate.get("only", NOTICE_REASONS)]
        if reasons:
            yield (
                record.id,
                {
                    "notice_date": notice.date,
                    "reasons": reasons,
                    "contacted": reached,
                    "kind": record.kind,
                    "local_time": moment.strftime("%Y-%m-%d %H:%M:%S"),
                },
            )


PREDICATES = {
    "quiet_hours": quiet_hours,
    "count_in_window": count_in_window,
    "count_after_event": count_after_event,
    "flags": flags,
    "visit_conditions": visit_conditions,
    "after_notice": after_notice,
}
# Predicates that read the case's rule context (evaluate's `context`) besides the records.
CONTEXT_PREDICATES = {"after_notice"}


def lookback_days(pack: Pack) -> int | None:
    """How many local days before an incident its findings can depend on, for every rule of the
    pack: every predicate looks only backwards in time (a count up to and including the incident,
    the last conversation before it) or at the incident alone. A refresh after adding incidents
    re-evaluates only the days they can change (evidence.findings). None for a predicate whose
    reach is not known here: then the whole case is re-evaluated."""
    days = 1
    for rule in pack.rules:
        if rule.type in ("quiet_hours", "flags", "visit_conditions", "after_notice"):
            continue
        if rule.type == "count_in_window":
            days = max(days, int(rule.predicate.get("days", 1)))
        elif rule.type == "count_after_event":
            days = max(days, int(rule.predicate["days"]))
        else:
            return None
    return days


def evaluate(
    records: list[Record], pack: Pack, tz, lender: str | None = None, context: dict | None = None
) -> dict[int, list[dict]]:
    """Findings per incident id: [{"rule": id, "params": {...}}], in pack order. Records must be in
    time order; every predicate is one pass over them. A finding is kept only when the rule has a
    source in force on the incident's local date that governs the lender (None: any lender).

    An incident whose time is unknown (at None) takes part in no time-based rule (quiet hours,
    counts, days after a conversation, visits at night); rules on what happened (flags, third
    parties) still apply to it.

    `context` is the case's rule context (Case.rule_context): the written notices sent, and the
    person's own follow-up entries ("own"), which are no collection event and are judged by no rule.
    Every finding on an incident after a notice carries that notice's date as `after_notice`."""
    own = set((context or {}).get("own") or ())
    if own:
        records = [record for record in records if record.id not in own]
    notices = notices_in(context)
    local = [record.at.astimezone(tz) if record.at is not None else None for record in records]
    day_of = {
        record.id: moment.date() if moment is not None else None
        for record, moment in zip(records, local, strict=True)
    }
    findings: dict[int, list[dict]] = defaultdict(list)
    for rule in pack.rules:
        if not rule.sources_for(None, lender):
            continue  # nothing in this rule governs this kind of lender
        predicate = PREDICATES[rule.type]
        found = (
            predicate(records, local, rule.predicate, context)
            if rule.type in CONTEXT_PREDICATES
            else predicate(records, local, rule.predicate)
        )
        for incident_id, params in found:
            if rule.sources_for(day_of[incident_id], lender):
                findings[incident_id].append({"rule": rule.id, "params": params})
    if notices:
        at_of = {record.id: record.at for record in records}
        for incident_id, found in findings.items():
            notice = notice_before(notices, at_of[incident_id])
            if notice is not None:
                for finding in found:
                    finding["params"] = {**finding["params"], "after_notice": notice.date}
    return dict(findings)
