"""Trusted timestamps for evidence as it arrives (RFC 3161, batched by Merkle tree).

Every arriving file's SHA-256 (and every owner's audit-chain head that moved) is a Leaf. Each
TSA_BATCH_SECONDS the leaves waiting are sealed into a Batch: their Merkle root becomes the message
imprint of one RFC 3161 request, and each leaf keeps its inclusion proof (the sibling hashes from the
leaf up to the root). The TSA's answer (the whole TimeStampResp, as `openssl ts -verify -in` reads
it) and its certificate chain are kept on the batch.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class BatchState(models.TextChoices):
    # Sealed: the root is fixed and waits for a token (retried with back-off while TSAs fail).
    PENDING = "pending", _("waiting for a timestamp")
    STAMPED = "stamped", _("timestamped")


class Batch(models.Model):
    """One Merkle tree of leaves, sent to a TSA as one request."""

    state = models.CharField(max_length=10, choices=BatchState.choices, default=BatchState.PENDING)
    sealed_at = models.DateTimeField()
    root = models.CharField(max_length=64)
    leaf_count = models.PositiveIntegerField(default=0)
    # The TSA's answer: DER of the RFC 3161 TimeStampResp (`openssl ts -verify -in` reads it as is).
    token = models.BinaryField(null=True, blank=True, editable=False)
    tsa_url = models.CharField(max_length=500, blank=True)
    # genTime of the token: the time the TSA vouches for.
    stamped_at = models.DateTimeField(null=True, blank=True)
    # The certificates the token carries, plus TSA_CA_FILE: what `openssl ts -verify -CAfile` needs.
    chain_pem = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_try_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("timestamp batch")
        verbose_name_plural = _("timestamp batches")
        indexes = [
            # stamp_due: the pending batches whose next try has come.
            models.Index(fields=["state", "next_try_at"], name="stamps_batch_due"),
        ]

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.state}, {self.leaf_count} leaves)"


class LeafKind(models.TextChoices):
    EVIDENCE = "evidence", _("evidence file")
    CHAIN = "chain", _("audit chain head")


class Leaf(models.Model):
    """One hash to be timestamped: an evidence file's SHA-256 or an owner's audit-chain head."""

    kind = models.CharField(max_length=10, choices=LeafKind.choices)
    # The evidence file's id, or the owner's id for a chain head.
    ref = models.CharField(max_length=40)
    sha256 = models.CharField(max_length=64)
    arrived_at = models.DateTimeField()
    # Indexed with the id below (stamps_leaf_batch), not alone: one index less to write per upload.
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.PROTECT, related_name="leaves", db_index=False
    )
    position = models.PositiveIntegerField(null=True, blank=True)
    # The inclusion proof: [["L" | "R", sibling hex], ...] from the leaf up to the batch's root.
    proof = models.JSONField(default=list, blank=True)
    # Queued by the upgrade backfill for a file that arrived before stamping existed: its stamp
    # proves the file existed at the upgrade, not at its arrival.
    at_upgrade = models.BooleanField(default=False, db_default=False)

    class Meta:
        verbose_name = _("timestamped hash")
        verbose_name_plural = _("timestamped hashes")
        indexes = [
            # Sealing: the leaves no batch holds yet, in order; and the leaves of one batch.
            models.Index(fields=["batch", "id"], name="stamps_leaf_batch"),
            # Pages, the API and dossiers: the stamp of one evidence file.
            models.Index(fields=["kind", "ref"], name="stamps_leaf_ref"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref} {self.sha256[:12]}"


class ChainMark(models.Model):
    """The last audit-chain head of an owner that entered a batch: a head that has moved since is
    added to the next batch (at most one leaf per owner per batch)."""

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.owner_id} #{self.seq}"


class Sealer(models.Model):
    """One row: when a batch was last sealed. Sealing updates it first, so two workers never seal at
    once and a batch is sealed at most once per TSA_BATCH_SECONDS, however many workers run."""

    sealed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"sealed at {self.sealed_at:%Y-%m-%d %H:%M:%S}"
