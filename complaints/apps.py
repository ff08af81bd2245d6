from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    name = "complaints"
    verbose_name = _("Complaints")

    def ready(self):
        from . import checks  # noqa: F401, PLC0415  (Django's documented place to register checks)
        from .jobs import register_jobs  # noqa: PLC0415  (its background jobs, for the sweep and /healthz)

        register_jobs()
        from .integrity import register  # noqa: PLC0415  (verify_evidence's checks of this app's rows)

        register()
