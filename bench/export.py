"""Export benchmark: peak memory of building an export for a small account and for one with about
1 GiB of evidence (BENCH_EXPORT_MB, default 1024, in 100 MiB recordings), each build in a process of
its own. The goal: the peak does not grow with the account (the zip streams to disk, then to
storage). Prints peak RSS, seconds and the zip's size. Figures only.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

BASE_DIR = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
FILE_MB = 100
TOTAL_MB = int(os.environ.get("BENCH_EXPORT_MB", "1024"))


def setup_django(work: Path) -> None:
    os.environ.update(
        {
            "DATA_DIR": str(work),
            "DJANGO_DEBUG": "0",
            "DJANGO_SECURE": "0",
            "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "TASKS_BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "LOG_LEVEL": "WARNING",
            "EVIDENCE_QUOTA_BYTES": str(4 * 1024 * MiB),
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def recording_file(folder: Path, index: int, megabytes: int) -> Path:
    """A raw AMR recording of about `megabytes`, written in blocks (never built in memory)."""
    frame = bytes([(7 << 3) | 0x04]) + bytes(31)
    block = frame * (MiB // len(frame))
    path = folder / f"call-{index}.amr"
    with path.open("wb") as out:
        out.write(b"#!AMR\n")
        for _ in range(megabytes):
            out.write(block)
        out.write(frame + bytes([index % 256]) * 31)
    return path


def seed(username: str, megabytes: int, folder: Path) -> int:
    from django.contrib.auth import get_user_model
    from django.core.files import File

    from evidence.services import case_create, evidence_store, incident_create
    from privacy.models import Export

    user = get_user_model().objects.create_user(username, password="bench-password-1")
    case = case_create(owner=user, title="花呗催收", creditor="huabei")
    start = datetime(2026, 3, 1, 21, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    incidents = [
        incident_create(
            case=case,
            kind="call",
            occurred_at=start + timedelta(hours=n),
            counterpart_number=f"170{n:08d}",
            duration_seconds=60,
            refresh=False,
        )
        for n in range(200)
    ]
    remaining, index = megabytes, 0
    while remaining > 0:
        path = recording_file(folder, index, min(FILE_MB, remaining))
        remaining, index = remaining - FILE_MB, index + 1
        with path.open("rb") as handle:
            evidence_store(incident=incidents[index], upload=File(handle, name=path.name))
        path.unlink()
    return Export.objects.create(owner=user).pk


def build(export_id: int) -> None:
    """In a child process: build one export and print its figures."""
    from privacy.building import export_build

    started = time.perf_counter()
    export = export_build(export_id=export_id)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"{export.status} {export.size or 0} {seconds:.1f} {peak}")


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        setup_django(work)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        folder = work / "incoming"
        folder.mkdir()
        accounts = [("small", 1), ("large", TOTAL_MB)]
        ids = {}
        for name, megabytes in accounts:
            started = time.perf_counter()
            ids[name] = seed(name, megabytes, folder)
            print(
                f"seeded {name}: {megabytes} MiB of evidence in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
        print(f"{'account':8} {'evidence':>10} {'zip':>10} {'seconds':>8} {'peak RSS':>10}")
        for name, megabytes in accounts:
            result = subprocess.run(
                [sys.executable, __file__, "--build", str(ids[name]), str(work)],
                cwd=BASE_DIR,
                capture_output=True,
                text=True,
                check=True,
            )
            status, size, seconds, peak = result.stdout.split()[-4:]
            print(
                f"{name:8} {megabytes:>7} MiB {int(size) / MiB:>6.0f} MiB {float(seconds):>8.1f} "
                f"{int(peak):>6} MiB  ({status})",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--build":
        setup_django(Path(sys.argv[3]))
        build(int(sys.argv[2]))
    else:
        main()
