"""The complaint dossier: a sealed, signed PDF that reads right, and a bundle anyone can check."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from complaints.building import dossier_build
from complaints.manifest import build_manifest
from complaints.models import Dossier, IssuedSeal
from complaints.services import dossier_create, dossier_reissue
from complaints.signing import check_signature, embedded_manifest
from evidence.services import incident_update

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")


def build(owner, case, **options) -> Dossier:
    options.setdefault("addressee", "alipay")
    dossier = dossier_create(owner=owner, case=case, **options)
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    return dossier


def pdf_bytes(dossier) -> bytes:
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        return handle.read()


def pdftotext(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "d.pdf"
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_chinese_dossier_to_alipay_reads_right(alice, filled_case, tmp_path):
    dossier = build(alice, filled_case, language="zh-hans", requests=["stop_harassment", "stop_third_party"])
    data = pdf_bytes(dossier)
    assert hashlib.sha256(data).hexdigest() == dossier.pdf_sha256
    text = pdftotext(data, tmp_path)
    for words in (
        "王小红",
        "支付宝客服",
        "95188",
        "深夜来电威胁要上门",
        "短信称已立案并附律师函",
        "一人上门贴告知书",
        "4403**********4321",
        "重庆蚂蚁消费金融有限公司",
        "涉嫌违反",
        "证据索引",
        "投诉请求",
    ):
        assert words in re.sub(r"\s+", "", text) or words in text, words
    assert "440301199203154321" not in text  # the full ID number never appears
    manifest = embedded_manifest(data)
    seal = hashlib.sha256(manifest).hexdigest()
    assert seal == dossier.seal
    footers = re.findall(r"封印\s*([0-9a-f]{16})…", text)
    assert len(footers) == dossier.pages and set(footers) == {seal[:16]}
    assert seal in text.replace(" ", "") or " ".join(seal[i : i + 16] for i in range(0, 64, 16)) in text
    assert re.search(rf"第\s*{dossier.pages}\s*/\s*{dossier.pages}\s*页", text)


def test_every_page_renders_to_png(alice, filled_case, tmp_path):
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm missing")
    dossier = build(alice, filled_case, language="zh-hans")
    path = tmp_path / "d.pdf"
    path.write_bytes(pdf_bytes(dossier))
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(path), str(tmp_path / "page")], check=True)
    assert len(list(tmp_path.glob("page-*.png"))) == dossier.pages
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
    # The CJK TrueType font is embedded (subset) with a Unicode map, so text can be extracted.
    assert re.search(r"\+\S+\s+TrueType\s+\S+\s+yes\s+yes\s+yes", fonts), fonts


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_english_dossier_to_a_custom_recipient(alice, filled_case, tmp_path):
    from evidence.rules import get_pack

    dossier = build(alice, filled_case, language="en", addressee="custom", addressee_name="Legal Aid Centre")
    text = pdftotext(pdf_bytes(dossier), tmp_path)
    assert "Legal Aid Centre" in text and "Complaint" in text and "Suspected breach of" in text
    # Violations carry the rule's title and citation text from the pack, in the dossier's language.
    rule = get_pack("cn").by_id["CN-TIME-1"]
    assert squash(rule.title["en"]) in squash(text) and squash(rule.sources[0].text["en"]) in squash(text)
    assert re.search(r"page\s*1\s*of", text)


def test_chinese_dossier_cites_the_pack(alice, filled_case, tmp_path):
    from evidence.rules import get_pack

    text = pdftotext(pdf_bytes(build(alice, filled_case, language="zh-hans")), tmp_path)
    for rule_id in ("CN-TIME-1", "CN-IMP-2", "CN-VISIT-1"):
        rule = get_pack("cn").by_id[rule_id]
        assert squash(rule.title["zh-hans"]) in squash(text), rule_id
        assert squash(rule.sources[0].text["zh-hans"]) in squash(text), rule_id


def test_manifest_is_deterministic_and_the_seal_follows_the_facts(alice, filled_case):
    dossier = build(alice, filled_case)
    first, _ = build_manifest(dossier)
    second, _ = build_manifest(dossier)
    assert first == second and hashlib.sha256(first).hexdigest() == dossier.seal
    assert first.decode() == dossier.manifest
    incident = filled_case.incidents.get(kind="visit")
    incident_update(incident=incident, description="两人上门")
    changed, _ = build_manifest(dossier)
    assert hashlib.sha256(changed).hexdigest() != dossier.seal
    # The issued dossier itself never changes.
    dossier.refresh_from_db()
    assert dossier.manifest == first.decode()


def test_a_tampered_evidence_file_stops_the_build(alice, filled_case, private_storage):
    from evidence.models import EvidenceFile

    evidence = EvidenceFile.objects.filter(content_type="image/png").get()
    path = private_storage / evidence.storage_name
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF
    path.write_bytes(bytes(data))
    dossier = dossier_create(owner=alice, case=filled_case, addressee="nfra")
    dossier.refresh_from_db()
    assert dossier.status == "failed" and evidence.sha256 in dossier.error


def test_signature_is_intact_and_a_flipped_byte_breaks_it(alice, filled_case):
    data = pdf_bytes(build(alice, filled_case))
    assert check_signature(data).ok
    broken = bytearray(data)
    broken[len(broken) // 3] ^= 0x01
    assert not check_signature(bytes(broken)).ok


def test_an_issued_dossier_is_immutable_and_reissue_makes_a_new_one(alice, filled_case):
    dossier = build(alice, filled_case)
    before = (dossier.seal, dossier.pdf_sha256)
    dossier_build(dossier_id=dossier.pk)
    dossier.refresh_from_db()
    assert (dossier.seal, dossier.pdf_sha256) == before
    fresh = dossier_reissue(dossier=dossier)
    fresh.refresh_from_db()
    assert fresh.pk != dossier.pk and fresh.reissue_of_id == dossier.pk and fresh.status == "ready"


# --- bundle --------------------------------------------------------------------------------------


def unzip(data: bytes, folder: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        bundle.extractall(folder)
    return folder


def bundle_bytes(dossier) -> bytes:
    from complaints.verification import bundle_file

    return bundle_file(dossier).read()


def run_verify_bundle(path: Path) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_bundle", str(path), stdout=out)
    except Exception as exc:
        return getattr(exc, "returncode", 1), out.getvalue()
    return 0, out.getvalue()


def rezip(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                bundle.write(path, path.relative_to(folder).as_posix())
    return target


def test_bundle_checks_with_sha256sum_and_verify_bundle(alice, filled_case, tmp_path):
    dossier = build(alice, filled_case)
    data = bundle_bytes(dossier)
    folder = unzip(data, tmp_path / "unzipped")
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert {"dossier.pdf", "manifest.json", "SHA256SUMS", "VERIFY.txt"} <= set(names)
    assert len([n for n in names if n.startswith("evidence/")]) == 2
    verify_text = (folder / "VERIFY.txt").read_text()
    assert "如何核验" in verify_text and "How to verify" in verify_text and dossier.seal in verify_text
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    (tmp_path / "bundle.zip").write_bytes(data)
    code, output = run_verify_bundle(tmp_path / "bundle.zip")
    assert code == 0 and "INTACT" in output and dossier.seal in output


def test_verify_bundle_names_each_problem(alice, filled_case, tmp_path):
    dossier = build(alice, filled_case)
    folder = unzip(bundle_bytes(dossier), tmp_path / "unzipped")
    manifest = json.loads((folder / "manifest.json").read_text())
    changed, deleted = manifest["evidence"][0], manifest["evidence"][1]
    target = folder / changed["bundle_path"]
    data = bytearray(target.read_bytes())
    data[100] ^= 0x01
    target.write_bytes(bytes(data))
    (folder / deleted["bundle_path"]).unlink()
    manifest["complainant"]["name"] = "someone else"
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))
    code, output = run_verify_bundle(rezip(folder, tmp_path / "tampered.zip"))
    assert code == 1
    lines = [line for line in output.splitlines() if line.startswith("PROBLEM")]
    assert any(changed["bundle_path"] in line and changed["sha256"] in line for line in lines)
    assert any(deleted["bundle_path"] in line and "missing" in line for line in lines)
    assert any(line.startswith("PROBLEM manifest.json: altered") for line in lines)
    assert len(lines) == 3


# --- verify page and API -------------------------------------------------------------------------


def test_verify_page_and_api_recognise_issued_and_reject_modified_or_unknown(
    alice, filled_case, client, settings, tmp_path_factory
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from rest_framework.test import APIClient

    dossier = build(alice, filled_case)
    issued = pdf_bytes(dossier)
    api = APIClient()

    ok = api.post("/api/v1/verify/", {"file": SimpleUploadedFile("d.pdf", issued)}, format="multipart").json()
    assert ok == {
        "valid": True,
        "dossier": {"seal": dossier.seal, "created_at": ok["dossier"]["created_at"]},
        "problems": [],
    }
    page = client.post("/verify/", {"file": SimpleUploadedFile("d.pdf", issued)})
    assert dossier.number in page.content.decode() and "verdict ok" in page.content.decode()

    modified = bytearray(issued)
    modified[len(modified) // 2] ^= 0x01
    bad = api.post(
        "/api/v1/verify/", {"file": SimpleUploadedFile("d.pdf", bytes(modified))}, format="multipart"
    ).json()
    assert bad["valid"] is False and any("signature" in p for p in bad["problems"])
    page = client.post("/verify/", {"file": SimpleUploadedFile("d.pdf", bytes(modified))}).content.decode()
    assert "verdict bad" in page

    # A dossier made by another installation (another key) was never issued here.
    IssuedSeal.objects.filter(seal=dossier.seal).delete()  # no record of it here at all
    default_storage.delete(f"ledger-records/seals/{dossier.seal}.json")  # nor in the evidence store
    dossier.seal, dossier.status = "", "failed"
    Dossier.objects.filter(pk=dossier.pk).update(seal="", status="failed")
    unknown = api.post(
        "/api/v1/verify/", {"file": SimpleUploadedFile("d.pdf", issued)}, format="multipart"
    ).json()
    assert unknown["valid"] is False and any("never issued" in p for p in unknown["problems"])
    plain = api.post(
        "/api/v1/verify/", {"file": SimpleUploadedFile("x.pdf", b"%PDF-1.4\n%%EOF\n")}, format="multipart"
    ).json()
    assert plain["valid"] is False and plain["problems"]


def test_a_pdf_signed_by_another_key_is_not_trusted(alice, filled_case, settings, tmp_path):
    dossier = build(alice, filled_case)
    issued = pdf_bytes(dossier)
    settings.DOSSIER_SIGNING_DIR = tmp_path / "other-installation"
    assert not check_signature(issued).ok


# --- API ------------------------------------------------------------------------------------------


def test_dossier_api_contract(alice_api, bob_api, filled_case):
    response = alice_api.post(
        "/api/v1/dossiers/",
        {"case": filled_case.pk, "addressee": "alipay", "language": "zh-hans"},
        format="json",
    )
    assert response.status_code in (201, 202)
    body = response.json()
    assert {"id", "status", "seal", "pdf_sha256", "created_at"} <= set(body)
    detail = alice_api.get(f"/api/v1/dossiers/{body['id']}/").json()
    assert detail["status"] == "ready" and len(detail["seal"]) == 64
    pdf = alice_api.get(f"/api/v1/dossiers/{body['id']}/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    content = b"".join(pdf.streaming_content)
    assert hashlib.sha256(content).hexdigest() == detail["pdf_sha256"]
    bundle = alice_api.get(f"/api/v1/dossiers/{body['id']}/bundle")
    assert bundle.status_code == 200 and bundle["Content-Type"] == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(b"".join(bundle.streaming_content))).testzip() is None
    for url in (
        f"/api/v1/dossiers/{body['id']}/",
        f"/api/v1/dossiers/{body['id']}/pdf",
        f"/api/v1/dossiers/{body['id']}/bundle",
    ):
        assert bob_api.get(url).status_code == 404
    assert (
        bob_api.post(
            "/api/v1/dossiers/", {"case": filled_case.pk, "addressee": "alipay"}, format="json"
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"addressee": "mayor"}, "addressee"),
        ({"addressee": "custom"}, "addressee_name"),
        ({"language": "fr"}, "language"),
        ({"date_from": "2026-03-20", "date_to": "2026-03-01"}, "date_to"),
        ({"rule_pack": "mars"}, "rule_pack"),
        ({"date_from": "2026-02-30"}, "date_from"),
        ({"date_from": "2027-06-01"}, "incidents"),  # in the supported range, after every incident
    ],
)
def test_dossier_api_validation(alice_api, filled_case, payload, field):
    response = alice_api.post(
        "/api/v1/dossiers/", {"case": filled_case.pk, "addressee": "alipay", **payload}, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert Dossier.objects.count() == 0


def test_us_pack_dossier_and_period(alice_api, filled_case):
    response = alice_api.post(
        "/api/v1/dossiers/",
        {
            "case": filled_case.pk,
            "addressee": "police",
            "language": "en",
            "rule_pack": "us",
            "date_from": "2026-03-16",
            "date_to": "2026-03-17",
        },
        format="json",
    )
    dossier = Dossier.objects.get(pk=response.json()["id"])
    manifest = json.loads(dossier.manifest)
    assert dossier.rule_pack == "us" and len(manifest["incidents"]) == 2
    assert all(v["rule"].startswith("US-") for v in manifest["violations"])


def test_the_verify_page_shows_the_signing_fingerprint_the_dossier_prints(alice, client, tmp_path):
    """The dossier says a reader will not know the site's own certificate and to compare its
    fingerprint with the one the verify page shows: the page must show it."""
    from complaints.building import signer_fingerprint

    fingerprint = signer_fingerprint()
    page = client.get("/verify/").content.decode()
    assert fingerprint in page
