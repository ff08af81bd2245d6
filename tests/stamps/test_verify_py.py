"""A bundle checks itself: `python3 verify.py`, with nothing but Python's standard library (run here
with -I -S in an empty environment), passes an untouched bundle and names every forgery, including
the one the printed checks used to pass: a replaced screenshot with SHA256SUMS written again."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stamps.test_bundle import files_for, issued_bundle, unzip

PYTHON = getattr(sys, "_base_executable", None) or sys.executable


def run_verify_py(folder: Path) -> tuple[int, str]:
    result = subprocess.run(
        [PYTHON, "-I", "-S", "verify.py"], cwd=folder, env={}, capture_output=True, text=True, timeout=120
    )
    return result.returncode, result.stdout + result.stderr


def write_sums(folder: Path) -> None:
    """What a forger does after replacing a file: SHA256SUMS written again to match."""
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "SHA256SUMS"):
        if path.name in ("VERIFY.txt",):
            continue
        lines.append(
            f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(folder).as_posix()}\n"
        )
    (folder / "SHA256SUMS").write_text("".join(lines))


@pytest.fixture
def bundle_folder(alice, alice_case, local_tsa, settings, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    from stamps.services import stamp_due

    files_for(alice_case)
    stamp_due(now=timezone.now() + timedelta(seconds=settings.TSA_BATCH_SECONDS))
    dossier, data = issued_bundle(alice, alice_case, settings)
    return dossier, unzip(data, tmp_path / "bundle")


def manual_steps(verify_txt: str) -> list[str]:
    """The commands under "Or by hand" in VERIFY.txt, exactly as printed."""
    block = verify_txt.split("Or by hand / 或手工核验:", 1)[1].split("SHA256SUMS is not sealed", 1)[0]
    return [
        line.strip().split("     #")[0].strip()
        for line in block.splitlines()
        if line.strip().startswith(("sha256sum", "python3"))
    ]


def test_an_untouched_bundle_passes_verify_py_and_the_manual_steps(bundle_folder):
    dossier, folder = bundle_folder
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert (
        manifest["bundle"]["files"]["verify.py"]
        == hashlib.sha256((folder / "verify.py").read_bytes()).hexdigest()
    )
    assert any(path.startswith("timestamps/") for path in manifest["bundle"]["files"])
    code, output = run_verify_py(folder)
    assert code == 0, output
    assert "ALL CHECKS PASSED" in output and "FAIL" not in output
    assert dossier.seal in output and "openssl ts -verify" in output
    verify_txt = (folder / "VERIFY.txt").read_text(encoding="utf-8")
    assert verify_txt.index("sha256sum verify.py") < verify_txt.index("python3 verify.py")
    assert verify_txt.index("python3 verify.py") < verify_txt.index("Or by hand")
    # The appendix prints verify.py's sealed SHA-256, which the first step compares with.
    text = subprocess.run(
        ["pdftotext", "dossier.pdf", "-"], cwd=folder, capture_output=True, text=True
    ).stdout
    assert manifest["bundle"]["files"]["verify.py"] in text.replace("\n", "")
    steps = manual_steps(verify_txt)
    assert steps[0] == "sha256sum manifest.json" and steps[1].startswith("python3 -c")
    seal_line = subprocess.run(steps[0], shell=True, cwd=folder, capture_output=True, text=True)
    assert seal_line.stdout.split()[0] == dossier.seal
    compared = subprocess.run(
        steps[1], shell=True, cwd=folder, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
    )
    assert compared.returncode == 0 and "MISMATCH" not in compared.stdout, compared.stdout + compared.stderr
    assert compared.stdout.count("OK") >= len(manifest["evidence"])


def test_a_replaced_screenshot_with_sha256sums_written_again_is_named(bundle_folder):
    _dossier, folder = bundle_folder
    shot = next(folder.glob("evidence/*Screenshot_1.png"))
    shot.write_bytes(shot.read_bytes()[:-8] + b"forged!!")
    write_sums(folder)
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0  # the attack: the unsealed list agrees with the forged file
    code, output = run_verify_py(folder)
    assert code == 1
    name = shot.relative_to(folder).as_posix()
    assert re.search(rf"FAIL  .*{re.escape(name)}: sealed sha256", output), output
    # The manual step printed in VERIFY.txt catches it too, followed literally.
    steps = manual_steps((folder / "VERIFY.txt").read_text(encoding="utf-8"))
    compared = subprocess.run(steps[1], shell=True, cwd=folder, capture_output=True, text=True)
    assert f"MISMATCH {name}" in compared.stdout, compared.stdout


@pytest.mark.parametrize(
    "forgery",
    ["calls.csv", "summary.txt", "token", "manifest", "added", "removed", "removed-csv", "appended-pdf"],
)
def test_every_other_forgery_is_named(bundle_folder, forgery):
    _dossier, folder = bundle_folder
    if forgery in ("calls.csv", "summary.txt"):
        target = folder / forgery
        target.write_bytes(target.read_bytes() + b"\n13800000000,forged\n")
        named = forgery
    elif forgery == "token":
        target = next(folder.glob("timestamps/*.tsr"))
        data = bytearray(target.read_bytes())
        data[-40] ^= 0x01
        target.write_bytes(bytes(data))
        named = target.relative_to(folder).as_posix()
    elif forgery == "manifest":
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        manifest["complainant"]["name"] = "someone else"
        (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        named = "dossier.pdf"
    elif forgery == "added":
        (folder / "evidence" / "E9-extra.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
        named = "evidence/E9-extra.jpg"
    elif forgery == "removed-csv":
        (folder / "calls.csv").unlink()
        named = "calls.csv"
    elif forgery == "appended-pdf":
        # A forged manifest with a matching attachment and seal appended after the signature.
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        manifest["complainant"]["name"] = "someone else"
        forged = json.dumps(manifest, ensure_ascii=False).encode()
        (folder / "manifest.json").write_bytes(forged)
        seal = hashlib.sha256(forged).hexdigest()
        extra = (
            b"\n99 0 obj\n<< /Type /EmbeddedFile /Length %d >>\nstream\n" % len(forged)
            + forged
            + b"\nendstream\nendobj\n% seal "
            + seal.encode()
            + b"\n"
        )
        (folder / "dossier.pdf").write_bytes((folder / "dossier.pdf").read_bytes() + extra)
        named = "dossier.pdf"
    else:
        target = next(folder.glob("evidence/*.amr"))
        target.unlink()
        named = target.relative_to(folder).as_posix()
    write_sums(folder)
    code, output = run_verify_py(folder)
    assert code == 1, output
    assert any(line.startswith("FAIL") and named in line for line in output.splitlines()), output


def test_a_timestamp_not_sealed_with_the_dossier_is_never_reported_ok(bundle_folder):
    """A timestamp folder added to a bundle (a forger's own TSA, say) is noted as unsealed, not OK."""
    _dossier, folder = bundle_folder
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    sealed = manifest["bundle"]["files"]
    proof = next(path for path in sealed if path.endswith(".proof.json"))
    document = json.loads((folder / proof).read_text(encoding="utf-8"))
    token = folder / document["token"]
    fake = "timestamps/batch-999.tsr"
    (folder / fake).write_bytes(token.read_bytes())
    (folder / "timestamps/batch-999.root").write_text(
        (folder / (document["token"][:-4] + ".root")).read_text()
    )
    document["token"] = fake
    (folder / proof).write_text(json.dumps(document), encoding="utf-8")
    code, output = run_verify_py(folder)
    assert code == 1, output  # the sealed proof file was changed
    verdicts = [
        line for line in output.splitlines() if fake in line and line.startswith(("OK", "NOTE", "FAIL"))
    ]
    assert verdicts and all(line.startswith("NOTE") for line in verdicts), output
