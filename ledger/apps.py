from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgerConfig(AppConfig):
    """The per-owner append-only hash chain. The bottom layer: it imports no other app of ours."""

    name = "ledger"
    verbose_name = _("Audit chain")

    def ready(self):
        from . import signals  # noqa: F401, PLC0415  (Django's documented place to connect signals)
