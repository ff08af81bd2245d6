"""Every user gets a profile and an audit head the moment the account exists.

Creating the head here, not on the first append, means concurrent first uploads never race to
create it.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import AuditHead, Profile


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def create_profile_and_audit_head(sender, instance, created, **kwargs):
    if created and not kwargs.get("raw"):
        Profile.objects.get_or_create(user=instance)
        AuditHead.objects.get_or_create(owner=instance)
