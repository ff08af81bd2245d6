"""A dossier prints the text read from a screenshot under it, marked as for reference only (issue 15)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.evidence.ocr_screens import font_available, render_sms

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None or not font_available(),
    reason="needs poppler-utils and fonts-wqy-zenhei",
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
THREAT = "你再不还钱，我们就去你家里找你，后果自负。"


def test_a_dossier_prints_the_recognized_text_under_its_screenshot_with_the_caveat(
    alice, alice_case, tmp_path, django_capture_on_commit_callbacks
):
    from complaints.services import dossier_create
    from complaints.signing import embedded_manifest
    from evidence.services import evidence_store, incident_create

    sms = incident_create(
        case=alice_case,
        kind="sms",
        occurred_at=datetime(2024, 3, 21, 21, 14, tzinfo=SHANGHAI),
        counterpart_number="+8617123456789",
        flags=["threat"],
        description=THREAT,
    )
    screen = render_sms("+86 171 2345 6789", [{"label": "昨天 21:14", "body": THREAT, "sent": False}])
    with django_capture_on_commit_callbacks(execute=True):
        evidence_store(
            incident=sms,
            upload=SimpleUploadedFile(
                "Screenshot_20240322-103200.png", screen.png(), content_type="image/png"
            ),
        )
    dossier = dossier_create(owner=alice, case=alice_case, addressee="alipay", language="zh-hans")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        data = handle.read()
    manifest = json.loads(embedded_manifest(data))
    entry = next(e for e in manifest["evidence"] if e["content_type"] == "image/png")
    assert "后果自负" in entry["recognized_text"]["text"]
    path = tmp_path / "d.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = re.sub(r"\s+", "", text)
    caveat = flat.index("识别文字，仅供参考，以原图为准")
    assert flat.index("E1") < caveat < flat.index("后果自负", caveat)


def test_a_dossier_says_carrier_records_are_the_strongest_evidence(alice, alice_api, alice_case, tmp_path):
    from complaints.services import dossier_create
    from tests.evidence.test_carrier import MOBILE_HEADER, ROWS, post, xlsx

    assert post(alice_api, alice_case, xlsx(MOBILE_HEADER, ROWS), "详单.xlsx").status_code == 201
    dossier = dossier_create(owner=alice, case=alice_case, addressee="alipay", language="zh-hans")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        path = tmp_path / "d.pdf"
        path.write_bytes(handle.read())
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "最有力证据" in re.sub(r"\s+", "", text)
