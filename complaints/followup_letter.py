"""What a dossier's letter states about the follow-up: the earlier complaints it follows (dates,
channels, ticket numbers, deadlines and replies) and the written notice with the contacts after it.

Read when the manifest is built and sealed with it; overdue days are counted to the day the dossier
was ordered, so building the same dossier twice gives the same bytes."""

from __future__ import annotations

from datetime import UTC

from django.utils import translation

from .deadlines import deadline_for
from .letters import addressee as addressee_details
from .models import Channel, Complaint, Outcome, StopNotice
from .notice_data import notice_number, notice_texts

ALLOWED_TEXT_KEYS = {"app_message", "sms", "call", "letter"}


def _label(choices, value: str, language: str) -> str:
    with translation.override(language):
        return str(choices(value).label) if value in choices.values else value


def follows_entries(*, dossier, tz, language: str) -> list[dict]:
    """The complaints the dossier follows, oldest first, as sealed facts."""
    ordered_on = (dossier.followup_at or dossier.created_at).astimezone(tz).date()
    entries = []
    complaints = (
        Complaint.objects.filter(case=dossier.case, pk__in=dossier.follows or [])
        .select_related("dossier")
        .prefetch_related("replies")
    )
    for complaint in complaints.order_by("sent_at", "pk"):
        rules = deadline_for(complaint.addressee)
        option = rules.option(complaint.deadline)
        sent_on = complaint.sent_at.astimezone(tz).date()
        due = rules.due(sent_on, complaint.deadline)
        replies = [
            {
                "date": reply.received_at.astimezone(tz).date().isoformat(),
                "text": reply.text,
                "outcome": reply.outcome,
                "outcome_label": _label(Outcome, reply.outcome, language),
            }
            for reply in complaint.replies.all()
            if reply.received_at.astimezone(tz).date() <= ordered_on
        ]
        overdue = (ordered_on - due).days if (not replies and ordered_on > due) else None
        entries.append(
            {
                "id": complaint.pk,
                "addressee": complaint.addressee,
                "to": addressee_details(complaint.addressee, language, complaint.addressee_name)["name"],
                "channel": complaint.channel,
                "channel_label": _label(Channel, complaint.channel, language),
                "sent_at": complaint.sent_at.astimezone(UTC).isoformat(),
                "date": sent_on.isoformat(),
                "ticket": complaint.ticket_number,
                "due": due.isoformat(),
                "deadline_days": option.days,
                "deadline_label": option.label[language],
                "statutory": rules.statutory,
                "deadline_source": dict(rules.source) if rules.source else None,
                "replies": replies,
                "overdue_days": overdue,
                "as_of": ordered_on.isoformat(),
            }
            # The dossier sent with that complaint, by its number: the recipient can ask for it.
            | ({"dossier": complaint.dossier.number} if complaint.dossier_id else {})
        )
    return entries


def notice_entry(*, dossier, tz, language: str) -> dict | None:
    """The latest written notice of the case sent before the dossier was ordered."""
    notice = (
        StopNotice.objects.filter(case=dossier.case, sent_at__isnull=False, sent_at__lte=dossier.created_at)
        .order_by("-sent_at", "-pk")
        .first()
    )
    if notice is None:
        return None
    words = notice_texts()[language]
    return {
        "number": notice_number(notice),
        "seal": notice.seal,
        "sent_at": notice.sent_at.astimezone(UTC).isoformat(),
        "date": notice.sent_at.astimezone(tz).date().isoformat(),
        "channel": notice.sent_channel,
        "channel_label": _label(Channel, notice.sent_channel, language),
        "allowed_channel": notice.allowed_channel,
        "allowed_text": words.get(f"channel_{notice.allowed_channel}", notice.allowed_channel),
        "hours": {"from": f"{notice.hours_from:%H:%M}", "until": f"{notice.hours_until:%H:%M}"},
    }


def after_notice_contacts(violations: dict, incident_entries: list[dict], pack) -> list[dict]:
    """The included contacts the pack's after-notice rule found, in time order, with their refs."""
    if pack is None:
        return []
    rules = [
        rule_id
        for rule_id in violations
        if rule_id in pack.by_id and pack.by_id[rule_id].type == "after_notice"
    ]
    explained = {}
    for rule_id in rules:
        for item in violations[rule_id]["incidents"]:
            explained.setdefault(item["incident"], item["explanation"])
    return [
        {
            "ref": entry["ref"],
            "incident": entry["id"],
            "occurred_at": entry["occurred_at"],
            "kind": entry["kind"],
            "contacted": entry["contacted"],
            "explanation": explained[entry["id"]],
        }
        for entry in incident_entries
        if entry["id"] in explained
    ]
