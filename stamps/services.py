"""Every write of the stamps app: a hash enters the waiting leaves, leaves are sealed into a batch,
a batch gets its token.

Uploads only insert a leaf (in the upload's own transaction: a file that commits is never left out,
and a TSA that is down never delays an upload). `stamp_due`, run every TSA_BATCH_SECONDS by each
worker (and by `manage.py stamps --run`), seals what waits into one batch and asks the TSAs for a
token for every batch whose time has come; a batch whose request fails is tried again after a back-off
(TSA_BATCH_SECONDS doubled per failed attempt, at most TSA_RETRY_MAX_SECONDS). Several workers may
run it at once: sealing first updates the one Sealer row (so one of them seals, at most once per
interval), and a batch is claimed by a conditional UPDATE before its request is sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from ledger.models import AuditEvent, AuditHead
from ledger.records import head_record_write

from .merkle import tree
from .models import Batch, BatchState, ChainMark, Leaf, LeafKind, Sealer
from .tsa import TokenError, request_stamp, tsa_urls

logger = logging.getLogger(__name__)


def batch_seconds() -> float:
    return float(getattr(settings, "TSA_BATCH_SECONDS", 60))


def backoff_seconds(attempts: int) -> float:
    """How long a batch waits after its `attempts`-th failed try: the interval, doubled each time."""
    limit = float(getattr(settings, "TSA_RETRY_MAX_SECONDS", 3600))
    return min(limit, batch_seconds() * 2 ** max(attempts - 1, 0))


def stamp_enqueue(*, kind: str, ref: str, sha256: str, at: datetime | None = None) -> None:
    """Put one hash in the next batch. One INSERT; call it inside the transaction that keeps the
    thing hashed, so the two commit together. Every upload pays for it, so it is a plain INSERT
    (the ORM's model machinery cost as much again)."""
    table = connection.ops.quote_name(Leaf._meta.db_table)
    moment = Leaf._meta.get_field("arrived_at").get_db_prep_value(at or timezone.now(), connection)
    no_proof = Leaf._meta.get_field("proof").get_db_prep_value([], connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (kind, ref, sha256, arrived_at, proof) VALUES (%s, %s, %s, %s, %s)",
            [kind, str(ref), sha256, moment, no_proof],
        )


def _claim_seal(now: datetime, force: bool) -> bool:
    """Take the right to seal now (inside the sealing transaction): True unless another worker
    sealed within the last interval (90% of it, so a worker's timer jitter never skips a round)."""
    try:
        with transaction.atomic():
            Sealer.objects.get_or_create(pk=1, defaults={"sealed_at": now - timedelta(days=1)})
    except IntegrityError:
        pass  # created by another worker at the same moment
    rows = Sealer.objects.filter(pk=1)
    if not force:
        rows = rows.filter(sealed_at__lte=now - timedelta(seconds=0.9 * batch_seconds()))
    return bool(rows.update(sealed_at=now))


def _moved_heads(now: datetime) -> list[Leaf]:
    """A leaf for every owner whose audit-chain head moved since it last entered a batch."""
    marked = ChainMark.objects.filter(owner_id=OuterRef("owner_id")).values("seq")[:1]
    heads = list(
        AuditHead.objects.filter(seq__gt=0)
        .annotate(marked=Subquery(marked))
        .filter(Q(marked__isnull=True) | ~Q(marked=F("seq")))
        .values_list("owner_id", "seq", "hash")
    )
    if not heads:
        return []
    ChainMark.objects.bulk_create(
        [ChainMark(owner_id=owner, seq=seq, hash=digest) for owner, seq, digest in heads],
        update_conflicts=True,
        unique_fields=["owner"],
        update_fields=["seq", "hash"],
    )
    return Leaf.objects.bulk_create(
        [
            Leaf(kind=LeafKind.CHAIN, ref=str(owner), sha256=digest, arrived_at=now)
            for owner, _seq, digest in heads
        ]
    )


def batch_seal(*, now: datetime | None = None, force: bool = False) -> Batch | None:
    """Seal every waiting leaf (and every moved chain head) into one batch: its Merkle root, and
    each leaf's position and inclusion proof. None when nothing waits or another worker sealed
    within the interval (`force`: seal anyway)."""
    now = now or timezone.now()
    with transaction.atomic():
        if not _claim_seal(now, force):
            return None
        _moved_heads(now)
        waiting = list(Leaf.objects.filter(batch__isnull=True).order_by("id").values_list("id", "sha256"))
        if not waiting:
            return None
        root, proofs = tree([digest for _id, digest in waiting])
        batch = Batch.objects.create(sealed_at=now, root=root, leaf_count=len(waiting), next_try_at=now)
        # One prepared UPDATE run for every leaf (bulk_update's CASE expressions took a second per
        # thousand leaves on SQLite, holding the write lock that uploads wait for).
        table = connection.ops.quote_name(Leaf._meta.db_table)
        as_json = Leaf._meta.get_field("proof").get_db_prep_value
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET batch_id = %s, position = %s, proof = %s WHERE id = %s",
                [
                    (batch.pk, position, as_json(proof, connection), pk)
                    for position, ((pk, _digest), proof) in enumerate(zip(waiting, proofs, strict=True))
                ],
            )
    logger.info("stamps: batch %s sealed with %d leaves, root %s", batch.pk, len(waiting), root)
    return batch


def _claim_seconds() -> float:
    """How long one try may hold a batch: every TSA's connect and read timeouts, and some slack."""
    return 2 * float(getattr(settings, "TSA_TIMEOUT_SECONDS", 10)) * max(len(tsa_urls()), 1) + 30


def batch_stamp(*, batch: Batch, now: datetime | None = None, force: bool = False) -> bool | None:
    """One try at a token for a pending batch: True when stamped, False when every TSA failed (the
    batch waits for its back-off), None when another worker holds it or its time has not come."""
    now = now or timezone.now()
    rows = Batch.objects.filter(pk=batch.pk, state=BatchState.PENDING)
    if not force:
        rows = rows.filter(Q(next_try_at__isnull=True) | Q(next_try_at__lte=now))
    if not rows.update(attempts=F("attempts") + 1, next_try_at=now + timedelta(seconds=_claim_seconds())):
        return None
    attempts = Batch.objects.values_list("attempts", flat=True).get(pk=batch.pk)
    try:
        stamp = request_stamp(bytes.fromhex(batch.root))
    except TokenError as exc:
        wait = backoff_seconds(attempts)
        Batch.objects.filter(pk=batch.pk, state=BatchState.PENDING).update(
            next_try_at=now + timedelta(seconds=wait), last_error=str(exc)[:2000]
        )
        logger.warning(
            "stamps: batch %s not stamped (attempt %d, next in %.0f s): %s", batch.pk, attempts, wait, exc
        )
        return False
    Batch.objects.filter(pk=batch.pk, state=BatchState.PENDING).update(
        state=BatchState.STAMPED,
        token=stamp.response,
        tsa_url=stamp.url,
        stamped_at=stamp.time,
        chain_pem=stamp.chain_pem,
        last_error="",
        next_try_at=None,
    )
    logger.info("stamps: batch %s stamped by %s at %s", batch.pk, stamp.url, stamp.time.isoformat())
    _record_stamped_heads(batch.pk, stamped_at=stamp.time, tsa=stamp.url)
    return True


def _record_stamped_heads(batch_id: int, *, stamped_at: datetime, tsa: str) -> None:
    """Each chain head this batch stamped is also recorded in the evidence store (ledger.records),
    where a restore or a rewound chain cannot take it back. The token is kept whatever happens
    here: a store that fails is logged, and the head is recorded again with the next stamp."""
    for ref, digest in Leaf.objects.filter(batch_id=batch_id, kind=LeafKind.CHAIN).values_list(
        "ref", "sha256"
    ):
        seq = AuditEvent.objects.filter(owner_id=int(ref), hash=digest).values_list("seq", flat=True).first()
        if seq is None:
            logger.warning(
                "stamps: batch %s stamped head %s of owner %s, which is not in the chain",
                batch_id,
                digest,
                ref,
            )
            continue
        try:
            head_record_write(
                owner_id=int(ref), seq=seq, digest=digest, source="tsa", stamped_at=stamped_at, tsa=tsa
            )
        except Exception:
            logger.exception(
                "stamps: the head of owner %s (seq %s) could not be recorded in the store", ref, seq
            )


@dataclass
class StampRun:
    configured: bool = True
    sealed: Batch | None = None
    stamped: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def describe(self) -> str:
        if not self.configured:
            return "no TSA configured (TSA_URLS): nothing stamped"
        sealed = (
            f"batch {self.sealed.pk} sealed ({self.sealed.leaf_count} hashes)"
            if self.sealed
            else "nothing sealed"
        )
        return f"{sealed}; stamped {self.stamped or 'none'}; failed {self.failed or 'none'}"


def stamp_due(*, now: datetime | None = None, force: bool = False) -> StampRun:
    """Seal what waits, then try every pending batch whose time has come (`force`: now, whatever
    the interval and the back-off say). Nothing happens while no TSA is configured."""
    if not tsa_urls():
        return StampRun(configured=False)
    now = now or timezone.now()
    run = StampRun(sealed=batch_seal(now=now, force=force))
    due = Batch.objects.filter(state=BatchState.PENDING)
    if not force:
        due = due.filter(Q(next_try_at__isnull=True) | Q(next_try_at__lte=now))
    for batch in due.order_by("id"):
        outcome = batch_stamp(batch=batch, now=now, force=force)
        if outcome is True:
            run.stamped.append(batch.pk)
        elif outcome is False:
            run.failed.append(batch.pk)
    return run
