"""Deployment checks (`manage.py check --deploy`) for what dossiers rely on."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

# What a fresh install answers with: the development default, or nothing at all.
LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "0.0.0.0")  # noqa: S104 (names, not a bind address)


@register(Tags.security, deploy=True)
def site_url_is_public(app_configs, **kwargs):
    """Refuses (an error, so `check --deploy` fails) a SITE_URL left empty or at the development
    default: every dossier, copied summary and QR code would send a handler to a dead address. A
    public address without https only warns."""
    site = getattr(settings, "SITE_URL", "") or ""
    if not site or any(host in site for host in LOOPBACK):
        return [
            Error(
                f"SITE_URL is {site!r}: dossiers, copied summaries and their QR codes would point "
                "readers to this address to check them.",
                hint="Set SITE_URL to the public https:// address of this installation.",
                id="complaints.E001",
            )
        ]
    if site.startswith("https://"):
        return []
    return [
        Warning(
            f"SITE_URL is {site!r}: dossiers print this address for checking them, and their QR code opens it.",
            hint="Set SITE_URL to the public https:// address of this installation.",
            id="complaints.W001",
        )
    ]
