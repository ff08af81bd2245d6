"""What an upgraded installation must still do for the people and the papers of an earlier release.

Run by tests/test_release_upgrade.py in a subprocess, against an installation restored from a release
fixture (tests/fixtures/releases/<version>/) and migrated to HEAD, configured by the environment
(DATA_DIR, DATABASE_URL): `python tests/upgrade_checks.py <fixture folder>`. Prints one JSON object:
what was found, for the test to assert on. Nothing here writes except the new dossier at the end."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.test import Client  # noqa: E402


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def main(fixture: Path) -> dict:
    meta = json.loads((fixture / "meta.json").read_text())
    out: dict = {"users": {}}
    for user in meta["users"]:
        api = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {user['token']}")
        found: dict = {}
        response = api.get("/api/v1/cases/")
        found["token_status"] = response.status_code
        found["cases"] = sorted(case["id"] for case in response.json().get("results", []))
        found["incidents"] = {}
        for case_id in user["cases"]:
            listed = api.get(f"/api/v1/incidents/?case={case_id}").json().get("results", [])
            found["incidents"][str(case_id)] = sorted(item["id"] for item in listed)
        found["incident_status"] = {
            kind: api.get(f"/api/v1/incidents/{pk}/").status_code for kind, pk in user["incidents"].items()
        }
        found["evidence"] = {}
        for item in user["evidence"]:
            response = api.get(f"/api/v1/evidence/{item['id']}/download")
            found["evidence"][str(item["id"])] = {
                "status": response.status_code,
                "sha256_equal": hashlib.sha256(body(response)).hexdigest() == item["sha256"],
            }
        found["dossiers"] = {}
        for dossier in user["dossiers"]:
            pdf = api.get(f"/api/v1/dossiers/{dossier['id']}/pdf")
            bundle_bytes = (fixture / dossier["bundle"]).read_bytes()
            verified = Client(HTTP_HOST="127.0.0.1").post(
                "/api/v1/verify/", {"file": SimpleUploadedFile("bundle.zip", bundle_bytes, "application/zip")}
            )
            pdf_verified = Client(HTTP_HOST="127.0.0.1").post(
                "/api/v1/verify/",
                {
                    "file": SimpleUploadedFile(
                        "dossier.pdf", (fixture / dossier["pdf"]).read_bytes(), "application/pdf"
                    )
                },
            )
            page = Client(HTTP_HOST="127.0.0.1", HTTP_ACCEPT_LANGUAGE="en").post(
                "/verify/", {"file": SimpleUploadedFile("bundle.zip", bundle_bytes, "application/zip")}
            )
            # A fresh download of the bundle, after the upgrade, also verifies.
            fresh = api.get(f"/api/v1/dossiers/{dossier['id']}/bundle")
            fresh_bytes = body(fresh)
            fresh_verified = Client(HTTP_HOST="127.0.0.1").post(
                "/api/v1/verify/", {"file": SimpleUploadedFile("fresh.zip", fresh_bytes, "application/zip")}
            )
            # Every bundle carries verify.py: a stranger's check passes on the fresh download too.
            with tempfile.TemporaryDirectory() as folder:
                with zipfile.ZipFile(io.BytesIO(fresh_bytes)) as archive:
                    archive.extractall(folder)
                stranger = subprocess.run(
                    [getattr(sys, "_base_executable", None) or sys.executable, "-I", "-S", "verify.py"],
                    cwd=folder,
                    env={},
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
            html = page.content.decode()
            found["dossiers"][str(dossier["id"])] = {
                "pdf_status": pdf.status_code,
                "pdf_identical": hashlib.sha256(body(pdf)).hexdigest() == dossier["pdf_sha256"],
                "api": verified.json(),
                "api_pdf": pdf_verified.json(),
                "page_status": page.status_code,
                "page_intact": 'class="verdict ok"' in html and 'class="verdict bad"' not in html,
                "fresh_bundle": fresh_verified.json(),
                "fresh_verify_py": [stranger.returncode, stranger.stdout[-1500:]],
            }
        # A new dossier builds on the old case.
        created = api.post(
            "/api/v1/dossiers/",
            data=json.dumps({"case": user["cases"][0], "addressee": "alipay", "language": "zh-hans"}),
            content_type="application/json",
        )
        new = created.json()
        for _ in range(300):
            if new.get("status") not in ("pending", "running"):
                break
            time.sleep(0.2)
            new = api.get(f"/api/v1/dossiers/{new['id']}/").json()
        found["new_dossier"] = {"create_status": created.status_code, "status": new.get("status")}
        # The old password still signs in on the web.
        web = Client(HTTP_HOST="127.0.0.1")
        found["password_login"] = web.login(username=user["username"], password=user["password"])
        out["users"][user["username"]] = found
    return out


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
