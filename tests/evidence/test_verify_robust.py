"""verify_evidence keeps going when storage fails: a file that cannot be read is one MISMATCH line
(never a traceback), and on a versioned object store a key whose current version is not the
recorded one is reported, while the evidence itself stays intact."""

from __future__ import annotations

import errno
import io

import pytest
from botocore.exceptions import ClientError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

import evidence.integrity
from evidence.services import evidence_store
from tests.conftest import S3_MODE, amr_bytes, png_bytes

needs_s3 = pytest.mark.skipif(not S3_MODE, reason="needs EVIDENCE_S3_BUCKET (the production-like run)")


def run_verify(*args) -> tuple[int, str]:
    """Exit status and output. Only CommandError is the command's own exit: any other exception
    (a traceback) propagates and fails the test."""
    out = io.StringIO()
    try:
        call_command("verify_evidence", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def mismatches(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("MISMATCH")]


@pytest.fixture
def stored(alice_incident):
    return [
        evidence_store(incident=alice_incident, upload=SimpleUploadedFile("a.png", png_bytes())),
        evidence_store(incident=alice_incident, upload=SimpleUploadedFile("b.amr", amr_bytes())),
        evidence_store(incident=alice_incident, upload=SimpleUploadedFile("c.amr", amr_bytes(frames=300))),
    ]


def failing_for(target, error):
    """open_evidence, except that `target`'s file raises `error` (when opened, or when read)."""
    real = evidence.integrity.open_evidence

    def opener(row):
        if row.pk != target.pk:
            return real(row)
        if isinstance(error, ClientError):
            raise error

        class Broken(io.BytesIO):
            def read(self, *_args):
                raise error

        return Broken(b"")

    return opener


# --- any storage ----------------------------------------------------------------------------------


def test_a_store_refusing_access_is_one_line_and_the_run_goes_on(stored, monkeypatch):
    target = stored[1]
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")
    monkeypatch.setattr(evidence.integrity, "open_evidence", failing_for(target, denied))
    code, output = run_verify()
    assert code == 1
    assert "evidence files checked: 3" in output
    lines = mismatches(output)
    assert len(lines) == 1, output
    assert f"evidence id {target.pk}" in lines[0] and target.storage_name in lines[0]
    assert "ClientError AccessDenied" in lines[0]


def test_a_read_error_part_way_is_one_line_and_the_run_goes_on(stored, monkeypatch):
    target = stored[0]
    failure = OSError(errno.EIO, "Input/output error")
    monkeypatch.setattr(evidence.integrity, "open_evidence", failing_for(target, failure))
    code, output = run_verify()
    assert code == 1
    lines = mismatches(output)
    assert len(lines) == 1, output
    assert f"evidence id {target.pk}" in lines[0] and "cannot be read (OSError)" in lines[0]


# --- local files ----------------------------------------------------------------------------------


def test_a_deleted_file_and_a_name_outside_the_store_are_each_one_line(stored, private_storage):
    (private_storage / stored[0].storage_name).unlink()
    # A row pointing outside the storage folder (edited in the database): the storage refuses the name.
    type(stored[2]).objects.filter(pk=stored[2].pk).update(storage_name="../../etc/passwd")
    code, output = run_verify()
    assert code == 1 and "Traceback" not in output
    assert "evidence files checked: 3" in output
    deleted = [line for line in mismatches(output) if f"evidence id {stored[0].pk} " in line]
    assert len(deleted) == 1 and "file missing" in deleted[0] and stored[0].storage_name in deleted[0]
    outside = [line for line in mismatches(output) if "../../etc/passwd" in line and "cannot be read" in line]
    assert len(outside) == 1 and "SuspiciousFileOperation" in outside[0]
    assert not any(f"evidence id {stored[1].pk} " in line for line in mismatches(output))


# --- object storage with versions (the production-like run) ---------------------------------------


def s3_key(row) -> str:
    return default_storage._normalize_name(row.storage_name)


def s3_client():
    return default_storage.connection.meta.client


@needs_s3
def test_a_missing_version_is_one_mismatch_line(alice_incident, settings):
    settings.EVIDENCE_S3_RETENTION_DAYS = 0  # only an unlocked version can be deleted, even by the owner
    gone = evidence_store(
        incident=alice_incident, upload=SimpleUploadedFile("gone.amr", amr_bytes(frames=222))
    )
    kept = evidence_store(incident=alice_incident, upload=SimpleUploadedFile("kept.png", png_bytes()))
    s3_client().delete_object(
        Bucket=default_storage.bucket_name, Key=s3_key(gone), VersionId=gone.storage_version
    )
    code, output = run_verify()
    assert code == 1
    assert "evidence files checked: 2" in output
    lines = mismatches(output)
    assert len(lines) == 1, output
    assert f"evidence id {gone.pk}" in lines[0] and gone.storage_name in lines[0]
    assert "the recorded version is missing (ClientError NoSuch" in lines[0]
    assert f"evidence id {kept.pk}" not in output
    assert "WARNING" not in output  # the missing version is the one line; no second one about the key


@needs_s3
def test_an_overwritten_or_deleted_key_is_reported_while_reads_stay_correct(alice_incident):
    row = evidence_store(incident=alice_incident, upload=SimpleUploadedFile("b.amr", amr_bytes(frames=333)))
    other = evidence_store(incident=alice_incident, upload=SimpleUploadedFile("a.png", png_bytes()))
    assert row.storage_version
    code, output = run_verify()
    assert code == 0 and "WARNING" not in output, output

    # Someone with the bucket's credentials writes other bytes under the key: a new current version.
    written = s3_client().put_object(Bucket=default_storage.bucket_name, Key=s3_key(row), Body=b"other")
    code, output = run_verify()
    assert code == 0 and "OK" in output, output  # the recorded version is intact and is what is read
    warnings = [line for line in output.splitlines() if line.startswith("WARNING evidence")]
    assert len(warnings) == 1, output
    assert f"evidence id {row.pk}: the key's current version is {written['VersionId']}" in warnings[0]
    assert f"(recorded {row.storage_version})" in warnings[0]
    assert "reads use the recorded version and are correct" in warnings[0]
    assert f"evidence id {other.pk}" not in output

    # Then a plain delete: a delete marker is the key's current version.
    s3_client().delete_object(Bucket=default_storage.bucket_name, Key=s3_key(row))
    code, output = run_verify()
    assert code == 0, output
    assert f"evidence id {row.pk}: the key's current version is a delete marker" in output
    code, output = run_verify("--strict")
    assert code == 1 and "warning" in output
