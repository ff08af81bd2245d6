from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EvidenceConfig(AppConfig):
    name = "evidence"
    verbose_name = _("Evidence")

    def ready(self):
        # Its background jobs, for the worker's sweep and /healthz (core.jobs).
        from .jobs import register_jobs  # noqa: PLC0415  (models are loaded only now)

        register_jobs()
        # Staged shared files go with the session on logout (a signal receiver).
        from . import sharing  # noqa: F401, PLC0415
