"""Reads shared by pages and the API. Ownership is checked here, in one place: another user's
object is simply not found (404), never forbidden, so its existence is not confirmed."""

from __future__ import annotations

from datetime import date, datetime, time

from django.conf import settings
from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import language_codes

from .merging import source_shown
from .models import Case, Contacted, EvidenceFile, Flag, Incident, IncidentKind, own_actions_q
from .rules import Pack, Rule, RulePackError, get_pack


def case_for(user, pk) -> Case:
    return get_object_or_404(Case.objects.for_owner(user), pk=pk)


def incident_for(user, pk) -> Incident:
    return get_object_or_404(Incident.objects.for_owner(user).select_related("case"), pk=pk)


def evidence_for(user, pk) -> EvidenceFile:
    return get_object_or_404(EvidenceFile.objects.for_owner(user).select_related("incident__case"), pk=pk)


def incidents_with_evidence(queryset: QuerySet) -> QuerySet:
    """Incidents with their evidence in one extra query, however many there are."""
    return queryset.select_related("case").prefetch_related(
        Prefetch("evidence", queryset=EvidenceFile.objects.order_by("received_at", "id"))
    )


def incident_timeline(
    *,
    case: Case,
    kind: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    tz=None,
    violations_only: bool = False,
    rule: str = "",
    q: str = "",
) -> QuerySet:
    """A case's incidents, newest first, filtered by kind, local dates (inclusive) and findings.
    `q` finds words in what happened, the counterpart, or the text read from their screenshots."""
    # The timeline of contacts: the person's own actions (an export imported, a notice's proof)
    # are listed apart (selectors.own_actions), never as contacts.
    queryset = case.incidents.contacts(case)
    if q.strip():
        words = q.strip()
        queryset = queryset.filter(
            Q(description__icontains=words)
            | Q(counterpart_number__icontains=words)
            | Q(counterpart_name__icontains=words)
            | Q(agency__icontains=words)
            | Q(
                pk__in=EvidenceFile.objects.filter(
                    incident__case=case, recognized_text__text__icontains=words
                ).values("incident_id")
            )
            | Q(source_evidence__recognized_text__text__icontains=words)
        )
    if kind:
        queryset = queryset.filter(kind=kind)
    if violations_only:
        queryset = queryset.exclude(violation_rules="")
    if rule:
        queryset = queryset.filter(violation_rules__contains=f" {rule} ")
    if date_from:
        queryset = queryset.filter(occurred_at__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to:
        queryset = queryset.filter(occurred_at__lte=datetime.combine(date_to, time.max, tzinfo=tz))
    # Newest first; entries whose time is unknown (to be confirmed) first on every database.
    return queryset.order_by(F("occurred_at").desc(nulls_first=True), "-id")


def attach_evidence_counts(incidents) -> None:
    """Evidence counts for one page of incidents, in one query over that page only (an annotation
    would make the database group the whole case before it can sort and cut a page)."""
    ids = [incident.pk for incident in incidents]
    counts = dict(
        EvidenceFile.objects.filter(incident_id__in=ids)
        .values_list("incident_id")
        .annotate(n=Count("id"))
        .values_list("incident_id", "n")
    )
    for incident in incidents:
        incident.evidence_count = counts.get(incident.pk, 0)


def violation_summary(*, case: Case) -> list[dict]:
    """Counts per rule for the case, with the rule's title and citation in the active language."""
    if not case.violation_summary:
        return []
    try:
        pack = get_pack(case.rule_pack)
    except RulePackError:
        return []
    language = current_language()
    return [
        {
            "rule": rule.id,
            "title": rule.title[language],
            "citation": rule.citation_text(language, lender=pack.lender_type(case.creditor)),
            "count": case.violation_summary[rule.id],
        }
        for rule in pack.rules
        if case.violation_summary.get(rule.id)
    ]


def incident_conflicts(incident: Incident, tz=None) -> list[dict]:
    """What other sources say about fields the person typed, as the incident page shows it:
    "本人登记 01:32:34 · 通话记录 01:30:00", each with the values to choose from."""
    tz = tz or timezone.get_current_timezone()
    labels = {
        "occurred_at": _("Time"),
        "duration_seconds": _("Duration (seconds)"),
        "answered": _("Answered"),
    }

    def shown(field, value) -> str:
        if value is None:
            return "—"
        if field == "occurred_at":
            at = datetime.fromisoformat(value) if isinstance(value, str) else value
            return f"{at.astimezone(tz):%Y-%m-%d %H:%M:%S}"
        if field == "answered":
            return _("yes") if value else _("no")
        return str(value)

    rows = []
    for index, conflict in enumerate(incident.conflicts or []):
        field = conflict.get("field")
        if field not in labels:
            continue
        typed = getattr(incident, field)
        shown_source = source_shown({"kind": conflict.get("source", ""), "ref": conflict.get("ref", "")})
        rows.append(
            {
                "index": index,
                "field": field,
                "label": labels[field],
                "typed": shown(field, typed),
                "other": shown(field, conflict.get("value")),
                "source": shown_source["label"],
                "ref": shown_source["ref"],
            }
        )
    return rows


def contacts_only(incidents: QuerySet) -> QuerySet:
    """`incidents` (of any cases) without the entries of the person's own actions."""
    cases = Case.objects.filter(pk__in=incidents.values("case_id")).values_list("rule_context", flat=True)
    own = [pk for context in cases for pk in (context or {}).get("own", [])]
    incidents = incidents.contacts()
    return incidents.exclude(pk__in=own) if own else incidents


def own_actions(*, case: Case) -> QuerySet:
    """The entries holding the person's own actions (an export imported, a notice's proof), newest
    first: their files stay reachable, apart from the contacts."""
    return case.incidents.filter(own_actions_q(case)).order_by(F("occurred_at").desc(nulls_first=True), "-id")


def kind_counts(*, case: Case) -> list[tuple[str, str, int]]:
    """(kind, label, count) for every kind, zeros included, in one query."""
    counts = dict(
        case.incidents.contacts(case).values_list("kind").annotate(n=Count("id")).values_list("kind", "n")
    )
    return [(value, label, counts.get(value, 0)) for value, label in IncidentKind.choices]


# --- violations as shown ----------------------------------------------------------------------------------


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _labels(values, choices_cls) -> list[str]:
    return [str(choices_cls(v).label) for v in values if v in choices_cls.values]


def _condition_text(code: str, language: str) -> str:
    name, *rest = code.split(":")
    if name == "few_visitors":
        count, minimum = rest
        return (
            f"仅{count}人上门（应不少于{minimum}人）"
            if language == "zh-hans"
            else f"only {count} collector(s) came (at least {minimum} required)"
        )
    if name == "night":
        return f"夜间 {':'.join(rest)} 上门" if language == "zh-hans" else f"at night ({':'.join(rest)})"
    return _labels([name], Flag)[0] if name in Flag.values else name


def explain(rule: Rule, params: dict, language: str) -> str:
    separator = "、" if language == "zh-hans" else ", "
    with translation.override(language):
        values = dict(params)
        values["ordinal"] = _ordinal(params.get("n", 0)) if "n" in params else ""
        flag_labels = _labels(params.get("flags", []), Flag)
        contacted_labels = _labels(params.get("contacted", []), Contacted)
        if not contacted_labels and params.get("kind") in IncidentKind.values:
            contacted_labels = [str(IncidentKind(params["kind"]).label)]
        values["flags"] = separator.join(flag_labels)
        values["contacted"] = separator.join(contacted_labels)
        values["detail"] = separator.join(flag_labels + _labels(params.get("contacted", []), Contacted))
        values["conditions"] = separator.join(
            _condition_text(c, language) for c in params.get("conditions", [])
        )
        # After a written notice: why the contact broke it, in the pack's words.
        reasons = rule.predicate.get("reasons") or {}
        values["reasons"] = separator.join(
            reasons[code][language] for code in params.get("reasons", []) if code in reasons
        )
        try:
            return rule.explanation[language].format(**values)
        except (KeyError, IndexError, ValueError):
            return rule.explanation[language]


def present(
    findings: list[dict], pack: Pack, language: str, *, on: date | None = None, lender: str | None = None
) -> list[dict]:
    """Stored findings as the API, pages and dossiers show them, in one language.

    Only the sources in force on the incident's date (`on`) that govern the case's lender are
    cited: binding law and regulation apart from standards and self-regulation, each group with its
    own wording ("涉嫌违反" / "不符合…的要求")."""
    language = language if language in language_codes() else settings.LANGUAGE_CODE
    separator = "；" if language == "zh-hans" else "; "
    colon = "：" if language == "zh-hans" else ": "
    shown = []
    for finding in findings:
        rule = pack.by_id.get(finding["rule"])
        if rule is None:  # the pack changed since the finding was stored
            continue
        sources = rule.sources_for(on, lender)
        if not sources:
            continue
        binding = [s for s in sources if s.binding]
        standards = [s for s in sources if not s.binding]
        wording = pack.wording[language] if binding else pack.wording_standards[language]
        shown.append(
            {
                "rule": rule.id,
                "title": rule.title[language],
                "binding": bool(binding),
                "citation": separator.join(s.text[language] for s in sources),
                "binding_sources": [{"id": s.id, "text": s.text[language], "mark": s.mark} for s in binding],
                "standard_sources": [
                    {"id": s.id, "text": s.text[language], "mark": s.mark} for s in standards
                ],
                "confidence": "V" if any(s.mark == "V" for s in sources) else "S",
                "explanation": explain(rule, finding["params"], language),
                "wording": wording,
                "heading": f"{wording}{colon}{rule.title[language]}",
                # The incident came after a written stop-contact notice of the case was sent (its date).
                "after_notice": bool(finding["params"].get("after_notice")),
                "notice_date": finding["params"].get("after_notice"),
            }
        )
    return shown


def current_language() -> str:
    """The active language as one of settings.LANGUAGES' codes (en-us → en)."""
    active = (translation.get_language() or settings.LANGUAGE_CODE).lower()
    for code in language_codes():
        if active == code or active.split("-")[0] == code.split("-")[0]:
            return code
    return settings.LANGUAGE_CODE


def violations_presenter():
    """A function giving an incident's `violations` as shown, in the active language.

    Packs are looked up once per presenter, so listing thousands of incidents reads no file twice.
    """
    packs: dict[str, Pack | None] = {}
    language = current_language()

    def violations(incident) -> list[dict]:
        if not incident.violations:
            return []
        pack_id = incident.case.rule_pack
        if pack_id not in packs:
            try:
                packs[pack_id] = get_pack(pack_id)
            except RulePackError:
                packs[pack_id] = None
        pack = packs[pack_id]
        if not pack:
            return []
        on = timezone.localtime(incident.occurred_at).date() if incident.occurred_at else None
        return present(
            incident.violations, pack, language, on=on, lender=pack.lender_type(incident.case.creditor)
        )

    return violations


ABUSE_FLAGS = ("threat", "insult", "impersonation", "impersonated_lawyer", "fake_legal_document", "violence")


def case_strengtheners(*, case: Case) -> list[str]:
    """What would make the case harder to dismiss, in plain words, before a dossier is built."""
    hints = []
    incidents = case.incidents.all()
    if not incidents.filter(source="import").exists():
        hints.append(
            str(
                _(
                    "Import your phone's call log (calls.xml or an iPhone call CSV): a call the phone itself "
                    "recorded weighs more than one typed in."
                )
            )
        )
    hints.append(
        str(
            _(
                "Ask your carrier (中国移动 / 中国联通 / 中国电信 app or a shop) for your call-detail record "
                "(运营商通话详单): it is the record a court trusts most."
            )
        )
    )
    recorded = set(
        EvidenceFile.objects.filter(incident__case=case, content_type__startswith="audio/").values_list(
            "incident_id", flat=True
        )
    )
    abusive = [
        pk
        for pk, flags in incidents.filter(kind__in=("call", "visit")).values_list("pk", "flags")
        if set(flags or ()) & set(ABUSE_FLAGS) and pk not in recorded
    ]
    if abusive:
        hints.append(
            str(
                ngettext(
                    "%(count)d call or visit with threats or impersonation has no recording; add one if you have it.",
                    "%(count)d calls or visits with threats or impersonation have no recording; add them if you have them.",
                    len(abusive),
                )
                % {"count": len(abusive)}
            )
        )
    return hints
