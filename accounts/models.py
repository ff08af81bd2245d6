"""Who uses the app: the profile printed on complaints, and bearer tokens for phone automation.

The tables keep the names they had when these models lived in the evidence app, so existing
installations moved here without copying a row.
"""

from __future__ import annotations

import hashlib
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


def language_codes() -> list[str]:
    """The languages the app speaks, from settings.LANGUAGES (the one list of them)."""
    return [code for code, _name in settings.LANGUAGES]


def time_zone_choices():
    preferred = [
        "Asia/Shanghai",
        "Asia/Hong_Kong",
        "Asia/Taipei",
        "Asia/Singapore",
        "Asia/Tokyo",
        "Europe/London",
        "America/New_York",
        "America/Los_Angeles",
        "UTC",
    ]
    rest = sorted(zoneinfo.available_timezones() - set(preferred))
    return [(name, name) for name in preferred + rest]


def validate_time_zone(value: str) -> None:
    # Not a choices list on the field: the zone database differs between machines and would make
    # migrations differ too.
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value}) from None


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", "简体中文"
    EN = "en", "English"


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    id_number = models.CharField(
        _("ID number"),
        max_length=40,
        blank=True,
        help_text=_("Only shown masked in a complaint, e.g. 1101**********1234."),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_time_zone]
    )
    language = models.CharField(
        _("language"), max_length=10, choices=Language.choices, default=Language.ZH_HANS
    )
    # Reminders by e-mail when the account has an address; push and the in-app list need no choice.
    reminders_by_email = models.BooleanField(_("reminders by e-mail"), default=True, db_default=True)
    # The app's lock (issue 29): a PIN asked after `lock_minutes` in the background. Only its hash is
    # kept; empty means no lock. It guards this device's open session, never replaces the login.
    pin_hash = models.CharField(max_length=128, blank=True, default="", db_default="")
    lock_minutes = models.PositiveSmallIntegerField(_("lock after (minutes)"), default=5, db_default=5)
    # Discreet mode (issue 29): the installed app, the tab and the header say "Notes" with a plain
    # notepad icon instead of the app's name. Appearance only; the login and the lock are unchanged.
    discreet = models.BooleanField(
        _("discreet mode"),
        default=False,
        db_default=False,
        help_text=_(
            "The app on your home screen, the browser tab and the page header are called “Notes”, with a "
            "plain notepad icon. Reinstall the app (add it to the home screen again) if its old name stays."
        ),
    )

    class Meta:
        db_table = "evidence_profile"
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only a SHA-256 digest of the secret is kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    # The first characters let a user tell tokens apart without the secret being stored.
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        db_table = "evidence_apitoken"
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def digest_of(secret: str) -> str:
        return hashlib.sha256(secret.encode("utf-8")).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class InviteCode(models.Model):
    """One sign-up, when sign-up is by invitation (SIGNUP_MODE=invite). Only the code's digest is kept."""

    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="invite"
    )

    class Meta:
        verbose_name = _("invite code")
        verbose_name_plural = _("invite codes")

    def __str__(self) -> str:
        return f"{self.prefix}… ({'used' if self.used_at else 'unused'})"

    @staticmethod
    def digest_of(code: str) -> str:
        return hashlib.sha256(code.strip().upper().encode("utf-8")).hexdigest()


class IdempotencyKey(models.Model):
    """A create request's key and its first answer (accounts.idempotency): the same key from the same
    user within 24 hours gets that answer again and creates nothing more. `scope` keeps the API's
    Idempotency-Key apart from the pages' one-time form tokens."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=10)
    key = models.CharField(max_length=255)
    # sha256 of the method, path and body; empty for form tokens (a form may be changed and posted again).
    fingerprint = models.CharField(max_length=64, blank=True)
    status = models.PositiveSmallIntegerField(default=0)
    body = models.BinaryField(blank=True, default=b"")
    content_type = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "scope", "key"], name="idempotency_key_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class RecoveryCode(models.Model):
    """A way back in without e-mail: one of the codes shown once (at sign-up, or when the person
    makes a new set), each good for one new password. Only the code's digest is kept, salted with
    the user's id so one table of digests serves no other account."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")
        constraints = [models.UniqueConstraint(fields=["user", "digest"], name="recovery_code_once_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id} ({'used' if self.used_at else 'unused'})"

    # Crockford's base32: no I, L, O or U, so a code read aloud or copied by hand survives.
    ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

    @classmethod
    def normalise(cls, code: str) -> str:
        """What the person typed, as the code was made: capitals, no spaces or dashes, and the
        letters people confuse with digits read as those digits."""
        text = "".join(ch for ch in str(code or "").upper() if ch.isalnum())
        return text.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))

    @classmethod
    def digest_of(cls, user_id: int, code: str) -> str:
        return hashlib.sha256(f"{user_id}:{cls.normalise(code)}".encode()).hexdigest()


class PushSubscription(models.Model):
    """A browser or installed app that asked for reminders by Web Push (its endpoint and keys)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=1000)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")
        constraints = [
            models.UniqueConstraint(fields=["user", "endpoint"], name="push_endpoint_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.endpoint[:40]}…"


class Notification(models.Model):
    """A message shown in the app (a reminder that a reply is due): the badge on 我的 counts the
    unread ones. It is the one channel that needs neither e-mail nor push."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    # The case it concerns, by id (accounts sits below evidence and cannot point at a Case).
    case_id = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("in-app reminder")
        verbose_name_plural = _("in-app reminders")
        ordering = ["-created_at", "-pk"]
        # The badge on every page: a user's unread notifications.
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return self.title
