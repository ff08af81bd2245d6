"""Export everything: one zip that `sha256sum -c SHA256SUMS` accepts, with every evidence file's exact
bytes and an audit chain that verifies from the zip alone."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
import zipfile

import pytest
from django.core.management import CommandError, call_command

from privacy.models import Export
from tests.privacy.conftest import download_export, zip_of


def export_now(api) -> dict:
    response = api.post("/api/v1/export/")
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) >= {"id", "status"}
    return api.get(f"/api/v1/export/{body['id']}/").json()


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils' sha256sum")
def test_sha256sum_accepts_the_export_and_every_evidence_file_is_the_original(
    alice_api, filled_account, tmp_path
):
    status = export_now(alice_api)
    assert status["status"] == "ready", status
    assert status["progress"] == 100
    data = download_export(alice_api, status["id"])
    assert hashlib.sha256(data).hexdigest() == status["sha256"]
    folder = tmp_path / "export"
    zip_of(data).extractall(folder)
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "FAILED" not in check.stdout

    evidence = json.loads((folder / "evidence.json").read_text("utf-8"))
    assert {entry["id"] for entry in evidence} == set(filled_account["uploads"])
    for entry in evidence:
        assert (folder / entry["path"]).read_bytes() == filled_account["uploads"][entry["id"]]
        assert hashlib.sha256((folder / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]


def test_the_export_holds_every_case_incident_import_and_dossier(alice_api, filled_account, tmp_path):
    status = export_now(alice_api)
    archive = zip_of(download_export(alice_api, status["id"]))
    names = set(archive.namelist())
    cases = json.loads(archive.read("cases.json"))
    assert sorted(c["title"] for c in cases) == ["白条催收", "花呗催收"]
    incidents = json.loads(archive.read("incidents.json"))
    assert len(incidents) == 50
    rows = list(csv.DictReader(io.StringIO(archive.read("incidents.csv").decode("utf-8-sig"))))
    assert len(rows) == 50
    assert {row["description"] for row in rows} == {i["description"] for i in incidents}
    dossier = filled_account["dossier"]
    assert f"dossiers/{dossier.number}/dossier.pdf" in names
    assert archive.read(f"dossiers/{dossier.number}/manifest.json").decode() == dossier.manifest
    assert (
        hashlib.sha256(archive.read(f"dossiers/{dossier.number}/dossier.pdf")).hexdigest()
        == dossier.pdf_sha256
    )
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["counts"]["incidents"] == 50
    assert manifest["counts"]["dossiers"] == 1
    account = json.loads(archive.read("account.json"))
    assert account["username"] == "alice"
    assert all("digest" not in token for token in account["api_tokens"])


def _export_file(api, tmp_path) -> tuple[Export, str]:
    status = export_now(api)
    path = tmp_path / "export.zip"
    path.write_bytes(download_export(api, status["id"]))
    return Export.objects.get(pk=status["id"]), str(path)


def test_verify_export_says_intact_and_the_chain_in_the_export_verifies(alice_api, filled_account, tmp_path):
    _export, path = _export_file(alice_api, tmp_path)
    out = io.StringIO()
    call_command("verify_export", path, stdout=out)
    assert "INTACT" in out.getvalue()
    with zipfile.ZipFile(path) as archive:
        lines = archive.read("audit/chain.jsonl").splitlines()
        head = json.loads(archive.read("audit/head.json"))
    assert head["seq"] == len(lines) > 50
    from privacy.verification import chain_problems_of_lines

    count, last, problems = chain_problems_of_lines(lines)
    assert problems == [] and count == len(lines) and last == head["hash"]


def _rewrite(path: str, target: str, member: str, change) -> None:
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            out.writestr(info, change(data) if info.filename == member else data)


def test_a_flipped_byte_in_the_chain_is_found_by_verify_export(alice_api, filled_account, tmp_path):
    _export, path = _export_file(alice_api, tmp_path)
    tampered = str(tmp_path / "tampered.zip")

    def flip(data: bytes) -> bytes:
        at = data.index(b"call") + 1  # inside the first incident event's action, "incident.create"
        return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]

    _rewrite(path, tampered, "audit/chain.jsonl", flip)
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("verify_export", tampered, stdout=out)
    assert failed.value.returncode == 1
    report = out.getvalue()
    assert "MISMATCH audit/chain.jsonl: expected sha256" in report
    assert "audit/chain.jsonl line" in report  # the chain itself no longer links


def test_a_changed_evidence_file_is_named_by_verify_export(alice_api, filled_account, tmp_path):
    _export, path = _export_file(alice_api, tmp_path)
    with zipfile.ZipFile(path) as archive:
        member = json.loads(archive.read("evidence.json"))[0]["path"]
    tampered = str(tmp_path / "tampered.zip")
    _rewrite(path, tampered, member, lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_export", tampered, stdout=out)
    assert f"MISMATCH {member}: expected sha256" in out.getvalue()


def test_another_users_export_is_a_404(alice_api, bob_api, filled_account):
    status = export_now(alice_api)
    assert bob_api.get(f"/api/v1/export/{status['id']}/").status_code == 404
    assert bob_api.get(f"/api/v1/export/{status['id']}/download").status_code == 404


def test_the_same_idempotency_key_orders_one_export(alice_api, alice_case):
    first = alice_api.post("/api/v1/export/", HTTP_IDEMPOTENCY_KEY="export-1")
    again = alice_api.post("/api/v1/export/", HTTP_IDEMPOTENCY_KEY="export-1")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert Export.objects.count() == 1


def test_the_export_page_builds_and_offers_the_zip(client, alice, alice_case):
    client.force_login(alice)
    response = client.post("/account/export/")
    assert response.status_code == 302
    export = Export.objects.get()
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert f"/account/export/{export.pk}/download" in page.content.decode()
    download = client.get(f"/account/export/{export.pk}/download")
    assert download.status_code == 200
    assert b"".join(download.streaming_content)[:2] == b"PK"
    assert "/account/export/" in client.get("/accounts/profile/").content.decode()
