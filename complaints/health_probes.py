"""Probes of the parts /healthz depends on (the database, the evidence store, a shared cache such as
Redis), each run in a thread of its own and waited for until one common deadline, so the check
answers within HEALTH_STORAGE_TIMEOUT_SECONDS (2 s) whatever hangs behind it: a part that has not
answered by then is reported "error: timeout".

At most one thread per probe is under way at a time: a check arriving while an earlier probe still
hangs waits for that one instead of starting another, so a hung store never piles up threads. On S3
the storage probe is one request with its own short timeout and no retry
(`EvidenceS3Storage.probe`), so even that thread ends within about a second.

Also here: the facts of the text-recognition (OCR) queue, reported beside the main queue.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.files.storage import default_storage
from django.db import connections
from django.db.models import Count, Min

from core.queues import OCR
from evidence.models import RecognizedText, TextStatus

TIMEOUT = "error: timeout"
# Caches that live in this process or on this machine: nothing outside to probe.
LOCAL_CACHES = (LocMemCache, DummyCache, FileBasedCache, DatabaseCache)


class Probe:
    """One check of an outside part, run in its own (daemon) thread."""

    def __init__(self, name: str, check: Callable[[], str]):
        self.name, self.check = name, check
        self._lock = threading.Lock()
        self._current: tuple[threading.Thread, dict] | None = None

    def start(self) -> tuple[threading.Thread, dict]:
        with self._lock:
            current = self._current
            if current is None or not current[0].is_alive():
                result: dict = {}
                thread = threading.Thread(
                    target=self._run, args=(result,), name=f"healthz-{self.name}-probe", daemon=True
                )
                current = self._current = (thread, result)
                thread.start()
        return current

    def _run(self, result: dict) -> None:
        try:
            result["value"] = self.check()
        except Exception as exc:  # any failure is reported, not raised
            result["value"] = f"error: {exc.__class__.__name__}"
        finally:
            connections.close_all()  # the connections this thread opened, nobody else's


def run_probes(probes: list[Probe], timeout: float) -> dict[str, str]:
    """Every probe at once; what each said by the deadline ("error: timeout" when nothing)."""
    started = [(probe.name, *probe.start()) for probe in probes]
    deadline = time.monotonic() + timeout
    answers = {}
    for name, thread, result in started:
        thread.join(max(0.0, deadline - time.monotonic()))
        answers[name] = result.get("value", TIMEOUT)
    return answers


def storage_check() -> str:
    """Can the evidence store answer? On S3 one request bounded by its own 1 s timeout."""
    probe = getattr(default_storage, "probe", None)
    if probe is not None:
        probe(timeout=min(1.0, float(settings.HEALTH_STORAGE_TIMEOUT_SECONDS)))
    else:
        default_storage.exists("healthz/probe")
    return "ok"


def cache_shared() -> bool:
    cache = caches[getattr(settings, "THROTTLE_CACHE", "default")]
    return not isinstance(cache, LOCAL_CACHES)


def cache_check() -> str:
    """Can the shared cache (Redis when CACHE_URL is set: login throttles, counters) store and read
    a value? "local" when the cache lives in this process: there is nothing outside to reach."""
    if not cache_shared():
        return "local"
    cache = caches[getattr(settings, "THROTTLE_CACHE", "default")]
    key, value = f"healthz:{uuid.uuid4().hex}", uuid.uuid4().hex
    try:
        cache.set(key, value, 30)
        answered = cache.get(key)
        cache.delete(key)
    finally:
        cache.close()
    return "ok" if answered == value else "error: the value written was not read back"


def ocr_facts(now: datetime) -> dict:
    """Images waiting for text recognition: how many, and the age in seconds of the oldest."""
    waiting = RecognizedText.objects.filter(status=TextStatus.PENDING).aggregate(
        count=Count("id"), oldest=Min("created_at")
    )
    oldest = waiting["oldest"]
    return {
        "queue": OCR,
        "pending": waiting["count"],
        "oldest_pending_seconds": None
        if oldest is None
        else round(max((now - oldest).total_seconds(), 0.0), 1),
    }
