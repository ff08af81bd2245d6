"""The signing key: checking a dossier never creates one, and rotating it keeps earlier dossiers valid."""

from __future__ import annotations

import io

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from complaints.models import Dossier
from complaints.services import dossier_create
from complaints.signing import check_signature
from complaints.verification import write_bundle

CERT, KEY = "dossier-signing-cert.pem", "dossier-signing-key.pem"


def build(owner, case) -> Dossier:
    dossier = dossier_create(owner=owner, case=case, addressee="alipay")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    return dossier


def pdf_of(dossier) -> bytes:
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        return handle.read()


def bundle_at(dossier, path):
    with path.open("wb") as handle:
        write_bundle(dossier, handle)
    return path


def verify_bundle(path) -> tuple[int, str]:
    out = io.StringIO()
    with translation.override("en"):
        try:
            call_command("verify_bundle", str(path), stdout=out)
        except CommandError as error:
            return error.returncode, out.getvalue() + str(error)
    return 0, out.getvalue()


def fingerprint(path) -> str:
    """SHA-256 of the certificate (DER): the fingerprint every dossier's appendix prints."""
    return x509.load_pem_x509_certificate(path.read_bytes()).fingerprint(hashes.SHA256()).hex()


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def own_key_folder(settings, tmp_path):
    """A signing folder of this test's own (the session's shared key must not be rotated)."""
    settings.DOSSIER_SIGNING_DIR = tmp_path / "signing"
    return settings.DOSSIER_SIGNING_DIR


def test_rotating_the_key_keeps_earlier_dossiers_verifying(alice, filled_case, own_key_folder, tmp_path):
    before = build(alice, filled_case)
    old_fingerprint = fingerprint(own_key_folder / CERT)

    out = io.StringIO()
    call_command("rotate_signing_key", stdout=out)
    new_fingerprint = fingerprint(own_key_folder / CERT)
    assert new_fingerprint != old_fingerprint
    # The old certificate is kept, the old private key is gone: one private key in the folder.
    assert files_under(own_key_folder) == sorted([CERT, KEY, f"retired/{old_fingerprint}-cert.pem"])
    assert old_fingerprint in out.getvalue() and new_fingerprint in out.getvalue()

    after = build(alice, filled_case)
    old_check, new_check = check_signature(pdf_of(before)), check_signature(pdf_of(after))
    assert old_check.ok, old_check.problem
    assert old_check.signed_by.retired and old_check.signed_by.fingerprint == old_fingerprint
    assert new_check.ok, new_check.problem
    assert not new_check.signed_by.retired and new_check.signed_by.fingerprint == new_fingerprint

    code, output = verify_bundle(bundle_at(before, tmp_path / "before.zip"))
    assert code == 0, output
    assert "INTACT" in output and f"a retired key (sha256 fingerprint {old_fingerprint})" in output
    code, output = verify_bundle(bundle_at(after, tmp_path / "after.zip"))
    assert code == 0, output
    assert f"the current key (sha256 fingerprint {new_fingerprint})" in output


def test_a_compromised_key_is_no_longer_trusted(alice, filled_case, own_key_folder):
    before = build(alice, filled_case)
    old_fingerprint = fingerprint(own_key_folder / CERT)
    call_command("rotate_signing_key", "--compromised", stdout=io.StringIO())
    assert (own_key_folder / "revoked" / f"{old_fingerprint}-cert.pem").is_file()
    assert not (own_key_folder / "retired").exists()
    check = check_signature(pdf_of(before))
    assert not check.ok and "not made by this installation's key" in check.problem


def test_rotation_waits_for_running_builds(alice, filled_case, own_key_folder):
    dossier = build(alice, filled_case)
    old_fingerprint = fingerprint(own_key_folder / CERT)
    Dossier.objects.filter(pk=dossier.pk).update(status="running")
    with pytest.raises(CommandError, match="running"):
        call_command("rotate_signing_key", stdout=io.StringIO())
    assert fingerprint(own_key_folder / CERT) == old_fingerprint


def test_checking_without_a_key_says_so_and_creates_none(
    alice, filled_case, settings, tmp_path, client, own_key_folder
):
    dossier = build(alice, filled_case)
    bundle = bundle_at(dossier, tmp_path / "bundle.zip")
    pdf = pdf_of(dossier)
    empty = tmp_path / "lost-signing"
    empty.mkdir()
    settings.DOSSIER_SIGNING_DIR = empty

    code, output = verify_bundle(bundle)
    assert code == 1
    assert "this installation has no signing key" in output and str(empty) in output
    assert "its dossiers cannot be checked here" in output
    assert "Traceback" not in output

    check = check_signature(pdf)
    assert not check.ok and check.no_key and "no signing key" in check.problem
    page = client.post("/verify/", {"file": SimpleUploadedFile("d.pdf", pdf)}).content.decode()
    assert "no signing key" in page and "verdict ok" not in page

    assert files_under(empty) == []  # nothing was created: no key, no certificate
