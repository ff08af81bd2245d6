from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Profiles, API tokens, sign-up and the user's language and time zone."""

    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        # Django's documented place to connect signals and register checks.
        from . import checks, signals  # noqa: F401, PLC0415
