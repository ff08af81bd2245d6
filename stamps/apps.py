from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StampsConfig(AppConfig):
    """Trusted timestamps of evidence as it arrives. Below accounts, above ledger: it reads audit
    heads and knows evidence files only by id."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "stamps"
    verbose_name = _("Trusted timestamps")

    def ready(self):
        # Its background work, for the worker's sweep and /healthz (core.jobs).
        from .jobs import register_jobs  # noqa: PLC0415  (models are loaded only now)

        register_jobs()
