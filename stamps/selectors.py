"""Reads of the stamps app shared by pages, the API, dossiers, bundles, /healthz and the command."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min
from django.utils import timezone

from .models import Batch, BatchState, Leaf, LeafKind
from .tsa import token_subject, trust_source, tsa_urls


@dataclass(frozen=True)
class EvidenceStamp:
    """What is known of one evidence file's timestamp. `state`: "stamped", "pending" (a TSA is
    configured and the file waits for its batch's token) or "off" (no TSA configured)."""

    state: str
    time: datetime | None = None
    tsa: str = ""
    batch: int | None = None
    arrived_at: datetime | None = None
    leaf: Leaf | None = None

    def as_api(self) -> dict | None:
        """The API's `timestamp`: {"time", "tsa"} once stamped, else null."""
        if self.state != "stamped":
            return None
        stamp = {"time": self.time.isoformat(), "tsa": self.tsa}
        if self.leaf is not None and self.leaf.at_upgrade:
            # Stamped when an upgrade backfilled it: the file existed then, it arrived earlier.
            stamp["at_upgrade"] = True
        return stamp


def evidence_stamps(evidence_ids) -> dict[int, EvidenceStamp]:
    """The stamp of each evidence file, by id (one query). A file with more than one leaf (never, in
    practice) shows its first stamp."""
    ids = [str(pk) for pk in evidence_ids]
    if not ids:
        return {}
    found: dict[int, EvidenceStamp] = {}
    leaves = (
        Leaf.objects.filter(kind=LeafKind.EVIDENCE, ref__in=ids)
        .select_related("batch")
        .defer("batch__token", "batch__chain_pem")
        .order_by("id")
    )
    for leaf in leaves:
        key = int(leaf.ref)
        batch = leaf.batch
        if batch is not None and batch.state == BatchState.STAMPED:
            if key not in found or found[key].state != "stamped":
                found[key] = EvidenceStamp(
                    "stamped", batch.stamped_at, batch.tsa_url, batch.pk, leaf.arrived_at, leaf
                )
        elif key not in found:
            found[key] = EvidenceStamp("pending", arrived_at=leaf.arrived_at, leaf=leaf)
    # Not stamped yet: waiting while a TSA is configured, else plainly not independently timestamped.
    waiting = "pending" if tsa_urls() else "off"
    stamps = {}
    for pk in map(int, ids):
        stamp = found.get(pk) or EvidenceStamp(waiting)
        stamps[pk] = (
            stamp
            if stamp.state == "stamped"
            else EvidenceStamp(waiting, arrived_at=stamp.arrived_at, leaf=stamp.leaf)
        )
    return stamps


def batch_subjects(batch_ids) -> dict[int, str]:
    """The subject of the certificate that signed each stamped batch's token, by batch id: how a
    dossier names the TSA (its URL says where it was asked, not who vouches)."""
    wanted = {pk for pk in batch_ids if pk is not None}
    if not wanted:
        return {}
    rows = Batch.objects.filter(pk__in=wanted, state=BatchState.STAMPED).values_list("pk", "token")
    return {pk: token_subject(token) for pk, token in rows}


def evidence_stamp(evidence_id: int) -> EvidenceStamp:
    return evidence_stamps([evidence_id])[int(evidence_id)]


def stamp_facts(now: datetime | None = None) -> dict:
    """For /healthz and `manage.py stamps`: TSAs configured, the CAs their certificates must chain
    to ("TSA_CA_FILE" or "system trust store"), hashes waiting for a batch, pending batches (count,
    the oldest's age, attempts, last error) and the last stamp."""
    now = now or timezone.now()
    pending = Batch.objects.filter(state=BatchState.PENDING)
    summary = pending.aggregate(count=Count("id"), oldest=Min("sealed_at"))
    failing = pending.exclude(last_error="").order_by("-id").first()
    waiting = Leaf.objects.filter(batch__isnull=True).aggregate(count=Count("id"), oldest=Min("arrived_at"))
    last = Batch.objects.filter(state=BatchState.STAMPED).order_by("-stamped_at").first()

    def age(moment):
        return None if moment is None else round(max((now - moment).total_seconds(), 0.0), 1)

    return {
        "configured": bool(tsa_urls()),
        "tsa_urls": tsa_urls(),
        "trusted_cas": trust_source(),
        "waiting_hashes": waiting["count"],
        "oldest_waiting_seconds": age(waiting["oldest"]),
        "pending_batches": summary["count"],
        "oldest_pending_seconds": age(summary["oldest"]),
        "last_error": failing.last_error if failing else None,
        "last_stamped_at": last.stamped_at.isoformat() if last else None,
        "last_tsa": last.tsa_url if last else None,
    }


def pending_batches():
    return Batch.objects.filter(state=BatchState.PENDING).defer("token", "chain_pem").order_by("id")
