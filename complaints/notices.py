"""The written stop-contact notice (书面告知函): its text in the person's language, a sealed and signed
PDF like a dossier's, and the record of when and how it was sent.

Once sent, the notice's date, channel and hours go into the case's rule context, so every later
contact outside them (and every third-party contact) is found by the rule packs' `after_notice` rule.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import language_codes
from accounts.services import profile_for
from evidence.models import Case, IncidentKind, Provenance
from evidence.services import evidence_store, incident_create
from ledger.chain import audit_append
from ledger.models import canonical_json
from ledger.records import ids_after_recorded, seal_record_write

from .context import case_rule_context_refresh
from .dossier_texts import mask_phone
from .manifest import product_name, verify_address
from .models import AllowedChannel, Channel, IssuedSeal, StopNotice
from .notice_data import notice_number, notice_texts
from .signing import embed_and_sign

FORMAT = "collection-evidence-notice/1"
DEFAULT_HOURS = (time(9, 0), time(20, 0))
CHINA_ZONES = ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "Asia/Urumqi", "PRC")


def parse_hours(value: str) -> tuple[time, time]:
    """ "09:00-20:00" → (09:00, 20:00); raises ValueError for anything else."""
    start, _sep, end = (value or "").replace("–", "-").partition("-")
    hours = (time.fromisoformat(start.strip()), time.fromisoformat(end.strip()))
    if hours[0] == hours[1]:
        raise ValueError("empty window")
    return hours


def notice_paragraphs(*, language: str, facts: dict) -> list[str]:
    """The notice's paragraphs (title first), from its sealed facts."""
    t = notice_texts()[language]
    sender, terms = facts["sender"], facts["terms"]
    account = t["account"].format(hint=sender["account_hint"]) if sender["account_hint"] else ""
    values = {
        "lender": facts["recipient"]["lender_name"] or facts["recipient"]["product"],
        "product": facts["recipient"]["product"],
        "name": sender["name"],
        "phone": sender["phone"] or "—",
        "account": account,
        "channel": t[f"channel_{terms['channel']}"],
        "start": terms["hours"]["from"],
        "end": terms["hours"]["until"],
        "tz": t["beijing_time"]
        if facts["notice"]["time_zone"] in CHINA_ZONES
        else facts["notice"]["time_zone"],
        "date": facts["notice"]["date"],
        "number": facts["notice"]["number"],
    }
    keys = ["title", "to", "intro", "item_channel", "item_third", "item_consent", "item_willing"]
    keys += ["item_confirm", "record", "signature", "date", "number"]
    return [t[key].format(**values) for key in keys]


def notice_facts(*, notice: StopNotice) -> dict:
    """Every fact the notice states, as sealed in its manifest."""
    profile = profile_for(notice.owner)
    case = notice.case
    local = timezone.localtime(notice.created_at, profile.tz)
    facts = {
        "format": FORMAT,
        "notice": {
            "number": f"TZ-{local:%Y%m%d}-{notice.pk:06d}",
            "created_at": notice.created_at.astimezone(UTC).isoformat(),
            "date": local.date().isoformat(),
            "language": notice.language,
            "time_zone": profile.time_zone,
            "case": case.pk,
            "verify_url": verify_address(),
        },
        "sender": {
            "name": profile.display_name or notice.owner.get_username(),
            # The lender knows the account by its login phone; masked, as in a dossier.
            "phone": mask_phone(profile.phone) if profile.phone else "",
            "account_hint": case.account_hint,
        },
        "recipient": {
            "lender_name": case.lender_name,
            "creditor": case.creditor,
            "product": product_name(case.creditor, notice.language),
        },
        "terms": {
            "channel": notice.allowed_channel,
            "hours": {"from": f"{notice.hours_from:%H:%M}", "until": f"{notice.hours_until:%H:%M}"},
            "third_parties": "none",
            "consent_withdrawn": "contacts_data",
        },
    }
    facts["paragraphs"] = notice_paragraphs(language=notice.language, facts=facts)
    return facts


@transaction.atomic
def notice_create(
    *,
    owner,
    case: Case,
    allowed_channel: str = AllowedChannel.APP_MESSAGE,
    allowed_hours: tuple[time, time] | None = None,
    language: str | None = None,
) -> StopNotice:
    """Make a dated notice: its text, its manifest and seal, the signed PDF (stored), an audit link."""
    if case.owner_id != owner.pk:
        raise Case.DoesNotExist
    language = language or profile_for(owner).language
    errors = {}
    if allowed_channel not in AllowedChannel.values:
        errors["allowed_channel"] = [
            _("Choose one of: %(choices)s.") % {"choices": ", ".join(AllowedChannel.values)}
        ]
    if language not in language_codes():
        errors["language"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(language_codes())}]
    start, end = allowed_hours or DEFAULT_HOURS
    if start == end:
        errors["allowed_hours"] = [_("Give the hours as a start and an end, e.g. 09:00-20:00.")]
    if errors:
        raise ValidationError(errors)
    # A notice's number is its id: after a restore the id comes after every one given before it.
    ids_after_recorded(StopNotice, "notice")
    notice = StopNotice.objects.create(
        owner=owner,
        case=case,
        language=language,
        allowed_channel=allowed_channel,
        hours_from=start,
        hours_until=end,
        text="",
        manifest="",
        seal="",
        pdf_name="",
        pdf_sha256="",
        pdf_size=0,
    )
    facts = notice_facts(notice=notice)
    manifest = canonical_json(facts)
    seal = hashlib.sha256(manifest).hexdigest()
    verify_url = f"{facts['notice']['verify_url']}?{urlencode({'seal': seal})}"
    # The renderer (reportlab) loads with the first notice drawn, not with every web process.
    from .pdf.notice import render_notice_pdf  # noqa: PLC0415

    pdf = render_notice_pdf(facts, seal=seal, verify_url=verify_url)
    number = facts["notice"]["number"]
    signed, _timestamped = embed_and_sign(pdf, manifest=manifest, description=f"Notice {number}; seal {seal}")
    pdf_sha = hashlib.sha256(signed).hexdigest()
    name = f"notices/{owner.pk}/{pdf_sha}.pdf"
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(signed))
    notice.text = "\n\n".join(facts["paragraphs"])
    notice.manifest = manifest.decode("utf-8")
    notice.seal, notice.pdf_name, notice.pdf_sha256, notice.pdf_size = seal, name, pdf_sha, len(signed)
    notice.save()
    # The verify page then says "issued by this server" for the notice too.
    issued, _created = IssuedSeal.objects.get_or_create(
        seal=seal,
        defaults={
            "number": number,
            "pdf_sha256": pdf_sha,
            "created_at": notice.created_at,
            "finished_at": timezone.now(),
        },
    )
    link = audit_append(
        owner=owner,
        action="notice.create",
        subject=notice,
        payload={
            "case": case.pk,
            "number": number,
            "seal": seal,
            "pdf_sha256": pdf_sha,
            "terms": facts["terms"],
        },
    )
    # Last: the store remembers the notice even if a backup taken before it is restored.
    seal_record_write(
        kind="notice",
        object_id=notice.pk,
        owner_id=owner.pk,
        number=number,
        seal=seal,
        pdf_sha256=pdf_sha,
        created_at=notice.created_at,
        issued_at=issued.finished_at,
        chain_seq=link.seq,
        chain_hash=link.hash,
    )
    return notice


def _check_sent_at(value: datetime, errors: dict, field: str = "sent_at") -> None:
    if value is None or timezone.is_naive(value):
        errors[field] = [_("Enter the date and time with a time zone.")]
    elif value > timezone.now() + timedelta(minutes=10):
        errors[field] = [_("This time is in the future.")]
    elif value.year < 2000:
        errors[field] = [_("This date is too far in the past.")]


def notice_mark_sent(*, notice: StopNotice, sent_at: datetime, channel: str, proof=None) -> StopNotice:
    """Record when and how the notice was sent. `proof` (an upload: a screenshot of the chat, a
    recording of the call) is kept as evidence under an incident of the case: the person's own entry,
    which no rule judges. Then every later contact outside the notice's terms is found."""
    errors: dict = {}
    _check_sent_at(sent_at, errors)
    if channel not in Channel.values:
        errors["channel"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(Channel.values)}]
    if notice.sent_at is not None:
        errors["sent_at"] = [_("This notice is already marked as sent.")]
    elif (
        "sent_at" not in errors
        and notice.created_at
        and sent_at < notice.created_at.replace(second=0, microsecond=0)
    ):
        # A notice cannot have been sent before it was written (its number carries that date).
        errors["sent_at"] = [
            _("A notice cannot be sent before it was created (%(created)s).")
            % {"created": timezone.localtime(notice.created_at).strftime("%Y-%m-%d %H:%M")}
        ]
    if errors:
        raise ValidationError(errors)
    number = notice_number(notice)

    def finish(evidence=None, incident=None):
        locked = StopNotice.objects.select_for_update().get(pk=notice.pk)
        if locked.sent_at is not None:
            raise ValidationError({"sent_at": [_("This notice is already marked as sent.")]})
        locked.sent_at, locked.sent_channel = sent_at, channel
        locked.proof, locked.proof_incident = evidence, incident
        locked.save(update_fields=["sent_at", "sent_channel", "proof", "proof_incident"])
        audit_append(
            owner=locked.owner,
            action="notice.sent",
            subject=locked,
            payload={
                "number": number,
                "sent_at": sent_at,
                "channel": channel,
                "proof": evidence.sha256 if evidence else None,
            },
        )
        case_rule_context_refresh(case=locked.case)
        for key in ("sent_at", "sent_channel", "proof_id", "proof_incident_id"):
            setattr(notice, key, getattr(locked, key))

    with transaction.atomic():
        if proof is None:
            finish()
        else:
            with translation.override(profile_for(notice.owner).language):
                description = _("Stop-contact notice %(number)s sent (%(channel)s).") % {
                    "number": number,
                    "channel": Channel(channel).label,
                }
            incident = incident_create(
                case=notice.case,
                kind=IncidentKind.LETTER,
                occurred_at=sent_at,
                refresh=False,
                counterpart_name=(notice.case.lender_name or "")[:100],
                description=description,
            )
            evidence_store(
                incident=incident,
                upload=proof,
                provenance=Provenance.UPLOADED,
                on_stored=lambda evidence: finish(evidence, incident),
            )
    return notice
