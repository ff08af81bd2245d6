from django.apps import AppConfig


class StampsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "stamps"
    verbose_name = "Trusted timestamps"
