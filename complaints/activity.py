"""The person's own actions on a case (third wave): phone exports imported, stop-contact notices
made and sent, complaints logged and their replies. They are records of the case, never collection
contacts: the contacts' counts, timeline, rules and dossier statistics leave them out
(evidence.models.own_actions_q), and `GET /api/v1/cases/<id>/activity/` lists them here."""

from __future__ import annotations

from datetime import UTC

from django.utils.translation import gettext as _
from rest_framework.response import Response

from evidence import selectors
from evidence.api import OwnerAPIView
from evidence.models import Case, PhoneImport

from .models import Complaint, ComplaintReply, StopNotice
from .notice_data import notice_number


def _iso(moment) -> str:
    return moment.astimezone(UTC).isoformat()


def case_activity(*, case: Case) -> list[dict]:
    """{"kind", "at", "what", "id"} for each of the person's own actions, newest first."""
    rows: list[dict] = []
    for item in PhoneImport.objects.filter(case=case, imported_at__isnull=False):
        counts = item.result or {}
        rows.append(
            {
                "kind": "import",
                "at": item.imported_at,
                "what": _("Phone export imported: %(name)s (%(created)s new, %(linked)s linked)")
                % {
                    "name": item.original_name,
                    "created": counts.get("created", 0),
                    "linked": counts.get("linked", 0),
                },
                "id": item.pk,
                "evidence": item.evidence_id,
            }
        )
    for notice in StopNotice.objects.filter(case=case):
        rows.append(
            {
                "kind": "notice",
                "at": notice.created_at,
                "what": _("Stop-contact notice %(number)s made") % {"number": notice_number(notice)},
                "id": notice.pk,
            }
        )
        if notice.sent_at is not None:
            rows.append(
                {
                    "kind": "notice_sent",
                    "at": notice.sent_at,
                    "what": _("Stop-contact notice %(number)s sent (%(channel)s)")
                    % {"number": notice_number(notice), "channel": notice.get_sent_channel_display()},
                    "id": notice.pk,
                    "evidence": notice.proof_id,
                }
            )
    for complaint in Complaint.objects.filter(case=case):
        rows.append(
            {
                "kind": "complaint",
                "at": complaint.sent_at,
                "what": _("Complaint to %(to)s (%(channel)s)")
                % {
                    "to": complaint.addressee_name or complaint.get_addressee_display(),
                    "channel": complaint.get_channel_display(),
                }
                + (f" · {complaint.ticket_number}" if complaint.ticket_number else ""),
                "id": complaint.pk,
            }
        )
    for reply in ComplaintReply.objects.filter(complaint__case=case).select_related("complaint"):
        rows.append(
            {
                "kind": "reply",
                "at": reply.received_at,
                "what": _("Reply received: %(outcome)s") % {"outcome": reply.get_outcome_display()},
                "id": reply.pk,
            }
        )
    rows.sort(key=lambda row: (row["at"], row["kind"], row["id"]), reverse=True)
    return rows


class CaseActivity(OwnerAPIView):
    """GET /api/v1/cases/<id>/activity/: the person's own actions on the case (owner only)."""

    def get(self, request, pk: int):
        case = selectors.case_for(request.user, pk)
        results = [{**row, "at": _iso(row["at"])} for row in case_activity(case=case)]
        return Response({"results": results})
