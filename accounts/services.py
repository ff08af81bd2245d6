"""Every write to accounts: profiles, API tokens, recovery codes and the e-mail address, each in one
transaction with its audit link."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import EmailValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.mail import header_safe
from ledger.chain import audit_append

from .models import ApiToken, InviteCode, Profile, RecoveryCode


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


# --- recovery without e-mail ------------------------------------------------------------------------

RECOVERY_CODE_COUNT = 10


def _recovery_code() -> str:
    """16 symbols of Crockford's base32 (80 bits) in four groups of four joined by dashes,
    e.g. "7K3M-Q9TB-0ZRW-4HDA"."""
    symbols = "".join(secrets.choice(RecoveryCode.ALPHABET) for _n in range(16))
    return "-".join(symbols[i : i + 4] for i in range(0, 16, 4))


@transaction.atomic
def recovery_codes_create(*, user) -> list[str]:
    """A new set of recovery codes for `user`, replacing every earlier one (used or not). The codes
    are returned once; only their digests are kept."""
    codes = [_recovery_code() for _n in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(user=user, digest=RecoveryCode.digest_of(user.pk, code)) for code in codes]
    )
    audit_append(owner=user, action="account.recovery_codes", subject=user, payload={"count": len(codes)})
    return codes


def recovery_codes_left(*, user) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


@transaction.atomic
def account_recover(*, username: str, code: str, new_password: str):
    """Set a new password with one unused recovery code, which is spent. An unknown account, a wrong
    or spent code all get the same answer, so the form tells nobody which accounts exist."""
    refused = ValidationError({"code": [_("This recovery code is not valid or has been used.")]})
    user = get_user_model().objects.filter(username__iexact=(username or "").strip(), is_active=True).first()
    if user is None or not RecoveryCode.normalise(code):
        raise refused
    entry = (
        RecoveryCode.objects.select_for_update()
        .filter(user=user, digest=RecoveryCode.digest_of(user.pk, code), used_at__isnull=True)
        .first()
    )
    if entry is None:
        raise refused
    try:
        validate_password(new_password, user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from None
    entry.used_at = timezone.now()
    entry.save(update_fields=["used_at"])
    # Saving the new password also revokes the API tokens (signals.py) and ends other sessions.
    user.set_password(new_password)
    user.save(update_fields=["password"])
    audit_append(
        owner=user,
        action="account.recover",
        subject=entry,
        payload={"codes_left": RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()},
    )
    return user


# --- e-mail address, confirmed by a link --------------------------------------------------------------

EMAIL_CONFIRM_SALT = "accounts.email-confirm"
EMAIL_CONFIRM_MAX_AGE = 3 * 24 * 3600


def email_confirmation_token(*, user, email: str) -> str:
    """A signed link token naming the user, the new address and the address it replaces, so it works
    once: after the change (or another one) the replaced address no longer matches."""
    return signing.dumps({"u": user.pk, "e": email, "was": user.email or ""}, salt=EMAIL_CONFIRM_SALT)


def email_change_request(*, user, email: str, confirm_url) -> str:
    """Send a confirmation link to `email`; the address is set only when the link is opened.
    `confirm_url(token)` gives the link's absolute address."""
    email = (email or "").strip()
    try:
        EmailValidator()(email)
    except ValidationError:
        raise ValidationError({"email": [_("Enter a valid e-mail address.")]}) from None
    token = email_confirmation_token(user=user, email=email)
    subject = header_safe(_("Confirm your e-mail address"))
    body = _(
        "Open this link to use this address for reminders and password resets "
        "(valid for 3 days):\n\n%(url)s\n\nIf you did not ask for this, ignore this mail."
    ) % {"url": confirm_url(token)}
    send_mail(subject, body, None, [email])
    return token


@transaction.atomic
def email_confirm(*, token: str):
    """Set the address a confirmation link names (its account's address not replaced since, within
    3 days). The signed link is the proof: it may be opened in a browser that is not logged in."""
    invalid = ValidationError({"token": [_("This link is no longer valid. Ask for a new one.")]})
    try:
        data = signing.loads(token, salt=EMAIL_CONFIRM_SALT, max_age=EMAIL_CONFIRM_MAX_AGE)
    except signing.BadSignature:
        raise invalid from None
    user = get_user_model().objects.select_for_update().filter(pk=data.get("u"), is_active=True).first()
    if user is None or data.get("was", "") != (user.email or ""):
        raise invalid
    before = user.email
    user.email = data["e"]
    user.save(update_fields=["email"])
    audit_append(
        owner=user, action="account.email", subject=user, payload={"before": before, "after": user.email}
    )
    return user


# --- the app's lock: a PIN ------------------------------------------------------------------------------


@transaction.atomic
def pin_set(*, user, password: str, pin: str, lock_minutes: int = 5) -> Profile:
    """Set (or replace) the PIN, with the account's password; 4 to 8 digits."""
    if not user.check_password(password or ""):
        raise ValidationError({"password": [_("The password is not correct.")]})
    if not (pin or "").isdigit() or not 4 <= len(pin) <= 8 or not pin.isascii():
        raise ValidationError({"pin": [_("A PIN is 4 to 8 digits.")]})
    if not 1 <= int(lock_minutes) <= 240:
        raise ValidationError({"lock_minutes": [_("Between 1 and 240 minutes.")]})
    profile = profile_for(user)
    profile.pin_hash, profile.lock_minutes = make_password(pin), int(lock_minutes)
    profile.save(update_fields=["pin_hash", "lock_minutes"])
    audit_append(
        owner=user, action="pin.set", subject=profile, payload={"lock_minutes": profile.lock_minutes}
    )
    return profile


@transaction.atomic
def pin_clear(*, user, password: str) -> Profile:
    if not user.check_password(password or ""):
        raise ValidationError({"password": [_("The password is not correct.")]})
    profile = profile_for(user)
    if profile.pin_hash:
        profile.pin_hash = ""
        profile.save(update_fields=["pin_hash"])
        audit_append(owner=user, action="pin.clear", subject=profile, payload={})
    return profile


def pin_matches(*, user, pin: str) -> bool:
    profile = profile_for(user)
    return bool(profile.pin_hash) and check_password(pin or "", profile.pin_hash)
