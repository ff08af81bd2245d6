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
