"""The per-owner append-only hash chain: every create, amendment, deletion and issue is one link.

The tables keep the names they had when these models lived in the evidence app, so existing
installations moved here without copying a row.
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# One encoder for every call (json.dumps with options builds a new one each time: an import hashes
# 100,000 snapshots). The same text as json.dumps(value, sort_keys=True, ensure_ascii=False,
# separators=(",", ":")).
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical_json(value) -> bytes:
    """Canonical JSON bytes: sorted keys, UTF-8, fixed separators. Hashes are taken over these."""
    return _CANONICAL.encode(value).encode("utf-8")


class AuditHead(models.Model):
    """The newest link of one owner's chain. Appends lock this row, so the chain never forks."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="audit_head"
    )
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        db_table = "evidence_audithead"
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain heads")

    def __str__(self) -> str:
        return f"{self.owner_id} #{self.seq}"


class AuditEvent(models.Model):
    """One link of a per-owner append-only hash chain.

    hash = sha256(prev_hash || canonical_json(event)), where the event holds seq, action, subject,
    the digest of the payload and the time. The payload (before/after values) is kept so that the
    digest can be checked too.
    """

    GENESIS = "0" * 64

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="audit_events")
    seq = models.PositiveBigIntegerField()
    action = models.CharField(max_length=40)
    subject_type = models.CharField(max_length=40)
    subject_id = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    payload_digest = models.CharField(max_length=64)
    at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        db_table = "evidence_auditevent"
        ordering = ["owner_id", "seq"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        constraints = [
            # A second event with the same number would be a fork; the database refuses it.
            models.UniqueConstraint(fields=["owner", "seq"], name="audit_event_unique_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.subject_type}:{self.subject_id}"

    def event_body(self) -> dict:
        return {
            "seq": self.seq,
            "action": self.action,
            "subject": f"{self.subject_type}:{self.subject_id}",
            "payload_digest": self.payload_digest,
            "at": self.at.isoformat(),
        }

    def compute_hash(self) -> str:
        return hashlib.sha256(self.prev_hash.encode("ascii") + canonical_json(self.event_body())).hexdigest()
