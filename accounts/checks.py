"""Deployment checks (`manage.py check --deploy`) for what accounts rely on."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register

# Backends that never deliver a mail: they print it (whole, with a working reset link) into the
# log, keep it in memory, or drop it.
UNDELIVERED = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}


@register(Tags.security, deploy=True)
def mail_backend_delivers(app_configs, **kwargs):
    if settings.DEBUG or settings.EMAIL_BACKEND not in UNDELIVERED:
        return []
    return [
        Error(
            f"EMAIL_BACKEND is {settings.EMAIL_BACKEND} with DJANGO_DEBUG off: password-reset mails, "
            "with their working links, would be written to the log or lost instead of sent.",
            hint="Set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and EMAIL_HOST, EMAIL_PORT, "
            "EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, DEFAULT_FROM_EMAIL.",
            id="accounts.E001",
        )
    ]
