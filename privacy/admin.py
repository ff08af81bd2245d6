"""Deleting a user in the admin goes through account_delete, like the owner's own deletion: blobs
are destroyed (or scheduled at the end of their retention), a tombstone is kept, and a user with a
case on hold is refused. The admin's cascade listing is replaced by counts: it would list every
incident and audit event, and the read-only evidence admins would make Django refuse anyway."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext as _

from complaints.models import Dossier
from evidence.models import Case, EvidenceFile
from ledger.admin import ReadOnlyAdmin

from .models import BlobPurge, Export, Tombstone
from .services import DeletionRefused, account_delete

User = get_user_model()


class ServiceDeletingUserAdmin(UserAdmin):
    def get_deleted_objects(self, objs, request):
        summary = []
        for user in objs:
            summary.append(
                _(
                    "%(user)s: %(cases)d cases, %(files)d evidence files, %(dossiers)d dossiers, "
                    "and the audit history (a deletion record without personal data is kept)"
                )
                % {
                    "user": user.get_username(),
                    "cases": Case.objects.filter(owner=user).count(),
                    "files": EvidenceFile.all_objects.filter(owner=user).count(),
                    "dossiers": Dossier.objects.filter(owner=user).count(),
                }
            )
        held = Case.objects.filter(owner__in=list(objs), hold_at__isnull=False)
        # A held case is "protected": the admin shows it and refuses the deletion.
        protected = [
            _("Case on hold: %(title)s (%(reason)s)") % {"title": c.title, "reason": c.hold_reason}
            for c in held
        ]
        return summary, {str(User._meta.verbose_name_plural): len(objs)}, set(), protected

    def delete_model(self, request, obj):
        try:
            account_delete(user=obj, password=None, requested_by="admin")
        except DeletionRefused as refused:
            self.message_user(request, refused.message, messages.ERROR)

    def delete_queryset(self, request, queryset):
        for user in list(queryset):
            self.delete_model(request, user)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, ServiceDeletingUserAdmin)


@admin.register(Tombstone)
class TombstoneAdmin(ReadOnlyAdmin):
    list_display = ["kind", "subject_id", "requested_by", "deleted_at", "purge_until"]
    list_filter = ["kind", "requested_by"]


@admin.register(Export)
class ExportAdmin(ReadOnlyAdmin):
    list_display = ["id", "owner", "status", "size", "created_at", "finished_at"]


@admin.register(BlobPurge)
class BlobPurgeAdmin(ReadOnlyAdmin):
    list_display = ["name", "version", "due_at", "attempts", "last_error"]
