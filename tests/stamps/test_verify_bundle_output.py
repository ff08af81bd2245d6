"""`manage.py verify_bundle` run as an operator runs it (issue 24, "What to build" 5): whatever the
bundle, its output is the verdict, one line per problem, and never a traceback (pyHanko logs each
certificate path it cannot build with one)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.complaints.test_worker import BASE_DIR, worker_env

from .local_tsa import LocalTSA
from .test_bundle import rezip, stamped_bundle  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def run_verify_bundle(path, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "verify_bundle", str(path)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def forge_token(folder) -> str:
    """Replace the batch token with one over the same root from a TSA of someone's own making."""
    from asn1crypto import tsp

    token = next((folder / "timestamps").glob("batch-*.tsr"))
    root = bytes.fromhex(token.with_suffix(".root").read_text().strip())
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": root},
            "cert_req": True,
        }
    )
    with LocalTSA("Someone's TSA") as other:
        token.write_bytes(other.answer(query.dump()))
    return token.name


def test_verify_bundle_prints_a_verdict_and_never_a_traceback(
    stamped_bundle,  # noqa: F811
    settings,
    evidence_storage,
    tmp_path,
):
    _dossier, data, folder = stamped_bundle
    env = worker_env(settings, evidence_storage, tmp_path)
    env["LOG_LEVEL"] = "INFO"

    good = tmp_path / "good.zip"
    good.write_bytes(data)
    result = run_verify_bundle(good, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "INTACT" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    # Nothing stands before the verdict: not pyHanko's warnings about the paths it tried.
    assert [line for line in (result.stdout + result.stderr).splitlines() if line] == [
        line for line in result.stdout.splitlines() if line.startswith("INTACT")
    ]

    # A forged token, a changed evidence file and a changed PDF: each is one PROBLEM line.
    forged_name = forge_token(folder)
    screenshot = next((folder / "evidence").glob("*Screenshot_1.png"))
    screenshot.write_bytes(screenshot.read_bytes() + b"forged")
    pdf = folder / "dossier.pdf"
    pdf.write_bytes(pdf.read_bytes().replace(b"/Producer", b"/Produc3r", 1))
    result = run_verify_bundle(rezip(folder, tmp_path / "broken.zip"), env)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    problems = [line for line in result.stdout.splitlines() if line.startswith("PROBLEM")]
    assert any(forged_name in line for line in problems), output
    assert any(screenshot.name in line for line in problems), output
    # One line per problem, and the command's closing line: nothing else.
    assert all(
        line.startswith("PROBLEM") or line.startswith("CommandError") for line in output.splitlines() if line
    ), output
