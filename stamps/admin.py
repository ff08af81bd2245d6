from django.contrib import admin

from .models import Batch


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    """A window on the batches: written only by the stamping service."""

    list_display = [
        "id",
        "state",
        "leaf_count",
        "sealed_at",
        "stamped_at",
        "tsa_url",
        "attempts",
        "next_try_at",
    ]
    list_filter = ["state"]
    exclude = ["token"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
