"""Writes of the complaints app: keeping each case's rule findings current."""

from __future__ import annotations

from collections import Counter

from django.db import transaction

from evidence.models import Case, Incident

from .rules import RECORD_FIELDS, RulePackError, evaluate, get_pack, records_from_rows


def _rule_string(findings: list[dict]) -> str:
    return (" " + " ".join(f["rule"] for f in findings) + " ") if findings else ""


@transaction.atomic
def case_violations_refresh(*, case: Case) -> dict[str, int]:
    """Re-evaluate every incident of the case against its rule pack and store what changed.

    Callers that also append to the audit chain call this after the append: the owner's head row
    is locked by then, so the incidents read here include every committed write for this owner.
    """
    from evidence.services import profile_for

    try:
        pack = get_pack(case.rule_pack)
    except RulePackError:
        pack = None
    rows = case.incidents.order_by("occurred_at", "id").values_list(*RECORD_FIELDS, "violations")
    rows = list(rows)
    findings = evaluate(records_from_rows(r[:-1] for r in rows), pack, profile_for(case.owner).tz) if pack else {}
    changed = []
    summary: Counter = Counter()
    for row in rows:
        pk, stored = row[0], row[-1]
        found = findings.get(pk, [])
        summary.update(f["rule"] for f in found)
        if found != stored:
            changed.append(Incident(pk=pk, violations=found, violation_rules=_rule_string(found)))
    if changed:
        Incident.objects.bulk_update(changed, ["violations", "violation_rules"], batch_size=1000)
    summary_dict = dict(sorted(summary.items()))
    if case.violation_summary != summary_dict:
        case.violation_summary = summary_dict
        Case.objects.filter(pk=case.pk).update(violation_summary=summary_dict)
    return summary_dict
