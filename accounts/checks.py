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


# Caches each process keeps to itself (or none at all): throttle counters there are multiplied by
# the number of processes (three workers, three times the login attempts) or never kept.
PROCESS_LOCAL_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


@register(Tags.security, deploy=True)
def throttle_cache_shared(app_configs, **kwargs):
    alias = getattr(settings, "THROTTLE_CACHE", "default")
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    processes = int(getattr(settings, "WEB_CONCURRENCY", 1))
    if backend not in PROCESS_LOCAL_CACHES:
        return []
    if backend.endswith("DummyCache"):
        problem = (
            f"THROTTLE_CACHE ({alias!r}) is {backend}: it keeps nothing, so no attempt is ever throttled."
        )
    elif processes > 1:
        problem = (
            f"THROTTLE_CACHE ({alias!r}) is {backend}, kept by each process, while WEB_CONCURRENCY={processes} "
            f"processes serve: login, reset and verify attempts are counted per process ({processes}× the limits)."
        )
    else:
        return []
    return [
        Error(
            problem,
            hint="Set CACHE_URL=redis://host:6379/0 (a cache every web process shares), or WEB_CONCURRENCY=1 "
            "when one process serves alone.",
            id="accounts.E002",
        )
    ]
