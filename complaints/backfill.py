"""After an upgrade, what earlier releases never did, done by the worker on its own, a bounded slice
per run and idempotent (a second run finds nothing to do):

- evidence files that arrived before trusted timestamps existed enter the next batch, marked
  `at_upgrade`: their stamp proves the file existed at the upgrade, never that it arrived earlier;
- images kept before text recognition existed are queued to be read (as new uploads are).

Imports of the first release, which recorded no facts per entry, need nothing here: verify_evidence
counts their entries against the import's record and says so in a NOTE line (evidence/integrity.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models, transaction
from django.db.models.functions import Cast
from django.utils import timezone

from evidence.models import EvidenceFile
from evidence.recognition import images_to_read
from evidence.tasks import text_queue
from stamps.models import Leaf, LeafKind


@dataclass
class BackfillRun:
    stamped: int = 0
    to_read: int = 0

    def describe(self) -> str:
        return f"backfill: {self.stamped} file(s) queued for a timestamp, {self.to_read} image(s) to read"


def files_without_stamp():
    leaves = Leaf.objects.filter(kind=LeafKind.EVIDENCE, ref=Cast(models.OuterRef("pk"), models.CharField()))
    return EvidenceFile.all_objects.filter(~models.Exists(leaves)).order_by("pk")


def images_never_read():
    return images_to_read().filter(recognized_text__isnull=True)


def upgrade_backfill(*, limit: int = 500) -> BackfillRun:
    run = BackfillRun()
    now = timezone.now()
    with transaction.atomic():
        missing = list(files_without_stamp().values_list("pk", "sha256")[:limit])
        Leaf.objects.bulk_create(
            Leaf(kind=LeafKind.EVIDENCE, ref=str(pk), sha256=sha256, arrived_at=now, at_upgrade=True)
            for pk, sha256 in missing
        )
        run.stamped = len(missing)
    for evidence in images_never_read()[:limit]:
        with transaction.atomic():
            text_queue(evidence=evidence)
        run.to_read += 1
    return run
