"""Web and worker processes start small: the heavy libraries (PDF drawing and signing, the S3 client,
text recognition) load where they are used, never at start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]

# Each takes megabytes a process that never uses it should not pay (README: Performance).
HEAVY = ("reportlab", "pyhanko", "boto3", "botocore", "rapidocr", "onnxruntime", "cv2")


def loaded_modules(code: str, data_dir: Path) -> list[str]:
    """The modules loaded after `code` runs in a fresh interpreter with the default settings (local
    files, SQLite), in a throwaway data folder."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EVIDENCE_S3_", "AWS_")) and k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DATA_DIR": str(data_dir)})
    done = subprocess.run(
        [sys.executable, "-c", code + "; import sys, json; print(json.dumps(sorted(sys.modules)))"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def heavy_in(modules: list[str]) -> list[str]:
    return sorted({name.split(".")[0] for name in modules if name.split(".")[0] in HEAVY})


def test_importing_the_wsgi_application_loads_no_heavy_library(tmp_path):
    assert heavy_in(loaded_modules("import config.wsgi", tmp_path)) == []


def test_a_web_process_with_its_urls_and_a_worker_with_its_tasks_load_no_heavy_library(tmp_path):
    # What the first request (every view module) and a worker (every task module) import as well.
    code = (
        "import django; django.setup(); import config.urls, complaints.tasks, evidence.tasks, "
        "privacy.tasks; import complaints.management.commands.worker"
    )
    assert heavy_in(loaded_modules(code, tmp_path)) == []
