from django.contrib import admin

from ledger.admin import ReadOnlyAdmin

from .models import Batch


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
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
