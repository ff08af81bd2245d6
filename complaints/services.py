"""Writes of the complaints app: keeping each case's rule findings current, and ordering, building,
retrying and reissuing dossiers."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_tasks import TaskResultStatus

from accounts.models import language_codes
from accounts.services import profile_for
from core.dates import in_supported_range, out_of_range_message
from evidence.models import Case
from evidence.rules import available_packs
from evidence.shares import helper_name
from ledger.chain import audit_append
from ledger.models import AuditHead
from ledger.records import ids_after_recorded, number_record_write

from .clock import now as followup_now
from .conf import setting
from .heartbeat import worker_states
from .letters import addressee_kind, default_requests, full_id_allowed, request_choices, requests_for
from .models import Addressee, Complaint, Dossier, DossierStatus
from .queue import build_rows, database_queue, fail_orphans, fail_rows, last_worker, live_build_rows
from .tasks import build_dossier

# --- dossiers -------------------------------------------------------------------------------------

logger = logging.getLogger(__name__)


def incidents_in_period(*, case: Case, date_from: date | None, date_to: date | None, tz):
    """The case's incidents in a period of local dates. Incidents whose time is unknown are in every
    period: they are printed as time unknown rather than silently left out."""
    incidents = case.incidents.all()
    if date_from:
        incidents = incidents.filter(
            Q(occurred_at__gte=datetime.combine(date_from, time.min, tzinfo=tz)) | Q(occurred_at__isnull=True)
        )
    if date_to:
        incidents = incidents.filter(
            Q(occurred_at__lte=datetime.combine(date_to, time.max, tzinfo=tz)) | Q(occurred_at__isnull=True)
        )
    return incidents


@transaction.atomic
def dossier_create(
    *,
    owner,
    case: Case,
    addressee: str,
    language: str = "zh-hans",
    addressee_name: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    incident_ids: list[int] | None = None,
    requests: list[str] | tuple = (),
    request_text: str = "",
    reissue_of: Dossier | None = None,
    rule_pack: str | None = None,
    earlier_complaint: dict | None = None,
    full_id_number: bool = False,
    follows: list[int] | tuple = (),
    drafted_by=None,
    contact_address: str = "",
    police_station: str = "",
    harm: str = "",
) -> Dossier:
    """Order a dossier: record what it covers, then build it in the background.

    `drafted_by` (a helper with the assist role on a shared case): the dossier is kept as a draft,
    built only when the owner issues it (dossier_issue_draft), so nothing goes out in the owner's
    name without them.

    `earlier_complaint` ({"date", "channel", "ticket", "reply"}) is the complaint a regulator's letter
    follows; `follows` names complaints logged in this app instead (their dates, channels, ticket
    numbers and replies are stated); `full_id_number` prints the ID number unmasked, for the
    recipients that need it. `contact_address` is where the person lives and takes written replies,
    `police_station` the station a police report goes to, `harm` the harm in the person's words.
    """

    errors: dict[str, list[str]] = {}
    if case.owner_id != owner.pk:
        raise Case.DoesNotExist
    if addressee not in Addressee.values:
        errors["addressee"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(Addressee.values)}]
    if addressee == Addressee.CUSTOM and not addressee_name.strip():
        errors["addressee_name"] = [_("Name the recipient.")]
    if language not in language_codes():
        errors["language"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(language_codes())}]
    if rule_pack is not None and rule_pack not in available_packs():
        errors["rule_pack"] = [
            _("Unknown rule pack “%(value)s”; available: %(packs)s.")
            % {"value": rule_pack, "packs": ", ".join(sorted(available_packs()))}
        ]
    if date_from is None and case.period_start is not None:
        # The dossier covers the case's period: it starts the day the debt began (its period
        # then says so), so older, unrelated entries are neither listed nor counted.
        date_from = case.period_start
    if date_from and date_to and date_from > date_to:
        errors["date_to"] = [_("The end date is before the start date.")]
    if not requests and not request_text.strip() and addressee in Addressee.values:
        # A letter always asks for something: the usual requests to this kind of recipient.
        requests = default_requests(addressee_kind(addressee))
    known_requests = requests_for(addressee_kind(addressee)) if addressee in Addressee.values else set()
    if any(code not in known_requests for code in requests):
        errors["requests"] = [
            _("These requests do not apply to this recipient; choose from: %(choices)s.")
            % {"choices": ", ".join(sorted(known_requests))}
        ]
    earlier = _clean_earlier_complaint(earlier_complaint or {}, errors)
    contact_address, police_station, harm = (
        " ".join(str(contact_address or "").split()),
        " ".join(str(police_station or "").split()),
        str(harm or "").strip(),
    )
    for name, value, limit in (
        ("contact_address", contact_address, 300),
        ("police_station", police_station, 200),
        ("harm", harm, 2000),
    ):
        if len(value) > limit:
            errors[name] = [
                _("At most %(limit)d characters (this has %(count)d).")
                % {"limit": limit, "count": len(value)}
            ]
    followed = _clean_follows(case, follows or (), errors)
    if full_id_number and not full_id_allowed(addressee):
        errors["full_id_number"] = [
            _("Only the police and a written regulator complaint receive the full ID number.")
        ]
    in_period = incidents_in_period(case=case, date_from=date_from, date_to=date_to, tz=profile_for(owner).tz)
    if incident_ids is None:
        chosen = list(in_period.order_by("occurred_at", "id").values_list("pk", flat=True))
    else:
        wanted = {int(pk) for pk in incident_ids}
        if case.incidents.filter(pk__in=wanted).count() != len(wanted):
            errors["incidents"] = [_("Some of these incidents are not in this case.")]
        chosen = list(
            in_period.filter(pk__in=wanted).order_by("occurred_at", "id").values_list("pk", flat=True)
        )
    if not chosen and "incidents" not in errors:
        errors["incidents"] = [_("There is no incident to include in this period.")]
    if errors:
        raise ValidationError(errors)

    head = AuditHead.objects.select_for_update().get_or_create(owner=owner)[0]
    # A dossier's number is its id: after a restore the id comes after every one given before it.
    ids_after_recorded(Dossier, "dossier")
    dossier = Dossier.objects.create(
        owner=owner,
        case=case,
        addressee=addressee,
        addressee_name=addressee_name.strip(),
        language=language,
        date_from=date_from,
        date_to=date_to,
        rule_pack=rule_pack or case.rule_pack,
        incident_ids=chosen,
        requests=[code for code, _text in request_choices("en") if code in set(requests)],
        request_text=request_text.strip(),
        reissue_of=reissue_of,
        earlier_complaint=earlier,
        follows=followed,
        followup_at=followup_now() if followed else None,
        full_id_number=bool(full_id_number),
        contact_address=contact_address,
        police_station=police_station,
        harm=harm,
        chain_seq=head.seq,
        chain_hash=head.hash,
        drafted_by=drafted_by,
        status=DossierStatus.DRAFT if drafted_by is not None else DossierStatus.PENDING,
    )
    if drafted_by is not None:
        audit_append(
            owner=owner,
            action="helper.draft",
            subject=dossier,
            payload={
                "case": case.pk,
                "helper": drafted_by.pk,
                "name": helper_name(drafted_by),
                "object": _("Dossier No. %(number)s (draft)") % {"number": dossier.number},
                "addressee": addressee,
                "incidents": len(chosen),
            },
        )
        number_record_write(kind="dossier", object_id=dossier.pk, number=dossier.number)
        return dossier
    audit_append(
        owner=owner,
        action="dossier.order",
        subject=dossier,
        payload={
            "case": case.pk,
            "addressee": addressee,
            "language": language,
            "incidents": len(chosen),
            "reissue_of": reissue_of.pk if reissue_of else None,
            "follows": followed,
        },
    )
    number_record_write(kind="dossier", object_id=dossier.pk, number=dossier.number)

    build_dossier.enqueue(dossier.pk)
    return dossier


@transaction.atomic
def dossier_issue_draft(*, dossier: Dossier) -> Dossier:
    """The owner issues a helper's draft: from now it is the owner's dossier, built from the record
    as it is now (the chain head at this moment) in the background."""
    dossier = Dossier.objects.select_for_update().get(pk=dossier.pk)
    if dossier.status != DossierStatus.DRAFT:
        raise ValidationError(_("This dossier is not a draft; it has already been issued."))
    head = AuditHead.objects.select_for_update().get_or_create(owner=dossier.owner)[0]
    dossier.status = DossierStatus.PENDING
    dossier.chain_seq, dossier.chain_hash = head.seq, head.hash
    dossier.save(update_fields=["status", "chain_seq", "chain_hash"])
    audit_append(
        owner=dossier.owner,
        action="dossier.order",
        subject=dossier,
        payload={
            "case": dossier.case_id,
            "addressee": dossier.addressee,
            "language": dossier.language,
            "incidents": len(dossier.incident_ids),
            "reissue_of": None,
            "follows": dossier.follows,
            "drafted_by": dossier.drafted_by_id,
        },
    )
    build_dossier.enqueue(dossier.pk)
    return dossier


EARLIER_FIELDS = ("date", "channel", "ticket", "reply")


def _clean_earlier_complaint(value: dict, errors: dict) -> dict:
    """The earlier complaint as plain strings; a date that is no date, or in the future, is an error."""
    if not isinstance(value, dict):
        errors["earlier_complaint"] = [
            _("Give the earlier complaint's date, channel, ticket number and reply.")
        ]
        return {}
    cleaned = {key: str(value.get(key) or "").strip()[:500] for key in EARLIER_FIELDS}
    if not any(cleaned.values()):
        return {}
    try:
        day = date.fromisoformat(cleaned["date"]) if cleaned["date"] else None
    except ValueError:
        day = None
        errors["earlier_complaint_date"] = [_("Enter the date of the earlier complaint as YYYY-MM-DD.")]
    if day and not in_supported_range(day):
        errors["earlier_complaint_date"] = [out_of_range_message()]
    elif day and day > timezone.localdate():
        errors["earlier_complaint_date"] = [_("The earlier complaint's date is in the future.")]
    if not cleaned["date"] and "earlier_complaint_date" not in errors:
        errors["earlier_complaint_date"] = [_("Enter the date of the earlier complaint.")]
    return cleaned


def _clean_follows(case: Case, follows, errors: dict) -> list[int]:
    """The complaints of this case a letter follows, oldest first; another case's are an error."""
    try:
        wanted = {int(pk) for pk in follows}
    except (TypeError, ValueError):
        errors["follows"] = [_("Name earlier complaints by their ids.")]
        return []
    found = list(
        Complaint.objects.filter(case=case, pk__in=wanted)
        .order_by("sent_at", "pk")
        .values_list("pk", flat=True)
    )
    if len(found) != len(wanted):
        errors["follows"] = [_("Some of these complaints are not in this case.")]
    return found


def dossier_reissue(*, dossier: Dossier) -> Dossier:
    """A new dossier with the same choices, over the data as it is now. The old one stays as issued."""
    return dossier_create(
        owner=dossier.owner,
        case=dossier.case,
        addressee=dossier.addressee,
        language=dossier.language,
        addressee_name=dossier.addressee_name,
        date_from=dossier.date_from,
        date_to=dossier.date_to,
        requests=dossier.requests,
        request_text=dossier.request_text,
        reissue_of=dossier,
        earlier_complaint=dossier.earlier_complaint,
        full_id_number=dossier.full_id_number,
        rule_pack=dossier.rule_pack,
        follows=dossier.follows,
        contact_address=dossier.contact_address,
        police_station=dossier.police_station,
        harm=dossier.harm,
    )


def _requeue(locked: Dossier, *, fresh: bool) -> None:
    """Back to "pending" and queued, in the caller's transaction (so the queue row and the status
    change are committed together). `fresh`: a person asked, so the attempts count starts again."""
    locked.status, locked.progress, locked.progress_note, locked.error = DossierStatus.PENDING, 0, "", ""
    locked.heartbeat_at = locked.finished_at = None
    if fresh:
        locked.attempts = 0
    locked.save(
        update_fields=[
            "status",
            "progress",
            "progress_note",
            "error",
            "heartbeat_at",
            "finished_at",
            "attempts",
        ]
    )
    build_dossier.enqueue(locked.pk)


def _queue_state(dossier_id: int) -> tuple[list, list]:
    """(queued rows, running rows) of one dossier's builds; none when builds are not queued in the
    database (another backend: the queue cannot be seen)."""
    if not database_queue():
        return [], []
    rows = list(
        build_rows(dossier_id)
        .filter(status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING])
        .order_by("enqueued_at", "id")
    )
    return (
        [row for row in rows if row.status == TaskResultStatus.READY],
        [row for row in rows if row.status == TaskResultStatus.RUNNING],
    )


def dossier_retry(*, dossier: Dossier) -> Dossier:
    """Build a dossier again that failed or whose build was interrupted. Issued ones never change.

    Never queues a build twice: a dossier already queued, or being built by a live worker (its
    heartbeat fresh), is left as it is. The status change and the queue row are one transaction.
    """

    now = timezone.now()
    stall = timedelta(seconds=setting("DOSSIER_STALL_SECONDS"))
    with transaction.atomic():
        locked = Dossier.objects.select_for_update().get(pk=dossier.pk)
        if locked.status in (DossierStatus.READY, DossierStatus.DRAFT):
            return locked  # issued ones never change; a helper's draft is built only when issued
        alive = worker_states(now).alive_ids
        queued, running = _queue_state(locked.pk)
        beat = locked.heartbeat_at or locked.started_at
        # A worker that records no heartbeat (a plain db_worker) cannot be seen alive: asked by a
        # person, its build is started again (a superseded build writes nothing; see _progress).
        being_built = any(last_worker(row) in alive for row in running) and (
            locked.status == DossierStatus.PENDING or (beat is not None and beat >= now - stall)
        )
        if queued or being_built:
            logger.info("dossier %s is already queued or being built; not queued again", locked.number)
        else:
            fail_rows([row.pk for row in running], "the build was started again (retry)")
            _requeue(locked, fresh=True)
            logger.info("dossier %s queued again (retry)", locked.number)
    dossier.refresh_from_db()
    return dossier


def stopped_reason(dossier: Dossier) -> str:
    """Why a build was given up, in the owner's language."""
    with translation.override(profile_for(dossier.owner).language):
        if dossier.attempts == 2:
            return _("The build stopped twice without finishing (worker crashed?).")
        return ngettext(
            "The build stopped %(count)d time without finishing (worker crashed?).",
            "The build stopped %(count)d times without finishing (worker crashed?).",
            dossier.attempts,
        ) % {"count": dossier.attempts}


@dataclass
class SweepReport:
    requeued: list[str] = field(default_factory=list)  # dossier numbers queued again
    failed: list[str] = field(default_factory=list)  # dossier numbers given up (attempts used up)
    orphaned_tasks: int = 0  # queue rows of dead workers marked failed
    duplicates: int = 0  # extra queue rows of one dossier marked failed


def dossier_sweep(*, stall_seconds: float | None = None, include_failed: bool = False) -> SweepReport:
    """Find builds that stopped without finishing and start them again, safely from any number of
    places at once (every decision is re-made on the locked dossier row).

    - queue rows left running by a worker that is down are marked failed;
    - a running build whose heartbeat has not moved for DOSSIER_STALL_SECONDS (or whose queue row
      is gone or dead) is queued again, unless DOSSIER_MAX_ATTEMPTS builds have started: then it is
      marked failed with a plain reason;
    - a pending dossier with no queue row (lost) is queued; one already queued is left alone, so
      running this twice queues nothing twice (extra rows of one dossier are marked failed);
    - `include_failed`: failed builds are queued again too, with a fresh count of attempts.
    """

    now = timezone.now()
    stall = timedelta(seconds=setting("DOSSIER_STALL_SECONDS") if stall_seconds is None else stall_seconds)
    report = SweepReport()
    states = worker_states(now)
    if database_queue():
        report.orphaned_tasks = fail_orphans(states.dead_ids)
    statuses = [DossierStatus.PENDING, DossierStatus.RUNNING]
    if include_failed:
        statuses.append(DossierStatus.FAILED)
    # A first look without locks, from one query of the queue: a dossier queued once, or running
    # with a fresh heartbeat and its row running, is fine; only the others are locked and decided.
    visible = database_queue()
    live = live_build_rows() if visible else {}
    candidates = Dossier.objects.filter(status__in=statuses).order_by("pk")
    for pk, status, beat in candidates.values_list(
        "pk", "status", Coalesce("heartbeat_at", "started_at", "created_at")
    ):
        rows = live.get(pk, [])
        ready = sum(row.status == TaskResultStatus.READY for row in rows)
        running = len(rows) - ready
        if visible and (
            (status == DossierStatus.PENDING and ready == 1 and not running)
            or (status == DossierStatus.RUNNING and beat >= now - stall and running and not ready)
        ):
            continue
        with transaction.atomic():
            _sweep_one(pk, now=now, stall=stall, alive=states.alive_ids, report=report)
    return report


def _sweep_one(pk: int, *, now, stall: timedelta, alive: set[str], report: SweepReport) -> None:
    locked = Dossier.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        return
    queued, running = _queue_state(pk)
    if len(queued) > 1:
        report.duplicates += fail_rows(
            [row.pk for row in queued[1:]],
            "a second queue entry of the same build",
            status=TaskResultStatus.READY,
        )
        queued = queued[:1]
    # A running row is surely alive when its worker's heartbeat is fresh; from a worker that records
    # none (a plain db_worker), it may be alive while it is younger than the stall time.
    maybe_alive = [
        row
        for row in running
        if last_worker(row) in alive or (row.started_at is not None and row.started_at >= now - stall)
    ]
    if locked.status == DossierStatus.FAILED:
        if not (queued or maybe_alive):
            fail_rows([row.pk for row in running], "the build was started again (retry)")
            _requeue(locked, fresh=True)
            report.requeued.append(locked.number)
            logger.warning("dossier %s failed earlier; queued again", locked.number)
        return
    if locked.status == DossierStatus.PENDING:
        if not database_queue() or queued or maybe_alive:
            return  # queued, or just picked up; with another backend the queue cannot be seen
        fail_rows([row.pk for row in running], "the build never started: its worker stopped")
        _requeue(locked, fresh=False)
        report.requeued.append(locked.number)
        logger.warning("dossier %s was waiting without a queued build; queued again", locked.number)
        return
    if locked.status != DossierStatus.RUNNING:
        return
    beat = locked.heartbeat_at or locked.started_at or locked.created_at
    # Rows of workers known to be down were failed before; a running build with no running row
    # has lost its worker even when its last heartbeat is recent.
    if beat >= now - stall and not (database_queue() and not running):
        return  # alive
    fail_rows([row.pk for row in running], "the build stopped without finishing")
    if locked.attempts >= setting("DOSSIER_MAX_ATTEMPTS"):
        fail_rows([row.pk for row in queued], "the build stopped too often", status=TaskResultStatus.READY)
        locked.status, locked.finished_at = DossierStatus.FAILED, timezone.now()
        locked.error = stopped_reason(locked)
        locked.save(update_fields=["status", "finished_at", "error"])
        report.failed.append(locked.number)
        logger.warning(
            "dossier %s failed: the build stopped %d times without finishing", locked.number, locked.attempts
        )
        return
    if queued:  # already queued again: let that row run it
        locked.status, locked.heartbeat_at = DossierStatus.PENDING, None
        locked.save(update_fields=["status", "heartbeat_at"])
    else:
        _requeue(locked, fresh=False)
    report.requeued.append(locked.number)
    logger.warning(
        "dossier %s stopped without finishing (attempt %d of %d); queued again",
        locked.number,
        locked.attempts,
        setting("DOSSIER_MAX_ATTEMPTS"),
    )
