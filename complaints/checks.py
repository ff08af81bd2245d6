"""Deployment checks (`manage.py check --deploy`) for what dossiers rely on."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def site_url_is_public(app_configs, **kwargs):
    if settings.DEBUG:
        return []
    site = getattr(settings, "SITE_URL", "")
    if site.startswith("https://") and "127.0.0.1" not in site and "localhost" not in site:
        return []
    return [
        Warning(
            f"SITE_URL is {site!r}: dossiers print this address for checking them, and their QR code opens it.",
            hint="Set SITE_URL to the public https:// address of this installation.",
            id="complaints.W001",
        )
    ]
