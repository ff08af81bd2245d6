"""After the dossier: complaints sent, their replies and reply deadlines, reminders and escalation.

A complaint's reply deadline comes from deadlines.toml (per addressee, with the extensions a person
may choose); its state is worked out from the deadline, the replies and the clock. Reminders go out
once per complaint, kind and deadline, whichever worker runs `send_reminders` and however often.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.push import notification_create, push_send
from accounts.services import profile_for
from core.mail import header_safe
from evidence.models import Case, IncidentKind, Provenance
from evidence.services import evidence_store, incident_create
from ledger.chain import audit_append

from .clock import now
from .context import case_rule_context_refresh
from .deadlines import deadline_for
from .letters import addressee as addressee_details
from .letters import addressee_kind, escalation, scope_warning
from .models import (
    Addressee,
    Channel,
    Complaint,
    ComplaintReply,
    ComplaintStatus,
    Dossier,
    Outcome,
    Reminder,
)
from .services import dossier_create

logger = logging.getLogger(__name__)

# Replies that do not settle a complaint: the case then offers the next step.
UNSETTLED = {Outcome.PARTLY, Outcome.REJECTED, Outcome.OTHER}


# --- deadlines and states --------------------------------------------------------------------------


@dataclass
class Standing:
    """Where a complaint stands: its deadline, the days left (negative: overdue) and its state."""

    status: str
    due: date
    days_left: int
    statutory: bool
    source: dict | None
    option_label: dict
    remind_from: date

    @property
    def overdue_days(self) -> int:
        return max(-self.days_left, 0)


def standing(complaint: Complaint, *, at: datetime | None = None, tz=None) -> Standing:
    tz = tz or profile_for(complaint.owner).tz
    today = (at or now()).astimezone(tz).date()
    rules = deadline_for(complaint.addressee)
    due = rules.due(complaint.sent_at.astimezone(tz).date(), complaint.deadline)
    replies = list(complaint.replies.all())
    if complaint.closed_at:
        status = ComplaintStatus.CLOSED
    elif replies:
        status = ComplaintStatus.ANSWERED
    elif today > due:
        status = ComplaintStatus.OVERDUE
    else:
        status = ComplaintStatus.WAITING
    return Standing(
        status=status,
        due=due,
        days_left=(due - today).days,
        statutory=rules.statutory,
        source=rules.source,
        option_label=rules.option(complaint.deadline).label,
        remind_from=due - timedelta(days=rules.remind_before_days),
    )


def needs_next_step(complaint: Complaint, state: Standing) -> bool:
    """The deadline passed without a reply, or the last reply did not settle the complaint."""
    if state.status == ComplaintStatus.OVERDUE:
        return True
    if state.status == ComplaintStatus.ANSWERED:
        last = list(complaint.replies.all())[-1]
        return last.outcome in UNSETTLED
    return False


# --- writes ----------------------------------------------------------------------------------------


def _check_time(value, errors: dict, name: str) -> None:
    if value is None or not isinstance(value, datetime) or timezone.is_naive(value):
        errors[name] = [_("Enter the date and time with a time zone.")]
    elif value > timezone.now() + timedelta(minutes=10):
        errors[name] = [_("This time is in the future.")]
    elif value.year < 2000:
        errors[name] = [_("This date is too far in the past.")]


def _deadline_codes(addressee: str) -> list[str]:
    return [option.code for option in deadline_for(addressee).options]


@transaction.atomic
def complaint_log(
    *,
    owner,
    case: Case,
    addressee: str,
    channel: str,
    sent_at: datetime,
    ticket_number: str = "",
    addressee_name: str = "",
    dossier: Dossier | None = None,
    deadline: str = "",
) -> Complaint:
    """Record a complaint the person sent; its reply deadline starts that day."""
    if case.owner_id != owner.pk:
        raise Case.DoesNotExist
    errors: dict[str, list[str]] = {}
    if addressee not in Addressee.values:
        errors["addressee"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(Addressee.values)}]
    elif addressee == Addressee.CUSTOM and not addressee_name.strip():
        errors["addressee_name"] = [_("Name the recipient.")]
    if channel not in Channel.values:
        errors["channel"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(Channel.values)}]
    _check_time(sent_at, errors, "sent_at")
    if dossier is not None and dossier.case_id != case.pk:
        errors["dossier"] = [_("This dossier is not in this case.")]
    if addressee in Addressee.values:
        codes = _deadline_codes(addressee)
        deadline = deadline or codes[0]
        if deadline not in codes:
            errors["deadline"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(codes)}]
    if errors:
        raise ValidationError(errors)
    complaint = Complaint.objects.create(
        owner=owner,
        case=case,
        addressee=addressee,
        addressee_name=addressee_name.strip()[:200],
        channel=channel,
        sent_at=sent_at,
        ticket_number=ticket_number.strip()[:100],
        dossier=dossier,
        deadline=deadline,
    )
    audit_append(
        owner=owner,
        action="complaint.log",
        subject=complaint,
        payload={
            "case": case.pk,
            "addressee": addressee,
            "addressee_name": complaint.addressee_name,
            "channel": channel,
            "sent_at": sent_at,
            "ticket_number": complaint.ticket_number,
            "dossier": dossier.number if dossier else None,
            "deadline": deadline,
        },
    )
    return complaint


@transaction.atomic
def complaint_update(
    *, complaint: Complaint, deadline: str | None = None, ticket_number: str | None = None, closed=None
) -> Complaint:
    """Change the deadline option (the institution announced an extension), add the ticket number
    given later, or close the complaint (settled, or no longer followed)."""
    locked = Complaint.objects.select_for_update().get(pk=complaint.pk)
    before = {
        "deadline": locked.deadline,
        "ticket_number": locked.ticket_number,
        "closed": bool(locked.closed_at),
    }
    if deadline is not None:
        codes = _deadline_codes(locked.addressee)
        if deadline not in codes:
            raise ValidationError(
                {"deadline": [_("Choose one of: %(choices)s.") % {"choices": ", ".join(codes)}]}
            )
        locked.deadline = deadline
    if ticket_number is not None:
        locked.ticket_number = ticket_number.strip()[:100]
    if closed is not None:
        locked.closed_at = (locked.closed_at or timezone.now()) if closed else None
    after = {
        "deadline": locked.deadline,
        "ticket_number": locked.ticket_number,
        "closed": bool(locked.closed_at),
    }
    if after != before:
        locked.save(update_fields=["deadline", "ticket_number", "closed_at"])
        audit_append(
            owner=locked.owner,
            action="complaint.update",
            subject=locked,
            payload={"before": before, "after": after},
        )
    return locked


def reply_log(
    *, complaint: Complaint, received_at: datetime, text: str, outcome: str, upload=None
) -> ComplaintReply:
    """Record a reply. `upload` (a screenshot of the reply, a recording of the call back) is kept as
    evidence under an incident of the case: the person's own entry, which no rule judges."""
    errors: dict[str, list[str]] = {}
    _check_time(received_at, errors, "received_at")
    if not (text or "").strip():
        errors["text"] = [_("Write down what they replied.")]
    if outcome not in Outcome.values:
        errors["outcome"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(Outcome.values)}]
    if errors:
        raise ValidationError(errors)
    result: dict = {}

    def finish(evidence=None, incident=None):
        reply = ComplaintReply.objects.create(
            complaint=complaint,
            received_at=received_at,
            text=text.strip(),
            outcome=outcome,
            evidence=evidence,
            incident=incident,
        )
        audit_append(
            owner=complaint.owner,
            action="complaint.reply",
            subject=reply,
            payload={
                "complaint": complaint.pk,
                "received_at": received_at,
                "text": reply.text,
                "outcome": outcome,
                "evidence": evidence.sha256 if evidence else None,
            },
        )
        if incident is not None:
            case_rule_context_refresh(case=complaint.case)
        result["reply"] = reply

    with transaction.atomic():
        if upload is None:
            finish()
        else:
            with translation.override(profile_for(complaint.owner).language):
                description = _("Reply to the complaint to %(addressee)s of %(date)s: %(text)s") % {
                    "addressee": complaint.get_addressee_display(),
                    "date": f"{complaint.sent_at.astimezone(profile_for(complaint.owner).tz):%Y-%m-%d}",
                    "text": text.strip()[:500],
                }
            content_type = getattr(upload, "content_type", "") or ""
            incident = incident_create(
                case=complaint.case,
                kind=IncidentKind.CALL if content_type.startswith("audio/") else IncidentKind.OTHER,
                occurred_at=received_at,
                refresh=False,
                counterpart_name=(complaint.addressee_name or str(complaint.get_addressee_display()))[:100],
                description=description,
            )
            evidence_store(
                incident=incident,
                upload=upload,
                provenance=Provenance.UPLOADED,
                on_stored=lambda evidence: finish(evidence, incident),
            )
    return result["reply"]


# --- reminders -------------------------------------------------------------------------------------


@dataclass
class ReminderRun:
    sent: list[tuple[int, str]] = field(default_factory=list)  # (complaint id, kind)
    skipped: int = 0  # already sent (by this or another worker)
    # (complaint id, kind, reason): not sent this run, tried again on the next (nothing was recorded).
    failed: list[tuple[int, str, str]] = field(default_factory=list)


def due_reminders(at: datetime) -> list[tuple[Complaint, str, Standing]]:
    """(complaint, kind, standing) of every reminder due at `at`, sent or not: the deadline is near
    (within its remind_before_days) or has passed, and there is no reply yet."""
    found = []
    open_complaints = (
        Complaint.objects.filter(closed_at__isnull=True, replies__isnull=True)
        .select_related("owner", "case")
        .order_by("pk")
    )
    zones: dict[int, object] = {}
    for complaint in open_complaints:
        if complaint.owner_id not in zones:
            zones[complaint.owner_id] = profile_for(complaint.owner).tz
        state = standing(complaint, at=at, tz=zones[complaint.owner_id])
        if state.status == ComplaintStatus.OVERDUE:
            found.append((complaint, Reminder.OVERDUE, state))
        elif (
            state.status == ComplaintStatus.WAITING
            and at.astimezone(zones[complaint.owner_id]).date() >= state.remind_from
        ):
            found.append((complaint, Reminder.DUE_SOON, state))
    return found


def _reminder_mail(complaint: Complaint, kind: str, state: Standing) -> tuple[str, str]:
    profile = profile_for(complaint.owner)
    with translation.override(profile.language):
        language = "en" if profile.language == "en" else "zh-hans"
        to = addressee_details(complaint.addressee, language, complaint.addressee_name)["name"]
        values = {
            "to": to,
            "date": f"{complaint.sent_at.astimezone(profile.tz):%Y-%m-%d}",
            "ticket": complaint.ticket_number or "—",
            "due": state.due.isoformat(),
            "days": abs(state.days_left),
        }
        if kind == Reminder.OVERDUE:
            subject = _("Overdue: no reply from %(to)s to your complaint of %(date)s") % values
            body = (
                _(
                    "Your complaint to %(to)s of %(date)s (ticket number %(ticket)s) was due an answer by "
                    "%(due)s: %(days)s days have passed without one.\n\nThe case page offers the next step: "
                    "a dossier for the regulator that states this complaint, its ticket number and the "
                    "missed deadline."
                )
                % values
            )
        else:
            subject = _("Reply due by %(due)s: your complaint to %(to)s") % values
            body = (
                _(
                    "Your complaint to %(to)s of %(date)s (ticket number %(ticket)s) is due an answer by "
                    "%(due)s. If a reply comes, log it on the case page; if none comes, the case will "
                    "offer the next step."
                )
                % values
            )
        if state.source:
            body += "\n\n" + _("Deadline: %(label)s — %(source)s") % {
                "label": state.option_label[language],
                "source": state.source[language],
            }
        site = (getattr(settings, "SITE_URL", "") or "").rstrip("/")
        body += "\n\n" + site + reverse("case_detail", args=[complaint.case_id])
    # The addressee's name is typed by the person and may hold a line break (core.mail).
    return header_safe(subject), body


def reminders_send(*, at: datetime | None = None) -> ReminderRun:
    """Send every reminder that is due and not yet sent, each exactly once.

    The Reminder row (unique per complaint, kind and deadline) is inserted in the transaction that
    sends the mail and appends the audit link: a second worker doing the same at the same moment
    waits for the first transaction, then finds the row taken and sends nothing; a mail that fails
    rolls the row back, so the next run tries again. (A crash after the mail left but before the
    commit would send it again: the one way a reminder goes twice, never none.)

    Each reminder succeeds or fails alone: one that cannot be made or sent (a mail server refusing
    it, a bad address) is logged with the reason, listed in `failed` and tried again next run, and
    the others (of every user) are still sent."""
    at = at or now()
    run = ReminderRun()
    for complaint, kind, state in due_reminders(at):
        # Every reminder reaches the in-app list and every push subscription; a mail goes too when
        # the account has an address and the person kept reminders by e-mail on.
        recipient = (complaint.owner.email or "").strip()
        if recipient and not profile_for(complaint.owner).reminders_by_email:
            recipient = ""
        if Reminder.objects.filter(complaint=complaint, kind=kind, due=state.due).exists():
            run.skipped += 1
            continue
        try:
            _reminder_send_one(complaint, kind, state, recipient)
        except IntegrityError:
            run.skipped += 1  # another worker sent it first
            continue
        except Exception as exc:  # one reminder's fault must not stop the others
            reason = f"{type(exc).__name__}: {exc}"
            run.failed.append((complaint.pk, kind, reason))
            logger.warning(
                "reminder %s for complaint %s (due %s) not sent, tried again next run: %s",
                kind,
                complaint.pk,
                state.due,
                reason,
            )
            continue
        run.sent.append((complaint.pk, kind))
        logger.info("reminder %s sent for complaint %s (due %s)", kind, complaint.pk, state.due)
    return run


def _reminder_send_one(complaint: Complaint, kind: str, state: Standing, recipient: str) -> None:
    """Record, list, mail and audit one reminder in one transaction: a failure leaves no row behind.
    The push messages leave once it has committed (best effort, never twice: a mail that fails
    rolls everything back before any push went out)."""
    subject, body = _reminder_mail(complaint, kind, state)
    path = reverse("case_detail", args=[complaint.case_id])
    with transaction.atomic():
        reminder = Reminder.objects.create(
            complaint=complaint, kind=kind, due=state.due, recipient=recipient, sent_at=timezone.now()
        )
        notification_create(
            user=complaint.owner, title=subject, body=body, url=path, case_id=complaint.case_id
        )
        if recipient:
            send_mail(subject, body, None, [recipient])
        payload = {"complaint": complaint.pk, "kind": kind, "due": state.due, "to": recipient}
        if not recipient:
            payload["channels"] = ["app", "push"]
        audit_append(owner=complaint.owner, action="complaint.reminder", subject=reminder, payload=payload)
        owner, tag = complaint.owner, f"reminder-{complaint.pk}-{kind}"
        transaction.on_commit(
            lambda: push_send(user=owner, title=subject, body=body, url=path, tag=tag), robust=True
        )


# --- escalation ------------------------------------------------------------------------------------


def escalation_choices(*, case: Case, language: str) -> list[dict]:
    """The next steps a case offers: NFRA 12378 first, the others in scope after it, and the police
    when threats or violence are logged."""
    data = escalation()
    codes = [data["default"], *data["also"]]
    flagged = set(data["police_flags"])
    if flagged and any(
        flagged & set(flags or ())
        for flags in case.incidents.exclude(flags=[]).values_list("flags", flat=True).iterator()
    ):
        codes.append(data["police"])
    choices = []
    for code in codes:
        if code not in Addressee.values:
            continue
        details = addressee_details(code, language)
        choices.append(
            {
                "code": code,
                "name": details["name"],
                "channel": details["channel"],
                "scope": scope_warning(code, language),
                "kind": addressee_kind(code),
            }
        )
    return choices


def complaint_escalate(*, complaint: Complaint, addressee: str = "", language: str | None = None) -> Dossier:
    """Build the next step's dossier: it follows every earlier complaint of the case (dates,
    channels, ticket numbers and replies) and states the contacts after the written notice."""
    owner, case = complaint.owner, complaint.case
    language = language or ("en" if profile_for(owner).language == "en" else "zh-hans")
    addressee = addressee or escalation()["default"]
    allowed = {choice["code"] for choice in escalation_choices(case=case, language=language)}
    if addressee not in allowed:
        raise ValidationError(
            {"addressee": [_("Choose one of: %(choices)s.") % {"choices": ", ".join(sorted(allowed))}]}
        )
    earlier = list(Complaint.objects.filter(case=case).order_by("sent_at", "pk").values_list("pk", flat=True))
    return dossier_create(
        owner=owner,
        case=case,
        addressee=addressee,
        language=language,
        follows=earlier,
    )


# --- the case's progress ---------------------------------------------------------------------------


def case_progress(*, case: Case, language: str, tz=None) -> dict:
    """Notice → complaint(s) → replies → escalation, with dates and states, for the case page.
    tz: the owner's time zone (the page passes the active one; otherwise read from the profile)."""
    tz = tz or profile_for(case.owner).tz
    at = now()
    notices = list(case.stop_notices.order_by("created_at", "pk"))
    complaints = []
    for complaint in (
        case.complaints.prefetch_related("replies").select_related("dossier").order_by("sent_at", "pk")
    ):
        state = standing(complaint, at=at, tz=tz)
        complaints.append(
            {
                "complaint": complaint,
                "state": state,
                "label": ComplaintStatus(state.status).label,
                "deadline_label": state.option_label[language],
                "source": state.source[language] if state.source else "",
                "next_step": needs_next_step(complaint, state),
                "soon": state.status == ComplaintStatus.WAITING
                and at.astimezone(tz).date() >= state.remind_from,
            }
        )
    return {
        "notices": notices,
        "sent_notice": next((n for n in reversed(notices) if n.sent_at), None),
        "complaints": complaints,
        "overdue": [item for item in complaints if item["state"].status == ComplaintStatus.OVERDUE],
        "soon": [item for item in complaints if item["soon"]],
        "next_step": next((item for item in reversed(complaints) if item["next_step"]), None),
        "escalations": escalation_choices(case=case, language=language),
        "dossiers": list(case.dossiers.all()[:50]),
    }
