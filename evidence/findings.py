"""The findings (suspected violations) stored on each incident, kept current with the case.

Derived data: every write that changes a case's incidents, or its rule pack, calls
case_violations_refresh in its own transaction, after its audit link.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

from django.db import connection, transaction

from accounts.services import profile_for

from .models import Case, Incident, own_entries_q
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
    changed, summary = _case_changes(case)
    if changed:
        _write_findings(changed)
    _store_summary(case, summary)
    return summary


def case_violations_refresh_in_steps(*, case: Case, step: int = 5000) -> dict[str, int]:
    """The same refresh for a background import of hundreds of thousands of entries: evaluated
    outside any transaction, then written `step` rows per transaction, so the database's write lock
    (all of it, on SQLite) is held for one step at a time. A write to the case meanwhile refreshes
    the findings itself; a row it changed may get this run's older findings until the next refresh
    (findings are derived data, re-evaluated by every later write to the case)."""
    changed, summary = _case_changes(case)
    for start in range(0, len(changed), step):
        with transaction.atomic():
            _write_findings(changed[start : start + step])
    with transaction.atomic():
        _store_summary(case, summary)
    return summary


def _store_summary(case: Case, summary: dict[str, int]) -> None:
    if case.violation_summary != summary:
        case.violation_summary = summary
        Case.objects.filter(pk=case.pk).update(violation_summary=summary)


def _case_changes(case: Case) -> tuple[list[tuple[int, list, str]], dict[str, int]]:
    """(incident id, findings, rule string) of every incident whose stored findings differ, and the
    case's summary (rule id -> count)."""
    try:
        pack = get_pack(case.rule_pack)
    except RulePackError:
        pack = None
    # Rows are streamed into compact records; only non-empty stored findings are kept aside (a fresh
    # import has none), so a case of 100,000 incidents is checked without holding its rows twice.
    records = []
    stored: dict[int, list] = {}
    # Calls the person dialled and messages they sent are their own: judged by no rule.
    own = set(case.incidents.filter(own_entries_q()).values_list("pk", flat=True))
    for row in _case_rows(case.pk):
        if row[-1]:
            stored[row[0]] = row[-1]
        if row[0] not in own:
            records.extend(records_from_rows([row[:-1]]))
    findings = (
        evaluate(
            records,
            pack,
            profile_for(case.owner).tz,
            pack.lender_type(case.creditor),
            # Read from the row, not the instance: the complaints app may have changed it since.
            context=Case.objects.filter(pk=case.pk).values_list("rule_context", flat=True).first(),
        )
        if pack
        else {}
    )
    summary: Counter = Counter()
    changed: list[tuple[int, list, str]] = []
    for record in records:
        found = findings.get(record.id, [])
        summary.update(f["rule"] for f in found)
        if found != stored.get(record.id, []):
            changed.append((record.id, found, _rule_string(found)))
    changed += [(pk, [], "") for pk in own if stored.get(pk)]
    return changed, dict(sorted(summary.items()))


def _case_rows(case_id: int):
    """(*RECORD_FIELDS, violations) of every incident of the case in time order, read with one raw
    query in chunks: the ORM's per-value converters cost more than the rules for 100,000 rows.
    Values are converted here the way the fields would (JSON text parsed once per distinct text)."""
    fields = [Incident._meta.get_field(name) for name in (*RECORD_FIELDS, "violations")]
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {', '.join(quote(f.column) for f in fields)} FROM {quote(Incident._meta.db_table)} "
        f"WHERE {quote('case_id')} = %s ORDER BY {quote('occurred_at')}, {quote('id')}"
    )
    json_at = [i for i, f in enumerate(fields) if f.get_internal_type() == "JSONField"]
    time_at = fields.index(Incident._meta.get_field("occurred_at"))
    answered_at = fields.index(Incident._meta.get_field("answered"))
    parsed: dict[str, object] = {}
    last = len(fields) - 1
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, [case_id])
        while chunk := cursor.fetchmany(5000):
            for raw in chunk:
                row = list(raw)
                for i in json_at:
                    value = row[i]
                    if isinstance(value, str):
                        if i == last:  # stored findings: mostly distinct, parsed as they are
                            row[i] = json.loads(value)
                            continue
                        if value not in parsed:
                            parsed[value] = json.loads(value)
                        # Lists shared between rows are never changed by the rules: read-only use.
                        row[i] = parsed[value]
                moment = row[time_at]
                if isinstance(moment, str):  # SQLite keeps UTC text without an offset
                    row[time_at] = datetime.fromisoformat(moment).replace(tzinfo=UTC)
                elif moment is not None and moment.tzinfo is None:
                    row[time_at] = moment.replace(tzinfo=UTC)
                if row[answered_at] is not None:
                    row[answered_at] = bool(row[answered_at])
                yield row


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
