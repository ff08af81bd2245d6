"""The findings (suspected violations) stored on each incident, kept current with the case.

Derived data: every write that changes a case's incidents, or its rule pack, calls
case_violations_refresh in its own transaction, after its audit link.
"""

from __future__ import annotations

from collections import Counter

from django.db import connection, transaction

from accounts.services import profile_for

from .models import Case, Incident
from .rules import RECORD_FIELDS, RulePackError, evaluate, get_pack, records_from_rows


def _rule_string(findings: list[dict]) -> str:
    return (" " + " ".join(f["rule"] for f in findings) + " ") if findings else ""


@transaction.atomic
def case_violations_refresh(*, case: Case) -> dict[str, int]:
    """Re-evaluate every incident of the case against its rule pack and store what changed.

    Callers that also append to the audit chain call this after the append: the owner's head row
    is locked by then, so the incidents read here include every committed write for this owner.
    Changed rows are written with one prepared statement run many times: findings are derived data
    and a case may have 100,000 incidents.
    """
    try:
        pack = get_pack(case.rule_pack)
    except RulePackError:
        pack = None
    # Rows are streamed into compact records; only non-empty stored findings are kept aside (a fresh
    # import has none), so a case of 100,000 incidents is checked without holding its rows twice.
    records = []
    stored: dict[int, list] = {}
    rows = case.incidents.order_by("occurred_at", "id").values_list(*RECORD_FIELDS, "violations")
    for row in rows.iterator(chunk_size=5000):
        records.extend(records_from_rows([row[:-1]]))
        if row[-1]:
            stored[row[0]] = row[-1]
    findings = (
        evaluate(records, pack, profile_for(case.owner).tz, pack.lender_type(case.creditor)) if pack else {}
    )
    summary: Counter = Counter()
    changed: list[tuple[int, list, str]] = []
    for record in records:
        found = findings.get(record.id, [])
        summary.update(f["rule"] for f in found)
        if found != stored.get(record.id, []):
            changed.append((record.id, found, _rule_string(found)))
    del records, stored
    if changed:
        _write_findings(changed)
    summary_dict = dict(sorted(summary.items()))
    if case.violation_summary != summary_dict:
        case.violation_summary = summary_dict
        Case.objects.filter(pk=case.pk).update(violation_summary=summary_dict)
    return summary_dict


def _write_findings(changed: list[tuple[int, list, str]]) -> None:
    field = Incident._meta.get_field("violations")
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(Incident._meta.db_table)} SET {quote('violations')} = %s, "
        f"{quote('violation_rules')} = %s WHERE {quote('id')} = %s"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(changed), 5000):
            cursor.executemany(
                sql,
                [
                    (field.get_db_prep_save(found, connection), rules, pk)
                    for pk, found, rules in changed[start : start + 5000]
                ],
            )
