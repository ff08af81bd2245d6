"""Every user gets a profile the moment the account exists; a changed password revokes every API
token; the SQLite file that holds password hashes is readable by the server's user only."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.backends.signals import connection_created
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from .models import Profile
from .services import tokens_revoke_all


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def create_profile(sender, instance, created, **kwargs):
    if created and not kwargs.get("raw"):
        Profile.objects.get_or_create(user=instance)


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def note_password_change(sender, instance, raw=False, **kwargs):
    """Whatever path changes a password (the page, a reset link, the admin, `changepassword`), the
    tokens made with the old one stop working when the new one is saved."""
    if raw or instance.pk is None:
        return
    before = get_user_model().objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    instance._password_changed = before is not None and before != instance.password


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def revoke_tokens_on_password_change(sender, instance, created, raw=False, **kwargs):
    if not raw and not created and getattr(instance, "_password_changed", False):
        instance._password_changed = False
        tokens_revoke_all(user=instance, reason="password changed")


@receiver(connection_created)
def private_database_file(sender, connection, **kwargs):
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name.startswith(":memory:") or name.startswith("file:"):
        return
    for path in (Path(name), Path(name + "-wal"), Path(name + "-shm"), Path(name + "-journal")):
        # A journal comes and goes with each transaction of other connections: gone between the
        # look and the chmod is fine (a connection must never fail over it).
        try:
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
        except FileNotFoundError:
            continue
