"""Every user gets an audit head the moment the account exists.

Creating the head here, not on the first append, means concurrent first uploads never race to
create it.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import AuditHead


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def create_audit_head(sender, instance, created, **kwargs):
    if created and not kwargs.get("raw"):
        AuditHead.objects.get_or_create(owner=instance)
