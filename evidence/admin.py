"""The admin may look at the evidence store, never change it: every write goes through the services,
which keep the audit chain (an edit here would change the record with no trace)."""

from django.contrib import admin

from ledger.admin import ReadOnlyAdmin

from .models import Case, EvidenceFile, Incident, PhoneImport


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ["title", "owner", "creditor", "created_at"]
    list_filter = ["creditor"]


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["id", "case", "kind", "occurred_at", "logged_at", "source"]
    list_filter = ["kind", "source"]


@admin.register(EvidenceFile)
class EvidenceFileAdmin(ReadOnlyAdmin):
    list_display = ["id", "original_name", "owner", "content_type", "size", "sha256", "received_at"]


@admin.register(PhoneImport)
class PhoneImportAdmin(ReadOnlyAdmin):
    list_display = ["id", "case", "owner", "original_name", "created_at"]
