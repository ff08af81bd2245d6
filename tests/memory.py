"""The test process's own memory, read from /proc/self/status: how far its resident set grew while
something ran. This is a memory assertion about this one process, not a timing one.

The peak (VmHWM) is reset first through /proc/self/clear_refs where the kernel allows it, so the
growth is the true peak during the call; where it does not, the resident set after the call
(VmRSS) stands in (a lower bound of the peak)."""

from __future__ import annotations

import gc
from pathlib import Path

MiB = 1024 * 1024
STATUS = Path("/proc/self/status")


def _kib(field: str) -> int:
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def grown_by(call) -> tuple[object, int]:
    """(call's result, bytes the resident set grew by while it ran)."""
    gc.collect()
    before = _kib("VmRSS")
    peak_known = _reset_peak()
    result = call()
    after = _kib("VmHWM") if peak_known else _kib("VmRSS")
    return result, max(0, after - before) * 1024
