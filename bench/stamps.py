"""Trusted-timestamp benchmark (issue 16): 10,000 files arriving over 10 minutes of simulated clock,
stamped by a local RFC 3161 TSA (in-process, no network) whenever the worker's timer fires (every
TSA_BATCH_SECONDS of the simulated clock). Prints the number of TSA requests (goal <= 11), the delay
from arrival to the stamp (goal: median <= 90 s), the worker's cost per file, and the cost batching
adds to an upload: the upload rate with stamping on over the rate with it off (goal >= 0.95).
Figures only."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
FILES = int(os.environ.get("BENCH_STAMPS_FILES", 10_000))
SPAN_SECONDS = 600
# Uploads per mode for the cost ratio, run in alternating blocks so drift hits both modes alike.
COST_UPLOADS = int(os.environ.get("BENCH_STAMPS_UPLOADS", 600))
COST_BLOCK = 100


def main() -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-stamps-"))
    os.environ.update({"DATA_DIR": str(work), "DJANGO_DEBUG": "0", "DJANGO_SECURE": "0"})
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 60)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from evidence import services as evidence_services
    from evidence.services import case_create, evidence_store, incident_create
    from stamps.models import Batch, Leaf
    from stamps.services import stamp_due, stamp_enqueue
    from tests.conftest import amr_bytes
    from tests.stamps.local_tsa import LocalTSA

    try:
        call_command("migrate", "--noinput", verbosity=0)
        interval = settings.TSA_BATCH_SECONDS
        with LocalTSA() as tsa:
            settings.TSA_URLS = [tsa.url]
            # Arrivals: evenly spread over ten simulated minutes; the worker's timer fires every
            # interval, from a phase of its own (it started before the first upload).
            start = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
            arrivals = [start + timedelta(seconds=SPAN_SECONDS * (i + 0.5) / FILES) for i in range(FILES)]
            clock = {"now": start}
            tsa.clock = lambda: clock["now"]
            tick = start + timedelta(seconds=interval * 0.37)
            worker_seconds = 0.0
            pending = list(enumerate(arrivals))
            while pending or Leaf.objects.filter(batch__isnull=True).exists():
                due = [(i, at) for i, at in pending if at <= tick]
                pending = pending[len(due) :]
                with transaction.atomic():  # the arrivals themselves are not what is measured here
                    for i, at in due:
                        stamp_enqueue(kind="evidence", ref=str(i + 1), sha256=f"{i:064x}", at=at)
                clock["now"] = tick
                began = time.perf_counter()
                stamp_due(now=tick)
                worker_seconds += time.perf_counter() - began
                tick += timedelta(seconds=interval)
            requests = len(tsa.requests)
            stamped_at = dict(Batch.objects.values_list("pk", "stamped_at"))
            delays = [
                (stamped_at[batch] - arrived).total_seconds()
                for batch, arrived in Leaf.objects.filter(kind="evidence").values_list("batch", "arrived_at")
            ]

            # The cost batching adds to an upload: real uploads (a short AMR recording each, no
            # thumbnail, so the added INSERT weighs as much as it ever can), stamping on and off.
            user = get_user_model().objects.create_user("bench", password="bench-pass-123")
            case = case_create(owner=user, title="bench", creditor="huabei")
            incident = incident_create(
                case=case,
                kind="call",
                occurred_at=timezone.now() - timedelta(days=1),
                counterpart_number="17012345678",
            )
            enqueue = evidence_services.stamp_enqueue
            seconds = {"on": 0.0, "off": 0.0}
            counter = [0]

            def block(mode: str) -> None:
                evidence_services.stamp_enqueue = enqueue if mode == "on" else (lambda **kwargs: None)
                uploads = []
                for _ in range(COST_BLOCK):
                    counter[0] += 1
                    data = amr_bytes(frames=50) + counter[0].to_bytes(4, "big")
                    uploads.append(SimpleUploadedFile(f"rec{counter[0]}.amr", data))
                began = time.perf_counter()
                for upload in uploads:
                    evidence_store(incident=incident, upload=upload)
                seconds[mode] += time.perf_counter() - began

            for round_number in range(COST_UPLOADS // COST_BLOCK):
                for mode in ("off", "on") if round_number % 2 else ("on", "off"):
                    block(mode)
            evidence_services.stamp_enqueue = enqueue
            ratio = seconds["off"] / seconds["on"]
        figures = {
            "files": FILES,
            "tsa_requests": requests,
            "delay_median_s": statistics.median(delays),
            "delay_p95_s": statistics.quantiles(delays, n=20)[-1],
            "delay_max_s": max(delays),
            "worker_ms_per_file": 1000 * worker_seconds / FILES,
            "upload_ms_off": 1000 * seconds["off"] / COST_UPLOADS,
            "upload_ms_on": 1000 * seconds["on"] / COST_UPLOADS,
            "rate_ratio": ratio,
        }
        print(
            f"{FILES} files over {SPAN_SECONDS // 60} simulated minutes, batches every {interval} s: "
            f"{requests} TSA requests (goal <= 11)"
        )
        print(
            f"arrival to stamp: median {figures['delay_median_s']:.1f} s (goal <= 90), "
            f"95th percentile {figures['delay_p95_s']:.1f} s, max {figures['delay_max_s']:.1f} s"
        )
        print(f"worker: sealing and stamping {figures['worker_ms_per_file']:.3f} ms per file")
        print(
            f"upload ({COST_UPLOADS} each): {figures['upload_ms_off']:.2f} ms with stamping off, "
            f"{figures['upload_ms_on']:.2f} ms on; rate ratio on/off {ratio:.3f} (goal >= 0.95)"
        )
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
