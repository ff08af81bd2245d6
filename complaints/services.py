"""Writes of the complaints app: keeping each case's rule findings current, and ordering, building,
retrying and reissuing dossiers."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from datetime import date, datetime, time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from evidence.audit import audit_append
from evidence.models import AuditHead, Case, Incident

from .letters import request_choices
from .models import Addressee, Dossier, DossierStatus
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
    from evidence.services import profile_for

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
    findings = evaluate(records, pack, profile_for(case.owner).tz) if pack else {}
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
    from django.db import connection

    field = Incident._meta.get_field("violations")
    quote = connection.ops.quote_name
    sql = (f"UPDATE {quote(Incident._meta.db_table)} SET {quote('violations')} = %s, "
           f"{quote('violation_rules')} = %s WHERE {quote('id')} = %s")
    with connection.cursor() as cursor:
        for start in range(0, len(changed), 5000):
            cursor.executemany(sql, [(field.get_db_prep_save(found, connection), rules, pk)
                                     for pk, found, rules in changed[start:start + 5000]])


# --- dossiers -------------------------------------------------------------------------------------

logger = logging.getLogger(__name__)
LANGUAGE_CODES = ("zh-hans", "en")


def incidents_in_period(*, case: Case, date_from: date | None, date_to: date | None, tz):
    incidents = case.incidents.all()
    if date_from:
        incidents = incidents.filter(occurred_at__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to:
        incidents = incidents.filter(occurred_at__lte=datetime.combine(date_to, time.max, tzinfo=tz))
    return incidents


@transaction.atomic
def dossier_create(*, owner, case: Case, addressee: str, language: str = "zh-hans", addressee_name: str = "",
                   date_from: date | None = None, date_to: date | None = None,
                   incident_ids: list[int] | None = None, requests: list[str] | tuple = (),
                   request_text: str = "", reissue_of: Dossier | None = None,
                   rule_pack: str | None = None) -> Dossier:
    """Order a dossier: record what it covers, then build it in the background."""
    from evidence.services import profile_for

    errors: dict[str, list[str]] = {}
    if case.owner_id != owner.pk:
        raise Case.DoesNotExist
    if addressee not in Addressee.values:
        errors["addressee"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(Addressee.values)}]
    if addressee == Addressee.CUSTOM and not addressee_name.strip():
        errors["addressee_name"] = [_("Name the recipient.")]
    if language not in LANGUAGE_CODES:
        errors["language"] = [_("Choose zh-hans or en.")]
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
        chosen = list(in_period.filter(pk__in=wanted).order_by("occurred_at", "id").values_list("pk", flat=True))
    if not chosen and "incidents" not in errors:
        errors["incidents"] = [_("There is no incident to include in this period.")]
    if errors:
        raise ValidationError(errors)

    head = AuditHead.objects.select_for_update().get_or_create(owner=owner)[0]
    dossier = Dossier.objects.create(
        owner=owner, case=case, addressee=addressee, addressee_name=addressee_name.strip(), language=language,
        date_from=date_from, date_to=date_to, rule_pack=rule_pack or case.rule_pack, incident_ids=chosen,
        requests=[code for code, _text in request_choices("en") if code in set(requests)],
        request_text=request_text.strip(), reissue_of=reissue_of, chain_seq=head.seq, chain_hash=head.hash)
    audit_append(owner=owner, action="dossier.order", subject=dossier,
                 payload={"case": case.pk, "addressee": addressee, "language": language,
                          "incidents": len(chosen), "reissue_of": reissue_of.pk if reissue_of else None})
    from .tasks import build_dossier

    build_dossier.enqueue(dossier.pk)
    return dossier


def dossier_reissue(*, dossier: Dossier) -> Dossier:
    """A new dossier with the same choices, over the data as it is now. The old one stays as issued."""
    return dossier_create(owner=dossier.owner, case=dossier.case, addressee=dossier.addressee,
                          language=dossier.language, addressee_name=dossier.addressee_name,
                          date_from=dossier.date_from, date_to=dossier.date_to,
                          requests=dossier.requests, request_text=dossier.request_text, reissue_of=dossier,
                          rule_pack=dossier.rule_pack)


def dossier_retry(*, dossier: Dossier) -> Dossier:
    """Build a dossier again that failed or whose build was interrupted. Issued ones never change."""
    from .tasks import build_dossier

    if dossier.status == DossierStatus.READY:
        return dossier
    with transaction.atomic():
        Dossier.objects.filter(pk=dossier.pk).update(status=DossierStatus.PENDING, progress=0, progress_note="",
                                                     error="")
        build_dossier.enqueue(dossier.pk)
    dossier.refresh_from_db()
    return dossier


def _progress(dossier_id: int, percent: int, note: str) -> None:
    Dossier.objects.filter(pk=dossier_id).update(progress=min(max(percent, 0), 99), progress_note=note)


def signer_fingerprint() -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    from .signing import ensure_signing_identity

    _key, cert_path = ensure_signing_identity()
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return certificate.fingerprint(hashes.SHA256()).hex()


def dossier_build(*, dossier_id: int) -> Dossier:
    """Build, seal, sign and store one dossier. An issued dossier is never rebuilt.

    The work happens outside any long transaction; only the final switch to "ready" (with its
    audit link) is atomic, so an interrupted build never leaves a half-written "ready" dossier.
    """
    from .manifest import build_manifest
    from .pdf import render_pdf
    from .signing import embed_and_sign

    dossier = Dossier.objects.select_related("case", "owner", "reissue_of").get(pk=dossier_id)
    if dossier.status == DossierStatus.READY:
        return dossier
    Dossier.objects.filter(pk=dossier_id).update(status=DossierStatus.RUNNING, started_at=timezone.now(),
                                                 progress=2, progress_note="start", error="")
    try:
        def progress(percent, note):
            _progress(dossier_id, percent, note)

        manifest_bytes, manifest = build_manifest(dossier, progress=progress)
        seal = hashlib.sha256(manifest_bytes).hexdigest()
        pdf, pages, font_warning = render_pdf(manifest, seal=seal, progress=progress,
                                              signer_fingerprint=signer_fingerprint(),
                                              timestamped=bool(getattr(settings, "DOSSIER_TSA_URL", "")))
        progress(90, "signing")
        signed, timestamped = embed_and_sign(pdf, manifest=manifest_bytes,
                                             description=f"Dossier {dossier.number} manifest; seal {seal}")
        pdf_sha = hashlib.sha256(signed).hexdigest()
        name = f"dossiers/{dossier.owner_id}/{pdf_sha}.pdf"
        if not default_storage.exists(name):
            name = default_storage.save(name, ContentFile(signed))
        with transaction.atomic():
            locked = Dossier.objects.select_for_update().get(pk=dossier_id)
            if locked.status == DossierStatus.READY:
                return locked
            locked.manifest = manifest_bytes.decode("utf-8")
            locked.seal, locked.pdf_name, locked.pdf_sha256, locked.pdf_size = seal, name, pdf_sha, len(signed)
            locked.pages, locked.signed, locked.timestamped = pages, True, timestamped
            locked.font_warning = font_warning
            locked.status, locked.progress, locked.progress_note = DossierStatus.READY, 100, "ready"
            locked.finished_at = timezone.now()
            locked.save()
            audit_append(owner=locked.owner, action="dossier.issue", subject=locked,
                         payload={"number": locked.number, "seal": seal, "pdf_sha256": pdf_sha, "pages": pages})
        return locked
    except Exception as exc:
        logger.exception("dossier %s failed", dossier_id)
        Dossier.objects.filter(pk=dossier_id).update(status=DossierStatus.FAILED, error=str(exc)[:2000],
                                                     finished_at=timezone.now())
        return Dossier.objects.get(pk=dossier_id)
