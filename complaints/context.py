"""The case's rule context: what the rules need to know from this app (complaints app → evidence).

The rule engine lives below this app and cannot read notices or replies, so the facts it needs are
written onto the case as plain data (evidence.models.Case.rule_context): the written notices sent
(when, the channel and the hours they allow) and the person's own follow-up entries ("own": the
incidents holding a notice's proof or a reply's screenshot, which are no collection event).
"""

from __future__ import annotations

from django.db import transaction

from accounts.services import profile_for
from evidence.findings import case_violations_refresh
from evidence.models import Case

from .models import ComplaintReply, StopNotice


def rule_context(*, case: Case) -> dict:
    tz = profile_for(case.owner).tz
    notices = [
        {
            "sent_at": notice.sent_at.isoformat(),
            "date": notice.sent_at.astimezone(tz).date().isoformat(),
            "channels": [notice.allowed_channel],
            "hours": {"from": f"{notice.hours_from:%H:%M}", "until": f"{notice.hours_until:%H:%M}"},
            "notice": notice.pk,
        }
        for notice in StopNotice.objects.filter(case=case, sent_at__isnull=False).order_by("sent_at", "pk")
    ]
    own = set(
        StopNotice.objects.filter(case=case, proof_incident__isnull=False).values_list(
            "proof_incident_id", flat=True
        )
    )
    own |= set(
        ComplaintReply.objects.filter(complaint__case=case, incident__isnull=False).values_list(
            "incident_id", flat=True
        )
    )
    return {"notices": notices, "own": sorted(own)} if (notices or own) else {}


@transaction.atomic
def case_rule_context_refresh(*, case: Case) -> dict:
    """Write the case's rule context and re-run its rules (callers append their audit link first)."""
    context = rule_context(case=case)
    if context != case.rule_context:
        Case.objects.filter(pk=case.pk).update(rule_context=context)
        case.rule_context = context
    case_violations_refresh(case=case)
    return context
