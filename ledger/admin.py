from django.contrib import admin

from .models import AuditEvent, AuditHead


class ReadOnlyAdmin(admin.ModelAdmin):
    """The chain is written only by services; the admin may look, never touch."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["owner", "seq", "action", "subject_type", "subject_id", "at"]
    list_filter = ["action"]


@admin.register(AuditHead)
class AuditHeadAdmin(ReadOnlyAdmin):
    list_display = ["owner", "seq", "hash"]
