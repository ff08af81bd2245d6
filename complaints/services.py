"""Writes of the complaints app: keeping each case's rule findings current, and ordering, building,
retrying and reissuing dossiers."""

from __future__ import annotations

import logging
from datetime import date, datetime, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import language_codes
from accounts.services import profile_for
from evidence.models import Case
from evidence.rules import available_packs
from ledger.chain import audit_append
from ledger.models import AuditHead

from .letters import request_choices
from .models import Addressee, Dossier, DossierStatus
from .tasks import build_dossier

# --- dossiers -------------------------------------------------------------------------------------

logger = logging.getLogger(__name__)


def incidents_in_period(*, case: Case, date_from: date | None, date_to: date | None, tz):
    incidents = case.incidents.all()
    if date_from:
        incidents = incidents.filter(occurred_at__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to:
        incidents = incidents.filter(occurred_at__lte=datetime.combine(date_to, time.max, tzinfo=tz))
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
) -> Dossier:
    """Order a dossier: record what it covers, then build it in the background."""

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
    if date_from and date_to and date_from > date_to:
        errors["date_to"] = [_("The end date is before the start date.")]
    known_requests = {code for code, _text in request_choices("en")}
    if any(code not in known_requests for code in requests):
        errors["requests"] = [_("Choose from: %(choices)s.") % {"choices": ", ".join(sorted(known_requests))}]
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
        chain_seq=head.seq,
        chain_hash=head.hash,
    )
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
        },
    )

    build_dossier.enqueue(dossier.pk)
    return dossier


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
        rule_pack=dossier.rule_pack,
    )


def dossier_retry(*, dossier: Dossier) -> Dossier:
    """Build a dossier again that failed or whose build was interrupted. Issued ones never change."""

    if dossier.status == DossierStatus.READY:
        return dossier
    with transaction.atomic():
        Dossier.objects.filter(pk=dossier.pk).update(
            status=DossierStatus.PENDING, progress=0, progress_note="", error=""
        )
        build_dossier.enqueue(dossier.pk)
    dossier.refresh_from_db()
    return dossier
