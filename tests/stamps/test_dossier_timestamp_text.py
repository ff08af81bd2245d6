"""What a dossier says of its timestamps (issue 24, acceptance 5): it names the TSA by the subject
of the certificate that signed the token, not by the host it was asked at, and says what a
timestamp proves (the file existed at that moment) and what it does not (when the event happened),
in Chinese and in English. Manifests sealed before the subject was recorded still render and verify."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from complaints.services import dossier_create
from stamps.services import stamp_due

from .test_bundle import files_for, flowable_text, issued_bundle, rezip, unzip, verify_bundle

needs_pdftotext = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler-utils is not installed"
)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_text(dossier, tmp_path) -> str:
    path = tmp_path / f"{dossier.pk}.pdf"
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        path.write_bytes(handle.read())
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def stamped_case(alice_case, local_tsa, settings):
    files_for(alice_case)
    stamp_due(now=timezone.now() + timedelta(seconds=settings.TSA_BATCH_SECONDS))
    return alice_case


@needs_pdftotext
@pytest.mark.parametrize(
    ("language", "proves"),
    [
        ("zh-hans", "证明该文件在该时刻已存在，不证明事件发生的时间"),
        ("en", "It proves the file existed at that moment, not when the event happened"),
    ],
)
def test_the_dossier_names_the_tsa_by_its_certificate_and_says_what_a_timestamp_proves(
    alice, stamped_case, local_tsa, tmp_path, language, proves
):
    dossier = dossier_create(owner=alice, case=stamped_case, addressee="nfra", language=language)
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    manifest = json.loads(dossier.manifest)
    assert {entry["timestamp"]["tsa_subject"] for entry in manifest["evidence"]} == {local_tsa.subject}

    text = squash(pdf_text(dossier, tmp_path))
    assert squash(proves) in text
    assert squash(local_tsa.subject) in text
    by = "由" if language == "zh-hans" else "by"
    assert squash(f"{by} {local_tsa.subject}") in text
    assert squash(f"{by} 127.0.0.1") not in text  # not by the host it was asked at


def test_a_manifest_sealed_before_the_subject_was_recorded_names_the_host_and_still_verifies(
    alice, stamped_case, settings, tmp_path
):
    from complaints.pdf.sections import Renderer

    dossier, data = issued_bundle(alice, stamped_case, settings)
    manifest = json.loads(dossier.manifest)
    for entry in manifest["evidence"]:
        del entry["timestamp"]["tsa_subject"]
    index = flowable_text(Renderer(manifest, seal=dossier.seal).evidence_index())
    assert "由 127.0.0.1" in index and "不证明事件发生的时间" in index
    # The bundle verifies as it did: the subject is read from the sealed manifest, never required.
    code, problems, _output = verify_bundle(rezip(unzip(data, tmp_path / "bundle"), tmp_path / "b.zip"))
    assert code == 0, problems
