"""Import benchmark: a generated calls.xml of 100,000 calls. Prints the import's seconds and peak RSS,
the time of a bare incremental parse of the same file in the same run, and a re-import of the same
file (which creates nothing). The case already holds one logged call per hundred in the export, so
the import merges (links) as it goes. Goals: import <= 3x the bare parse, peak RSS <= 150 MB, re-import
<= 3x the bare parse. Each measurement runs in its own process so its peak RSS is its own."""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
COUNT = int(os.environ.get("BENCH_IMPORT_CALLS", 100_000))


def generate(path: Path, count: int) -> None:
    rng = random.Random(7)
    numbers = [f"170{rng.randint(10_000_000, 99_999_999)}" for _ in range(300)]
    start = 1_700_000_000_000
    with path.open("w", encoding="utf-8") as out:
        out.write("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n")
        out.write(f'<calls count="{count}" backup_set="bench" backup_date="{start}" type="full">\n')
        moment = start
        for _ in range(count):
            moment += rng.randint(30_000, 1_800_000)
            kind = rng.choice([1, 1, 3, 3, 5, 2])
            duration = rng.randint(1, 400) if kind in (1, 2) else 0
            out.write(
                f'  <call number="{rng.choice(numbers)}" duration="{duration}" date="{moment}" type="{kind}" '
                f'presentation="1" subscription_id="1" post_dial_digits="" '
                f'readable_date="x" contact_name="(Unknown)" />\n'
            )
        out.write("</calls>\n")


def setup_django(work: Path) -> None:
    os.environ.update(
        {
            "DATA_DIR": str(work / "data"),
            "DJANGO_DEBUG": "0",
            "DJANGO_SECURE": "0",
            "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def child_parse(path: Path, work: Path) -> dict:
    setup_django(work)
    from zoneinfo import ZoneInfo

    from evidence.phone_logs import iter_entries

    began = time.perf_counter()
    with path.open("rb") as handle:
        _fmt, entries = iter_entries(handle, ZoneInfo("Asia/Shanghai"))
        count = sum(1 for _ in entries)
    return {
        "seconds": time.perf_counter() - began,
        "entries": count,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child_bare(path: Path, work: Path) -> dict:
    """The anchor of the issue's table: ElementTree's own incremental parse of the file, nothing else."""
    from xml.etree.ElementTree import iterparse

    began = time.perf_counter()
    count = 0
    for _event, element in iterparse(path):
        if element.tag == "call":
            count += 1
            element.clear()
    return {
        "seconds": time.perf_counter() - began,
        "entries": count,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child_import(path: Path, work: Path) -> dict:
    setup_django(work)
    from django.contrib.auth import get_user_model
    from django.core.files import File
    from django.core.management import call_command

    from evidence.imports import phone_import_prepare, phone_import_run
    from evidence.services import case_create

    call_command("migrate", "--noinput", verbosity=0)
    owner = get_user_model().objects.create_user("bench", password="bench-pass-123")
    case = case_create(owner=owner, title="bench", creditor="huabei")
    # Merging is on: the case already holds calls typed by hand or filed from recordings, one for
    # every hundredth call of the export (the import links them instead of counting them twice).
    from zoneinfo import ZoneInfo

    from evidence.phone_logs import iter_entries
    from evidence.services import incident_create

    with path.open("rb") as handle:
        _fmt, entries = iter_entries(handle, ZoneInfo("Asia/Shanghai"))
        logged = [entry for index, entry in enumerate(entries) if index % 100 == 0 and entry.kind == "call"]
    for entry in logged:
        incident_create(
            case=case, kind="call", occurred_at=entry.at, counterpart_number=entry.number, refresh=False
        )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results = {}
    # The one-step import (what POST /api/v1/imports/ does), then the same file again.
    for label in ("import", "reimport"):
        began = time.perf_counter()
        with path.open("rb") as handle:
            upload = File(handle, name="calls.xml")
            phone_import = phone_import_prepare(case=case, upload=upload, preview=False)
            counts = phone_import_run(
                phone_import=phone_import, kinds=["incoming", "missed", "rejected", "outgoing"]
            )
        results[label] = {"seconds": time.perf_counter() - began, **counts}
    # The page's first step: the preview (counts, ranking, night calls) of the same file.
    began = time.perf_counter()
    with path.open("rb") as handle:
        phone_import_prepare(case=case, upload=File(handle, name="calls.xml"))
    results["preview"] = {"seconds": time.perf_counter() - began}
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["rss_after_setup_mb"] = rss_before
    return results


def main() -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        export = work / "calls.xml"
        generate(export, COUNT)

        def run(kind: str) -> dict:
            output = subprocess.run(
                [sys.executable, __file__, kind, str(export), str(work)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            return json.loads(output.strip().splitlines()[-1])

        bare = run("bare")
        parse = run("parse")
        imported = run("import")
        return {
            "calls": COUNT,
            "file_mb": round(export.stat().st_size / 1e6, 1),
            "bare_iterparse_seconds": round(bare["seconds"], 2),
            "import_ratio_to_bare_iterparse": round(imported["import"]["seconds"] / bare["seconds"], 2),
            "app_parser_seconds": round(parse["seconds"], 2),
            "bare_parse_seconds": round(parse["seconds"], 2),
            "import_seconds": round(imported["import"]["seconds"], 2),
            "import_created": imported["import"]["created"],
            "import_linked": imported["import"]["linked"],
            "import_ratio_to_parse": round(imported["import"]["seconds"] / parse["seconds"], 2),
            "reimport_seconds": round(imported["reimport"]["seconds"], 2),
            "reimport_created": imported["reimport"]["created"],
            "reimport_ratio_to_parse": round(imported["reimport"]["seconds"] / parse["seconds"], 2),
            "preview_seconds": round(imported["preview"]["seconds"], 2),
            "import_peak_rss_mb": round(imported["peak_rss_mb"], 1),
            "rss_before_import_mb": round(imported["rss_after_setup_mb"], 1),
            "parse_peak_rss_mb": round(parse["peak_rss_mb"], 1),
            # Against the goals: import <= 3x the bare parse, peak RSS <= 150 MB (the peak includes
            # Django's own start-up, which the parse-only process shows).
            "goal_import_ratio_met": imported["import"]["seconds"] / parse["seconds"] <= 3,
            "goal_peak_rss_met": imported["peak_rss_mb"] <= 150,
            "import_rss_above_startup_mb": round(imported["peak_rss_mb"] - parse["peak_rss_mb"], 1),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 4:
        target = {"bare": child_bare, "parse": child_parse}.get(sys.argv[1], child_import)
        print(json.dumps(target(Path(sys.argv[2]), Path(sys.argv[3]))))
    else:
        for key, value in main().items():
            print(f"imports.{key}: {value}")
