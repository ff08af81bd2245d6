"""A case shared with a helper: a lawyer, a legal-aid worker (法律援助), a relative or a volunteer.

The owner makes an invitation (a role, an expiry, a note) holding a one-time code; the helper's own
account accepts it. Roles:
- read (读): the case, its incidents, evidence, findings and dossiers;
- assist (协助): also logs incidents (marked as entered by the helper), drafts dossiers, logs
  complaints and replies.
Only the owner issues a dossier in their own name, sends a notice, deletes, exports, holds or shares
further. A share ends at its expiry, when the owner revokes it, or with the owner's account.

Every look and every write a helper makes on a shared case is appended to the *owner's* audit chain
(action "helper.<what>", with the helper's id and name), so the owner's access log is as tamper-evident
as the evidence and `verify_evidence` notices a removed entry.

Isolation: a case not shared with a user (or no longer) is simply not found (404), as for strangers;
a helper who can see a case but asks for more than their role allows gets 403.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import profile_for
from ledger.chain import audit_append
from ledger.models import AuditEvent

from .models import Case, CaseShare, EvidenceFile, Incident, ShareRole

DEFAULT_DAYS = 30
LONGEST_DAYS = 366
# Codes people can read out or type: no 0/O, 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12

OWNER = "owner"
READ = ShareRole.READ.value
ASSIST = ShareRole.ASSIST.value
_RANK = {READ: 1, ASSIST: 2, OWNER: 3}


class ShareForbidden(PermissionDenied):
    """The helper can see the case but may not do this (403; Django's PermissionDenied, so pages
    answer 403 too)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def owner_only_message() -> str:
    return _("Only the case's owner can do this; a helper cannot.")


def not_found_message() -> str:
    return _("Not found.")


def _digest(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode("ascii", "ignore")).hexdigest()


def normalise_code(code: str) -> str:
    """What a person types: any case, with or without dashes and spaces."""
    return "".join(ch for ch in str(code or "").upper() if ch in CODE_ALPHABET)


def format_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def _active(now: datetime | None = None) -> Q:
    now = now or timezone.now()
    return Q(accepted_at__isnull=False, revoked_at__isnull=True, expires_at__gt=now)


def active_shares(user) -> QuerySet:
    """The shares through which `user` helps on someone else's case, now."""
    if not getattr(user, "is_authenticated", False):
        return CaseShare.objects.none()
    return CaseShare.objects.filter(_active(), helper=user).exclude(case__owner=user)


def readable_cases(user) -> QuerySet:
    """The user's own cases and the cases shared with them now."""
    shared = active_shares(user).values("case_id")
    return Case.objects.filter(Q(owner=user) | Q(pk__in=shared))


def role_on(user, case: Case) -> str | None:
    """owner, read, assist, or None (not visible to this user)."""
    if not getattr(user, "is_authenticated", False):
        return None
    if case.owner_id == user.pk:
        return OWNER
    roles = set(active_shares(user).filter(case=case).values_list("role", flat=True))
    if ASSIST in roles:
        return ASSIST
    return READ if READ in roles else None


def roles_by_case(user) -> dict[int, str]:
    """{case id: role} for every case shared with the user (the strongest active share)."""
    roles: dict[int, str] = {}
    for case_id, role in active_shares(user).values_list("case_id", "role"):
        if _RANK[role] > _RANK.get(roles.get(case_id, ""), 0):
            roles[case_id] = role
    return roles


def _need(role: str | None, need: str) -> None:
    if role is None:
        raise Http404
    if _RANK[role] < _RANK[need]:
        if need == OWNER:
            raise ShareForbidden(owner_only_message())
        raise ShareForbidden(_("Your role on this shared case is read only."))


def case_with_role(user, pk, need: str = READ) -> tuple[Case, str]:
    """The case and the user's role on it: 404 if the user cannot see it, ShareForbidden (403) if
    the role is below `need`."""
    case = get_object_or_404(readable_cases(user), pk=pk)
    role = role_on(user, case)
    _need(role, need)
    return case, role


def incident_with_role(user, pk, need: str = READ) -> tuple[Incident, str]:
    incident = get_object_or_404(
        Incident.objects.filter(case__in=readable_cases(user)).select_related("case"), pk=pk
    )
    role = role_on(user, incident.case)
    _need(role, need)
    return incident, role


def evidence_with_role(user, pk, need: str = READ) -> tuple[EvidenceFile, str]:
    evidence = get_object_or_404(
        EvidenceFile.objects.filter(incident__case__in=readable_cases(user)).select_related("incident__case"),
        pk=pk,
    )
    role = role_on(user, evidence.incident.case)
    _need(role, need)
    return evidence, role


def helper_name(user) -> str:
    if user is None:
        return ""
    return profile_for(user).display_name.strip() or user.get_username()


# --- the owner's side --------------------------------------------------------------------------


@transaction.atomic
def share_create(
    *, case: Case, role: str, expires_at: datetime | None = None, note: str = ""
) -> tuple[CaseShare, str]:
    """An invitation to the case; returns the share and its code (shown once, only a digest kept)."""
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    if role not in (READ, ASSIST):
        errors["role"] = [_("Choose read or assist.")]
    if expires_at is None:
        expires_at = now + timedelta(days=DEFAULT_DAYS)
    elif expires_at <= now:
        errors["expires_at"] = [_("The expiry must be in the future.")]
    elif expires_at > now + timedelta(days=LONGEST_DAYS):
        errors["expires_at"] = [_("A share can last at most a year; make a new one later.")]
    note = (note or "").strip()
    if len(note) > 200:
        errors["note"] = [_("Keep the note under 200 characters.")]
    if errors:
        raise ValidationError(errors)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    share = CaseShare.objects.create(
        case=case,
        role=role,
        note=note,
        code_digest=_digest(code),
        code_prefix=code[:4],
        created_at=now,
        expires_at=expires_at,
    )
    audit_append(
        owner=case.owner,
        action="share.create",
        subject=share,
        payload={"case": case.pk, "role": role, "expires_at": expires_at, "note": note},
    )
    return share, code


@transaction.atomic
def share_revoke(*, share: CaseShare) -> CaseShare:
    share = CaseShare.objects.select_for_update().get(pk=share.pk)
    if share.revoked_at is None:
        share.revoked_at = timezone.now()
        share.save(update_fields=["revoked_at"])
        audit_append(
            owner=share.case.owner,
            action="share.revoke",
            subject=share,
            payload={"case": share.case_id, "helper": share.helper_id},
        )
    return share


@transaction.atomic
def share_set_agent(*, share: CaseShare, agent: bool) -> CaseShare:
    """The owner names (or stops naming) an active helper as 代理人: letters built from now print the
    helper's name and contact. One helper at a time per case."""
    share = CaseShare.objects.select_for_update().select_related("case").get(pk=share.pk)
    if agent and share.state != "active":
        raise ValidationError(_("Only a helper who has accepted, on a share still running, can be named."))
    if agent:
        CaseShare.objects.filter(case=share.case, agent=True).exclude(pk=share.pk).update(agent=False)
    if share.agent != agent:
        share.agent = agent
        share.save(update_fields=["agent"])
        audit_append(
            owner=share.case.owner,
            action="share.agent",
            subject=share,
            payload={"case": share.case_id, "helper": share.helper_id, "agent": agent},
        )
    return share


def case_agent(case: Case):
    """The helper the owner named as 代理人, while that share runs: (name, phone) or None."""
    share = (
        CaseShare.objects.filter(_active(), case=case, agent=True)
        .select_related("helper")
        .order_by("-pk")
        .first()
    )
    if share is None or share.helper is None:
        return None
    return helper_name(share.helper), profile_for(share.helper).phone.strip()


def shares_of(case: Case) -> QuerySet:
    return case.shares.select_related("helper").order_by("-created_at", "-id")


# --- the helper's side -------------------------------------------------------------------------


@transaction.atomic
def share_accept(*, helper, code: str) -> CaseShare:
    """The helper's account takes the invitation. A wrong, expired, revoked or used code gets a
    clear error and changes nothing."""
    normal = normalise_code(code)
    if len(normal) != CODE_LENGTH:
        raise ValidationError({"code": [_("That is not an invitation code: it has 12 letters and digits.")]})
    share = (
        CaseShare.objects.select_for_update()
        .select_related("case")
        .filter(code_digest=_digest(normal))
        .first()
    )
    if share is None:
        raise ValidationError(
            {"code": [_("No invitation has this code. Check it with the person who sent it.")]}
        )
    if share.revoked_at:
        raise ValidationError({"code": [_("This invitation was withdrawn by the case's owner.")]})
    if share.expires_at <= timezone.now():
        raise ValidationError({"code": [_("This invitation has expired. Ask for a new one.")]})
    if share.accepted_at:
        if share.helper_id == helper.pk:
            return share  # the same helper following the link again
        raise ValidationError({"code": [_("This invitation has already been used. Ask for a new one.")]})
    if share.case.owner_id == helper.pk:
        raise ValidationError({"code": [_("This is your own case; send the code to your helper.")]})
    share.helper = helper
    share.accepted_at = timezone.now()
    share.save(update_fields=["helper", "accepted_at"])
    audit_append(
        owner=share.case.owner,
        action="share.accept",
        subject=share,
        payload={"case": share.case_id, "helper": helper.pk, "name": helper_name(helper), "role": share.role},
    )
    return share


# --- every look on the record ------------------------------------------------------------------


def record(*, user, case: Case, action: str, subject, label: str = "") -> None:
    """Append a helper's action on the owner's case to the owner's chain; nothing for the owner's
    own actions (those have their own audit events)."""
    if user is None or case.owner_id == getattr(user, "pk", None):
        return
    with transaction.atomic():
        audit_append(
            owner=case.owner,
            action=f"helper.{action}",
            subject=subject,
            payload={"case": case.pk, "helper": user.pk, "name": helper_name(user), "object": label},
        )


def access_log(case: Case) -> list[dict]:
    """The helpers' actions on the case, newest first."""
    events = (
        AuditEvent.objects.filter(owner_id=case.owner_id, action__startswith="helper.", payload__case=case.pk)
        .order_by("-seq")
        .values("action", "payload", "at", "subject_type", "subject_id")
    )
    return [
        {
            "who": event["payload"].get("name", ""),
            "helper": event["payload"].get("helper"),
            "action": event["action"].removeprefix("helper."),
            "object": event["payload"].get("object") or f"{event['subject_type']} {event['subject_id']}",
            "at": event["at"],
        }
        for event in events
    ]


@transaction.atomic
def shares_end_for_owner(*, owner) -> int:
    """The owner's account is going: every share of their cases ends now."""
    return CaseShare.objects.filter(case__owner=owner, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
