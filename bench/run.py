"""`make bench`: run every benchmark in its own process and print its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "upload.py",
    "timeline.py",
    "timeline_pg.py",
    "rules.py",
    "imports.py",
    "dossier.py",
    "image_bomb.py",
    "verify_bomb.py",
    "export.py",
    "capacity.py",
    "stamps.py",
    "ocr.py",
]

if __name__ == "__main__":
    failed = []
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(HERE / name)], cwd=HERE.parent).returncode != 0:
            failed.append(name)
    if failed:
        print("failed:", ", ".join(failed))
        sys.exit(1)
