"""An account with something in it: two cases, fifty incidents, recordings and a screenshot, a phone
import and an issued dossier; and helpers to read what the storage holds."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import amr_bytes, png_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def filled_account(alice, alice_api):
    """alice with 2 cases, 50 incidents, 5 recordings, a screenshot, an import and a dossier.
    Returns {"cases", "uploads": {evidence id: bytes}, "dossier"}."""
    from complaints.services import dossier_create
    from evidence.services import case_create, evidence_store, incident_create

    cases = [
        case_create(owner=alice, title="花呗催收", creditor="huabei", lender_name="重庆蚂蚁消费金融有限公司"),
        case_create(owner=alice, title="白条催收", creditor="baitiao"),
    ]
    start = datetime(2026, 3, 1, 21, 0, tzinfo=SHANGHAI)
    incidents = []
    for number in range(50):
        incidents.append(
            incident_create(
                case=cases[number % 2],
                kind="call",
                occurred_at=start + timedelta(hours=7 * number),
                counterpart_number=f"1701234{number:04d}",
                duration_seconds=60 + number,
                answered=True,
                description=f"第{number}次催收电话",
                refresh=False,
            )
        )
    uploads = {}
    for number in range(5):
        data = amr_bytes(frames=200 + number)
        evidence = evidence_store(
            incident=incidents[number],
            upload=SimpleUploadedFile(f"通话录音_{number}.amr", data),
        )
        uploads[evidence.pk] = data
    screenshot = png_bytes(size=(300, 600))
    evidence = evidence_store(
        incident=incidents[6], upload=SimpleUploadedFile("Screenshot_1.png", screenshot)
    )
    uploads[evidence.pk] = screenshot
    dossier = dossier_create(owner=alice, case=cases[0], addressee="alipay")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    return {"cases": cases, "uploads": uploads, "dossier": dossier}


def stored_names(evidence_storage) -> list[str]:
    """Every file (local) or every current key (object storage) in this test's storage, except the
    write-once ledger records (ledger.records: issued seals, chain heads, numbers; hashes and ids,
    nothing personal, kept after a deletion like the Tombstone)."""
    if evidence_storage["kind"] == "filesystem":
        root = evidence_storage["path"]
        names = (
            sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []
        )
        return [name for name in names if not name.startswith("ledger-records/")]
    client = default_storage.connection.meta.client
    listing = client.list_objects_v2(
        Bucket=default_storage.bucket_name, Prefix=evidence_storage["prefix"] + "/"
    )
    records = evidence_storage["prefix"] + "/ledger-records/"
    return sorted(
        entry["Key"] for entry in listing.get("Contents", []) if not entry["Key"].startswith(records)
    )


def download_export(api, export_id: int) -> bytes:
    response = api.get(f"/api/v1/export/{export_id}/download")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def zip_of(data: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data))
