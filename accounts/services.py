"""Every write to accounts: profiles and API tokens, each in one transaction with its audit link."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ledger.chain import audit_append

from .models import ApiToken, InviteCode, Profile


def profile_for(user) -> Profile:
    profile, _created = Profile.objects.get_or_create(user=user)
    return profile


@transaction.atomic
def profile_update(*, profile: Profile, **fields) -> Profile:
    before = {k: getattr(profile, k) for k in fields}
    for key, value in fields.items():
        setattr(profile, key, value)
    profile.full_clean()
    profile.save()
    audit_append(
        owner=profile.user,
        action="profile.update",
        subject=profile,
        payload={"before": before, "after": fields},
    )
    return profile


@transaction.atomic
def token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """Make a token and return it with its secret; only the secret's digest is stored."""
    secret = "cel_" + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user, name=name.strip() or "token", prefix=secret[:10], digest=ApiToken.digest_of(secret)
    )
    token.full_clean()
    token.save()
    audit_append(
        owner=user, action="token.create", subject=token, payload={"name": token.name, "prefix": token.prefix}
    )
    return token, secret


@transaction.atomic
def token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_append(owner=token.user, action="token.revoke", subject=token, payload={"prefix": token.prefix})
    return token


@transaction.atomic
def tokens_revoke_all(*, user, reason: str) -> int:
    """Revoke every active token of the user (after a password change); one audit link."""
    active = list(ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True))
    if not active:
        return 0
    now = timezone.now()
    ApiToken.objects.filter(pk__in=[t.pk for t in active]).update(revoked_at=now)
    audit_append(
        owner=user,
        action="token.revoke_all",
        subject=user,
        payload={"reason": reason, "prefixes": [t.prefix for t in active]},
    )
    return len(active)


def invite_create(*, count: int = 1, note: str = "") -> list[str]:
    """Make invite codes and return them; only their digests are stored."""
    codes = []
    for _n in range(count):
        code = "-".join(secrets.token_hex(2).upper() for _part in range(4))
        InviteCode.objects.create(digest=InviteCode.digest_of(code), prefix=code[:4], note=note[:200])
        codes.append(code)
    return codes


def invite_redeem(*, code: str, user) -> InviteCode:
    """Use one code for one new account, in the sign-up's transaction; a used or unknown code is refused."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("invite_redeem must run inside the sign-up's transaction")
    invite = InviteCode.objects.select_for_update().filter(digest=InviteCode.digest_of(code or "")).first()
    if invite is None or invite.used_at is not None:
        raise ValidationError({"invite_code": [_("This invite code is not valid or has been used.")]})
    invite.used_at, invite.used_by = timezone.now(), user
    invite.save(update_fields=["used_at", "used_by"])
    return invite
