from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Profiles, API tokens, sign-up and the user's language and time zone."""

    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from . import signals  # noqa: F401, PLC0415  (Django's documented place to connect signals)
