"""Reads shared by pages and the API. Ownership is checked here, in one place: another user's
object is simply not found (404), never forbidden, so its existence is not confirmed."""

from __future__ import annotations

from datetime import date, datetime, time

from django.db.models import Count, Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from .models import Case, EvidenceFile, Incident, IncidentKind


def case_for(user, pk) -> Case:
    return get_object_or_404(Case.objects.for_owner(user), pk=pk)


def incident_for(user, pk) -> Incident:
    return get_object_or_404(Incident.objects.for_owner(user).select_related("case"), pk=pk)


def evidence_for(user, pk) -> EvidenceFile:
    return get_object_or_404(EvidenceFile.objects.for_owner(user).select_related("incident__case"), pk=pk)


def incidents_with_evidence(queryset: QuerySet) -> QuerySet:
    """Incidents with their evidence in one extra query, however many there are."""
    return queryset.select_related("case").prefetch_related(
        Prefetch("evidence", queryset=EvidenceFile.objects.order_by("received_at", "id")))


def incident_timeline(*, case: Case, kind: str = "", date_from: date | None = None,
                      date_to: date | None = None, tz=None, violations_only: bool = False,
                      rule: str = "") -> QuerySet:
    """A case's incidents, newest first, filtered by kind, local dates (inclusive) and findings."""
    queryset = case.incidents.all()
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
    return queryset.order_by("-occurred_at", "-id")


def attach_evidence_counts(incidents) -> None:
    """Evidence counts for one page of incidents, in one query over that page only (an annotation
    would make the database group the whole case before it can sort and cut a page)."""
    ids = [incident.pk for incident in incidents]
    counts = dict(EvidenceFile.objects.filter(incident_id__in=ids).values_list("incident_id")
                  .annotate(n=Count("id")).values_list("incident_id", "n"))
    for incident in incidents:
        incident.evidence_count = counts.get(incident.pk, 0)


def violation_summary(*, case: Case) -> list[dict]:
    """Counts per rule for the case, with the rule's title and citation in the active language."""
    from complaints.rules import RulePackError, current_language, get_pack

    if not case.violation_summary:
        return []
    try:
        pack = get_pack(case.rule_pack)
    except RulePackError:
        return []
    language = current_language()
    return [{"rule": rule.id, "title": rule.title[language], "citation": rule.citation_text(language),
             "count": case.violation_summary[rule.id]}
            for rule in pack.rules if case.violation_summary.get(rule.id)]


def kind_counts(*, case: Case) -> list[tuple[str, str, int]]:
    """(kind, label, count) for every kind, zeros included, in one query."""
    counts = dict(case.incidents.values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
    return [(value, label, counts.get(value, 0)) for value, label in IncidentKind.choices]
