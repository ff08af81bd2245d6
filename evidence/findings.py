"""The findings (suspected violations) stored on each incident, kept current with the case.

Derived data: every write that changes a case's incidents, or its rule pack, calls
case_violations_refresh in its own transaction, after its audit link.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import time as clock

from django.db import connection, models, transaction

from accounts.services import profile_for

from .models import Case, Incident, own_actions_q, own_entries_q
from .rules import RECORD_FIELDS, RulePackError, evaluate, get_pack, lookback_days, records_from_rows

# How far a merge may move an incident's time (a call typed by hand joined by the phone's log of
# it): the days re-evaluated after an import reach this much further on either side.
SPAN_MARGIN = timedelta(days=2)


def _rule_string(findings: list[dict]) -> str:
    return (" " + " ".join(f["rule"] for f in findings) + " ") if findings else ""


@transaction.atomic
def case_violations_refresh(*, case: Case, span: tuple[datetime, datetime] | None = None) -> dict[str, int]:
    """Re-evaluate every incident of the case against its rule pack and store what changed.

    Callers that also append to the audit chain call this after the append: the owner's head row
    is locked by then, so the incidents read here include every committed write for this owner.
    Changed rows are written with one prepared statement run many times: findings are derived data
    and a case may have 100,000 incidents.

    `span` (first, last): the times of the incidents a write added or changed (an import). Rules
    only look backwards (rules.lookback_days), so only incidents from the first local day up to
    the pack's reach after the last can change: those are re-evaluated, reading just the days
    before them they depend on, and the case's summary is counted from the stored rule strings.
    The result is the same as re-evaluating the whole case.
    """
    changed, summary = _case_changes(case, span)
    if changed:
        _write_findings(changed)
    if summary is None:
        summary = _stored_summary(case)
    _store_summary(case, summary)
    return summary


def case_violations_refresh_in_steps(
    *, case: Case, step: int = 5000, span: tuple[datetime, datetime] | None = None
) -> dict[str, int]:
    """The same refresh for a background import of hundreds of thousands of entries: evaluated
    outside any transaction, then written `step` rows per transaction, so the database's write lock
    (all of it, on SQLite) is held for one step at a time. A write to the case meanwhile refreshes
    the findings itself; a row it changed may get this run's older findings until the next refresh
    (findings are derived data, re-evaluated by every later write to the case). `span` as in
    case_violations_refresh."""
    changed, summary = _case_changes(case, span)
    for start in range(0, len(changed), step):
        with transaction.atomic():
            _write_findings(changed[start : start + step])
    with transaction.atomic():
        if summary is None:
            summary = _stored_summary(case)
        _store_summary(case, summary)
    return summary


def _store_summary(case: Case, summary: dict[str, int]) -> None:
    if case.violation_summary != summary:
        case.violation_summary = summary
        Case.objects.filter(pk=case.pk).update(violation_summary=summary)


def _days_to_evaluate(case: Case, pack, span) -> tuple[datetime, datetime, datetime] | None:
    """For a refresh after adding incidents within `span`: (read from, re-evaluate from, until) as
    UTC times bounding local days, or None when the whole case is to be evaluated."""
    if span is None or pack is None or None in span:
        return None
    reach = lookback_days(pack)
    if reach is None:
        return None
    tz = profile_for(case.owner).tz
    first = (span[0] - SPAN_MARGIN).astimezone(tz).date()
    last = (span[1] + SPAN_MARGIN).astimezone(tz).date()

    def midnight(day) -> datetime:
        return datetime.combine(day, clock(), tzinfo=tz).astimezone(UTC)

    return (
        midnight(first - timedelta(days=reach)),
        midnight(first),
        midnight(last + timedelta(days=reach + 1)),
    )


def _stored_summary(case: Case) -> dict[str, int]:
    """The case's summary counted from the rule strings stored on its incidents (one query)."""
    summary: Counter = Counter()
    rows = (
        case.incidents.exclude(violation_rules="")
        .values_list("violation_rules")
        .order_by()
        .annotate(n=models.Count("id"))
    )
    for rules, n in rows:
        for rule in rules.split():
            summary[rule] += n
    return dict(sorted(summary.items()))


def _case_changes(case: Case, span=None) -> tuple[list[tuple[int, list, str]], dict[str, int] | None]:
    """(incident id, findings, rule string) of every incident whose stored findings differ, and the
    case's summary (rule id -> count); with `span`, of the incidents on the days it can change, and
    None for the summary (counted from the stored rows once the changes are written)."""
    try:
        pack = get_pack(case.rule_pack)
    except RulePackError:
        pack = None
    days = _days_to_evaluate(case, pack, span)
    # Rows are streamed into compact records; only non-empty stored findings are kept aside (a fresh
    # import has none), so a case of 100,000 incidents is checked without holding its rows twice.
    records = []
    stored: dict[int, list] = {}
    # Calls the person dialled and messages they sent are their own: judged by no rule.
    # Nor are the entries of the person's own actions (an export imported, a notice's proof).
    own_rows = case.incidents.filter(own_entries_q() | own_actions_q(case))
    if days is not None:
        own_rows = own_rows.filter(occurred_at__gte=days[0], occurred_at__lt=days[2])
    own = set(own_rows.values_list("pk", flat=True))
    # With `days`: the incidents before the re-evaluated days are read as the history the rules
    # look back on; their own findings are left as stored.
    context_only: set[int] = set()
    for row in _case_rows(case.pk, days[0] if days else None, days[2] if days else None):
        if days is not None and row[2] < days[1]:
            context_only.add(row[0])
        elif row[-1]:
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
        if record.id in context_only:
            continue
        found = findings.get(record.id, [])
        summary.update(f["rule"] for f in found)
        if found != stored.get(record.id, []):
            changed.append((record.id, found, _rule_string(found)))
    changed += [(pk, [], "") for pk in own if stored.get(pk)]
    return changed, (dict(sorted(summary.items())) if days is None else None)


def _case_rows(case_id: int, since: datetime | None = None, until: datetime | None = None):
    """(*RECORD_FIELDS, violations) of every incident of the case in time order, read with one raw
    query in chunks: the ORM's per-value converters cost more than the rules for 100,000 rows.
    Values are converted here the way the fields would (JSON text parsed once per distinct text).
    With `since` and `until`, only the incidents of that time (its incidents of unknown time take
    part in no rule that another incident can change)."""
    fields = [Incident._meta.get_field(name) for name in (*RECORD_FIELDS, "violations")]
    quote = connection.ops.quote_name
    where, params = f"{quote('case_id')} = %s", [case_id]
    if since is not None:
        adapt = connection.ops.adapt_datetimefield_value
        where += f" AND {quote('occurred_at')} >= %s AND {quote('occurred_at')} < %s"
        params += [adapt(since), adapt(until)]
    sql = (
        f"SELECT {', '.join(quote(f.column) for f in fields)} FROM {quote(Incident._meta.db_table)} "
        f"WHERE {where} ORDER BY {quote('occurred_at')}, {quote('id')}"
    )
    json_at = [i for i, f in enumerate(fields) if f.get_internal_type() == "JSONField"]
    time_at = fields.index(Incident._meta.get_field("occurred_at"))
    answered_at = fields.index(Incident._meta.get_field("answered"))
    parsed: dict[str, object] = {}
    last = len(fields) - 1
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
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
