"""The user's data is the user's: export everything, delete an account or a case.

Three small tables: an `Export` (one zip of everything a user keeps, built in the background), a
`Tombstone` (the little that is kept when an account or a case is deleted) and a `BlobPurge` (a
stored blob still to be destroyed: at once on local files, at the end of its Object Lock retention
on object storage).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ExportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be built")
    RUNNING = "running", _("Being built")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class ExportQuerySet(models.QuerySet):
    def for_owner(self, user):
        return self.filter(owner=user)


class Export(models.Model):
    """A zip of everything one user keeps (privacy.exporting), stored through the storage API."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exports")
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default=ExportStatus.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    progress_note = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    storage_name = models.CharField(max_length=255, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    # sha256 of the whole zip, so a downloaded copy can be checked against what was built.
    sha256 = models.CharField(max_length=64, blank=True)
    # What the zip holds: counts per kind and the audit chain head it ends at.
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Touched with the progress; a running export whose heartbeat stops was interrupted.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ExportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("export")
        verbose_name_plural = _("exports")

    def __str__(self) -> str:
        return f"export {self.pk} ({self.status})"

    @property
    def file_name(self) -> str:
        return f"export-{self.created_at:%Y%m%d}-{self.pk:06d}.zip"


class TombstoneKind(models.TextChoices):
    ACCOUNT = "account", _("Account")
    CASE = "case", _("Case")


class Tombstone(models.Model):
    """What is kept when an account or a case is deleted: nothing that names or describes a person.

    Kept: which kind of thing was deleted and its former id (request logs name user ids, so an
    operator can tell that a logged id belongs to a deleted account), when, who asked (the owner or
    an administrator), how much went (counts and bytes, no names), the audit chain head at deletion
    (seq and hash: a hash of the chain, from which nothing can be read back; it lets the owner's own
    export be matched with what the server held), the seals and PDF hashes of dossiers that had been
    issued (hashes only: whoever holds one of those dossiers can still have it matched with a seal
    this server issued), and until when blobs under Object Lock retention wait for their purge.
    Not kept: user name, e-mail, profile, case titles, numbers, descriptions, file names, file hashes.
    """

    kind = models.CharField(max_length=10, choices=TombstoneKind.choices)
    subject_id = models.PositiveBigIntegerField()
    # The former account id for a case; for an account, the same as subject_id.
    owner_id_was = models.PositiveBigIntegerField()
    requested_by = models.CharField(max_length=20)  # "owner" or "admin"
    deleted_at = models.DateTimeField(auto_now_add=True)
    chain_seq = models.PositiveBigIntegerField(default=0)
    chain_hash = models.CharField(max_length=64, blank=True)
    counts = models.JSONField(default=dict)
    issued_seals = models.JSONField(default=list, blank=True)
    purge_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-deleted_at", "-id"]
        verbose_name = _("deletion record")
        verbose_name_plural = _("deletion records")

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_id} deleted {self.deleted_at:%Y-%m-%d}"


class BlobPurge(models.Model):
    """A stored blob (or one version of it) that must be destroyed. Written in the same transaction
    as the deletion that orphaned it, so a crash or a storage outage never leaves a file behind:
    `purge_deleted` keeps trying. On object storage a version under Object Lock retention waits
    until `due_at`, the end of its retention; nothing in the app can read it meanwhile."""

    name = models.CharField(max_length=255)
    # The object version to destroy; "" on storage without versions (local files).
    version = models.CharField(max_length=200, blank=True)
    # A delete marker of ours, removed after the versions it hides.
    delete_marker = models.BooleanField(default=False)
    due_at = models.DateTimeField(db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    # The deletion that orphaned it (None for an expired export): its record shows the purge date.
    tombstone = models.ForeignKey(
        Tombstone, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]

    def __str__(self) -> str:
        return f"{self.name}@{self.version or '-'} due {self.due_at:%Y-%m-%d}"
