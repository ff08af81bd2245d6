from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    """Export everything, delete an account or a case, hold a case."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "privacy"
    verbose_name = _("Export and deletion")

    def ready(self):
        # Its background jobs, for the worker's sweep and /healthz (core.jobs).
        from .jobs import register_jobs  # noqa: PLC0415  (models are loaded only now)

        register_jobs()
