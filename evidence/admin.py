from django.contrib import admin

from .models import ApiToken, AuditEvent, AuditHead, Case, EvidenceFile, Incident, Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "display_name", "time_zone", "language"]


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "creditor", "created_at"]
    list_filter = ["creditor"]


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["id", "case", "kind", "occurred_at", "logged_at", "source"]
    list_filter = ["kind", "source"]
    readonly_fields = ["logged_at", "amended_at"]


@admin.register(EvidenceFile)
class EvidenceFileAdmin(admin.ModelAdmin):
    """Read-only: evidence changes only through the services, which keep the audit chain."""

    list_display = ["id", "original_name", "owner", "content_type", "size", "sha256", "received_at"]
    readonly_fields = [f.name for f in EvidenceFile._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["owner", "seq", "action", "subject_type", "subject_id", "at"]
    list_filter = ["action"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(ApiToken)
admin.site.register(AuditHead)
