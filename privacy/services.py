"""Every write of export and deletion: ordering an export, putting a case on hold and lifting it,
deleting a case, deleting an account. Keyword-only, each in one transaction.

Deleting goes through here whoever asks (the owner on a page or through the API, an administrator
in the admin): rows go in one transaction, with every blob they pointed to written down as a
`BlobPurge` in the same transaction, and destroyed once it commits (privacy.storage). A case on
hold (a lawsuit pending) refuses every deletion, of the case and of the account, until the hold is
lifted; evidence.services refuses deleting its incidents and files too.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from accounts.models import ApiToken
from complaints.models import Dossier, DossierStatus
from evidence.models import Case, EvidenceFile, PhoneImport
from evidence.services import EvidenceRejected
from evidence.sharing import share_forget_owner
from ledger.chain import audit_append
from ledger.models import AuditHead
from ledger.records import chain_closed_write

from .models import Export, ExportStatus, Tombstone, TombstoneKind
from .storage import purge_schedule, thumbnail_names, versioned
from .tasks import build_export, purge_deleted


class DeletionRefused(EvidenceRejected):
    """A deletion that is refused (a case on hold); carries the API's code and HTTP status."""


class HoldKept(EvidenceRejected):
    """Lifting a hold without the owner's password (missing or wrong): the hold stays (403)."""


# --- export --------------------------------------------------------------------------------------


@transaction.atomic
def export_create(*, owner) -> Export:
    """Order an export of everything the owner keeps; it is built in the background. While one is
    waiting or being built, ordering again returns that one."""
    get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
    running = Export.objects.for_owner(owner).filter(status__in=[ExportStatus.PENDING, ExportStatus.RUNNING])
    if (existing := running.first()) is not None:
        return existing
    export = Export.objects.create(owner=owner)
    audit_append(owner=owner, action="export.create", subject=export, payload={})
    # Queued in the transaction that orders it (the database backend), like a dossier build.
    build_export.enqueue(export.pk)
    export.refresh_from_db()
    return export


# --- legal hold ----------------------------------------------------------------------------------


@transaction.atomic
def case_hold(*, case: Case, reason: str) -> Case:
    """Put a case on hold: nothing in it can be deleted until the hold is lifted."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the case is on hold, e.g. “lawsuit pending”.")]})
    if len(reason) > 200:
        raise ValidationError({"reason": [_("At most 200 characters.")]})
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.hold_at is None:
        case.hold_at = timezone.now()
    case.hold_reason = reason
    case.save(update_fields=["hold_at", "hold_reason", "updated_at"])
    audit_append(
        owner=case.owner, action="case.hold", subject=case, payload={"since": case.hold_at, "reason": reason}
    )
    return case


def case_release(*, case: Case, password: str | None) -> Case:
    """Lift a case's hold: its records can be deleted again. Only with the owner's password: a
    hold guards against deletion by whoever holds a session or an API token, so neither alone may
    lift it. Raises HoldKept (nothing changes) when the password is missing or wrong."""
    if not password:
        raise HoldKept(
            code="password_required",
            status=403,
            message=_("Lifting a hold needs your password. The hold stays."),
        )
    if not case.owner.check_password(password):
        raise HoldKept(
            code="wrong_password",
            status=403,
            message=_("The password is not right. The hold stays."),
        )
    return _case_release(case=case)


@transaction.atomic
def _case_release(*, case: Case) -> Case:
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.hold_at is None:
        return case
    before = {"since": case.hold_at, "reason": case.hold_reason}
    case.hold_at, case.hold_reason = None, ""
    case.save(update_fields=["hold_at", "hold_reason", "updated_at"])
    audit_append(owner=case.owner, action="case.release", subject=case, payload={"before": before})
    return case


def hold_message(cases) -> str:
    described = "; ".join(
        _("“%(title)s”, on hold since %(date)s (%(reason)s)")
        % {
            "title": case.title,
            "date": formats.date_format(timezone.localtime(case.hold_at), "Y-m-d"),
            "reason": case.hold_reason,
        }
        for case in cases
    )
    return _(
        "Nothing was deleted: %(cases)s. Lift the hold first; while it lasts nothing in the case can be deleted."
    ) % {"cases": described}


def _refuse_held(cases) -> None:
    held = [case for case in cases if case.hold_at is not None]
    if held:
        raise DeletionRefused(code="case_on_hold", status=409, message=hold_message(held))


def _check_password(user, password: str | None) -> None:
    if not user.check_password(password or ""):
        raise ValidationError({"password": [_("The password is not right. Nothing was deleted.")]})


# --- what a deletion means ------------------------------------------------------------------------


def retention_estimate(*, owner, case: Case | None = None):
    """On object storage with Object Lock retention: the latest day a blob of these records stays
    stored (written + EVIDENCE_S3_RETENTION_DAYS). None when blobs go at once."""
    days = getattr(settings, "EVIDENCE_S3_RETENTION_DAYS", 0)
    if not (versioned() and days):
        return None
    files = EvidenceFile.all_objects.filter(owner=owner)
    dossiers = Dossier.objects.for_owner(owner)
    imports = PhoneImport.objects.filter(owner=owner)
    if case is not None:
        files, dossiers, imports = (
            files.filter(incident__case=case),
            dossiers.filter(case=case),
            imports.filter(case=case),
        )
    moments = [
        files.aggregate(m=Max("received_at"))["m"],
        dossiers.aggregate(m=Max("finished_at"))["m"],
        imports.aggregate(m=Max("created_at"))["m"],
    ]
    if case is None:
        moments.append(Export.objects.for_owner(owner).aggregate(m=Max("finished_at"))["m"])
    latest = max((m for m in moments if m), default=None)
    return latest + timedelta(days=days) if latest else None


def _issued_seals(dossiers) -> list[dict]:
    return [
        {"number": d.number, "seal": d.seal, "pdf_sha256": d.pdf_sha256, "issued_at": d.finished_at}
        for d in dossiers.filter(status=DossierStatus.READY).order_by("pk")
    ]


def _jsonable_seals(seals: list[dict]) -> list[dict]:
    return [{**s, "issued_at": s["issued_at"].isoformat() if s["issued_at"] else None} for s in seals]


def _end_sessions(user_id: int) -> int:
    """Log the account out everywhere (sessions kept in the database; other engines lose the user
    with the row anyway: a session naming a deleted user is anonymous)."""
    if "db" not in settings.SESSION_ENGINE:
        return 0
    store = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == str(user_id):
            store(session_key=session.session_key).delete()
            ended += 1
    return ended


# --- deleting a case -----------------------------------------------------------------------------


def case_delete(*, case: Case, password: str | None, requested_by: str = "owner") -> Tombstone:
    """Delete a case with everything in it: incidents, evidence (files kept for an issued dossier
    too), phone imports, dossiers, and the owner's exports (they hold the case). The owner's audit
    chain records the deletion and keeps its earlier links: it is one chain, and cutting links out
    would break every later one and the chain heads printed in dossiers already sent."""
    if requested_by == "owner":
        _check_password(case.owner, password)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        _refuse_held([case])
        owner = case.owner
        files = EvidenceFile.all_objects.filter(incident__case=case)
        names = set(files.values_list("storage_name", flat=True))
        sha256s = set(files.values_list("sha256", flat=True))
        imports = PhoneImport.objects.filter(case=case)
        names |= set(imports.values_list("storage_name", flat=True))
        dossiers = Dossier.objects.filter(case=case)
        names |= {n for n in dossiers.values_list("pdf_name", flat=True) if n}
        exports = Export.objects.for_owner(owner)
        export_names = {n for n in exports.values_list("storage_name", flat=True) if n}
        counts = {
            "incidents": case.incidents.count(),
            "evidence_files": files.count(),
            "evidence_bytes": files.aggregate(total=Sum("size"))["total"] or 0,
            "imports": imports.count(),
            "dossiers": dossiers.count(),
            "exports": exports.count(),
        }
        seals = _issued_seals(dossiers)
        # verify_evidence replays the chain: each incident's deletion is one link, as when the
        # owner deletes one incident; the case's own link says why.
        for incident in case.incidents.order_by("pk").only("pk").iterator():
            audit_append(
                owner=owner,
                action="incident.delete",
                subject=incident,
                payload={"case": case.pk, "with_case": True},
            )
        audit_append(owner=owner, action="case.delete", subject=case, payload={"counts": counts})
        head = AuditHead.objects.get(owner=owner)
        tombstone = Tombstone.objects.create(
            kind=TombstoneKind.CASE,
            subject_id=case.pk,
            owner_id_was=owner.pk,
            requested_by=requested_by,
            chain_seq=head.seq,
            chain_hash=head.hash,
            counts=counts,
            issued_seals=_jsonable_seals(seals),
        )
        exports.delete()
        case.delete()
        # A blob goes when nothing left refers to it (the same file may be kept in another case).
        orphaned = {
            n
            for n in names
            if not (
                EvidenceFile.all_objects.filter(storage_name=n).exists()
                or PhoneImport.objects.filter(storage_name=n).exists()
                or Dossier.objects.filter(pdf_name=n).exists()
            )
        }
        kept_sha = set(
            EvidenceFile.all_objects.filter(owner=owner, sha256__in=sha256s).values_list("sha256", flat=True)
        )
        orphaned |= set(thumbnail_names(owner.pk, sha256s - kept_sha)) | export_names
        purge_schedule(names=orphaned, tombstone=tombstone)
        transaction.on_commit(lambda: purge_deleted.enqueue(tombstone.pk))
    return tombstone


# --- deleting an account -------------------------------------------------------------------------


def account_delete(*, user, password: str | None, requested_by: str = "owner") -> Tombstone:
    """Delete an account and everything it keeps.

    API tokens stop at once and every session ends; cases, incidents, evidence, imports, dossiers,
    exports, the profile and the audit chain are deleted; every blob is destroyed (on object storage
    with retention: when that retention ends, hidden until then). A Tombstone (see its docstring)
    is all that stays. Refused, with nothing changed, while any case is on hold."""
    if requested_by == "owner":
        _check_password(user, password)
    with transaction.atomic():
        user = get_user_model().objects.select_for_update().get(pk=user.pk)
        cases = list(Case.objects.select_for_update().filter(owner=user).order_by("pk"))
        _refuse_held(cases)
        files = EvidenceFile.all_objects.filter(owner=user)
        dossiers = Dossier.objects.for_owner(user)
        head = AuditHead.objects.filter(owner=user).values_list("seq", "hash").first() or (0, "")
        counts = {
            "cases": len(cases),
            "incidents": sum(case.incidents.count() for case in cases),
            "evidence_files": files.count(),
            "evidence_bytes": files.aggregate(total=Sum("size"))["total"] or 0,
            "imports": PhoneImport.objects.filter(owner=user).count(),
            "dossiers": dossiers.count(),
            "exports": Export.objects.for_owner(user).count(),
            "audit_events": head[0],
        }
        tombstone = Tombstone.objects.create(
            kind=TombstoneKind.ACCOUNT,
            subject_id=user.pk,
            owner_id_was=user.pk,
            requested_by=requested_by,
            chain_seq=head[0],
            chain_hash=head[1],
            counts=counts,
            issued_seals=_jsonable_seals(_issued_seals(dossiers)),
        )
        names = set(files.values_list("storage_name", flat=True))
        names |= set(PhoneImport.objects.filter(owner=user).values_list("storage_name", flat=True))
        names |= {n for n in dossiers.values_list("pdf_name", flat=True) if n}
        names |= {n for n in Export.objects.for_owner(user).values_list("storage_name", flat=True) if n}
        # Tokens first (so nothing authenticates while the rest goes), then sessions, then rows.
        ApiToken.objects.filter(user=user).delete()
        _end_sessions(user.pk)
        user_id = user.pk
        user.delete()
        # Every blob the rows named, and whatever else lies in the account's folders.
        purge_schedule(names=names, owner_folders_of=user_id, tombstone=tombstone)
        # The heads recorded in the store (ledger.records) now describe a chain deleted on purpose.
        chain_closed_write(owner_id=user_id, seq=head[0], digest=head[1])
        transaction.on_commit(lambda: purge_deleted.enqueue(tombstone.pk))
        # Files shared into the app and not yet filed (evidence.sharing) go with the account.
        transaction.on_commit(lambda: share_forget_owner(owner_id=user_id))
    return tombstone
