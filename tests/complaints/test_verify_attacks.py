"""Attacks on the public verifier: zip bombs, crowded or crafted zips, files slipped into a bundle,
a replaced VERIFY.txt, and too many attempts. Each one is answered quickly, cheaply and by name."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tempfile
import time
import tracemalloc
import zipfile
import zlib

import pytest
from django.core.cache import caches
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.template.defaultfilters import filesizeformat
from django.test import RequestFactory
from django.utils import translation
from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.writer import PdfFileWriter
from rest_framework.test import APIClient

from complaints import verification
from complaints.models import Dossier, IssuedSeal
from complaints.services import dossier_create
from complaints.verification import VerificationRefused, VerifyLimits, bundle_file, verify_upload
from config.throttling import client_address, hit, parse_rate
from tests.conftest import jpeg_bytes

MiB = 1024 * 1024
ZEROS = bytes(MiB)


@pytest.fixture(autouse=True)
def fresh_throttle():
    """Throttle counters live in the cache; each test starts, and leaves, with none."""
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def api():
    client = APIClient()
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def page(client):
    client.cookies["django_language"] = "en"
    return client


def post_api(api, data: bytes, name: str = "bundle.zip", **extra):
    return api.post("/api/v1/verify/", {"file": SimpleUploadedFile(name, data)}, format="multipart", **extra)


def size(limit: int) -> str:
    return str(filesizeformat(limit))


def deflated_member(archive: zipfile.ZipFile, name: str, megabytes: int) -> None:
    """A member of `megabytes` MiB of zeros, deflated as it is written: the test never holds it."""
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w") as member:
        for _ in range(megabytes):
            member.write(ZEROS)


@pytest.fixture(scope="module")
def pdf_bomb_zip() -> bytes:
    """About 250 KB that inflate to 256 MiB: dossier.pdf is nothing but zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        deflated_member(archive, "dossier.pdf", 256)
        archive.writestr("manifest.json", b"{}")
    return buffer.getvalue()


def measured(call):
    """(result, seconds, peak Python allocation in bytes) of call()."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = call()
        seconds = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, seconds, peak


# --- bombs ----------------------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_before_it_is_inflated(db, api, pdf_bomb_zip):
    assert len(pdf_bomb_zip) < 400_000
    response, seconds, peak = measured(lambda: post_api(api, pdf_bomb_zip))
    assert response.status_code == 413, response.content
    error = response.json()["error"]
    assert error["code"] == "too_large_to_check"
    assert "dossier.pdf" in error["message"] and size(50 * MiB) in error["message"]
    assert size(256 * MiB) in error["message"]
    # Refused from the declared size: nothing near the 256 MiB was inflated or held.
    assert peak < 20 * MiB, peak
    assert seconds < 3, seconds


def test_the_verify_page_refuses_a_bomb_with_a_plain_message(db, page, pdf_bomb_zip):
    response = page.post("/verify/", {"file": SimpleUploadedFile("bundle.zip", pdf_bomb_zip)})
    assert response.status_code == 413
    body = response.content.decode()
    assert "Not checked" in body and "dossier.pdf" in body and "verdict ok" not in body


def test_verify_bundle_refuses_a_bomb_too(db, pdf_bomb_zip, tmp_path):
    path = tmp_path / "bomb.zip"
    path.write_bytes(pdf_bomb_zip)
    out = io.StringIO()
    with translation.override("en"), pytest.raises(CommandError) as failure:
        call_command("verify_bundle", str(path), stdout=out)
    assert failure.value.returncode == 1
    assert out.getvalue().startswith("REFUSED dossier.pdf declares")


def test_a_member_lying_about_its_size_is_read_no_further_than_it_declares(db, api):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        deflated_member(archive, "dossier.pdf", 256)
    data = bytearray(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        header, directory = archive.getinfo("dossier.pdf").header_offset, archive.start_dir
    # The local header and the central directory both claim 1,000 bytes unpacked.
    struct.pack_into("<L", data, header + 22, 1000)
    struct.pack_into("<L", data, directory + 24, 1000)
    response, seconds, peak = measured(lambda: post_api(api, bytes(data)))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["valid"] is False
    assert any(p.startswith("dossier.pdf: cannot be read from the zip") for p in body["problems"]), body
    assert peak < 20 * MiB, peak
    assert seconds < 3, seconds


def test_a_member_with_an_absurd_compression_ratio_is_refused(db, api):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        deflated_member(archive, "evidence/E1-recording.wav", 64)
    response, _seconds, peak = measured(lambda: post_api(api, buffer.getvalue()))
    assert response.status_code == 413, response.content
    message = response.json()["error"]["message"]
    assert "evidence/E1-recording.wav" in message and "100 times" in message
    assert peak < 20 * MiB, peak


def test_the_total_unpacked_size_is_capped(db, api, settings):
    settings.VERIFY_MAX_UNPACKED_BYTES = 1 * MiB
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # 1 MiB each: small enough that their ratio is not looked at, 2 MiB together.
        archive.writestr("evidence/E1-a.amr", ZEROS)
        archive.writestr("evidence/E2-b.amr", ZEROS)
    assert len(buffer.getvalue()) < MiB
    response = post_api(api, buffer.getvalue())
    assert response.status_code == 413
    assert size(1 * MiB) in response.json()["error"]["message"]


def test_a_pdf_past_the_pdf_limit_is_refused_unread(db, api, settings):
    settings.VERIFY_MAX_PDF_BYTES = 10_000
    response = post_api(api, b"%PDF-1.7\n" + bytes(20_000), name="dossier.pdf")
    assert response.status_code == 413
    assert size(10_000) in response.json()["error"]["message"]


def manifest_bomb_pdf(megabytes: int) -> bytes:
    """A PDF whose embedded manifest.json is `megabytes` MiB of zeros, deflated."""
    compressor = zlib.compressobj(9)
    encoded = b"".join(compressor.compress(ZEROS) for _ in range(megabytes)) + compressor.flush()
    writer = PdfFileWriter()
    bomb = embed.EmbeddedFileObject(
        writer,
        dict_data={generic.pdf_name("/Filter"): generic.pdf_name("/FlateDecode")},
        encoded_data=encoded,
        mime_type="application/json",
    )
    embed.embed_file(
        writer,
        embed.FileSpec(file_spec_string="manifest.json", file_name="manifest.json", embedded_data=bomb),
    )
    pdf = io.BytesIO()
    writer.write(pdf)
    return pdf.getvalue()


def test_a_pdf_whose_embedded_manifest_is_a_bomb_is_refused(db, api):
    # 128 MiB of zeros: past the 32 MiB a stream may inflate to, within pyHanko's own 256 MiB default.
    pdf = manifest_bomb_pdf(128)
    assert len(pdf) < 200_000
    response, _seconds, peak = measured(lambda: post_api(api, pdf, name="dossier.pdf"))
    assert response.status_code == 413, response.content
    assert size(32 * MiB) in response.json()["error"]["message"]
    # At most the 32 MiB cap is inflated (zlib's blocks, then the bytes they are joined into).
    assert peak < 90 * MiB, peak


# --- crowded and crafted zips ---------------------------------------------------------------------


def test_a_zip_with_too_many_entries_is_refused(db, api):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for number in range(VerifyLimits().entries + 1):
            archive.writestr(f"e/{number}", b"")
    response = post_api(api, buffer.getvalue())
    assert response.status_code == 413
    assert f"{VerifyLimits().entries}" in response.json()["error"]["message"]


def test_entries_are_counted_even_when_the_end_record_understates_them(db, api, settings):
    settings.VERIFY_MAX_ENTRIES = 50
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for number in range(200):
            archive.writestr(f"e/{number}", b"")
    data = bytearray(buffer.getvalue())
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<2H", data, end + 8, 3, 3)  # "3 entries"
    response = post_api(api, bytes(data))
    assert response.status_code == 413
    assert "50" in response.json()["error"]["message"]


# --- files slipped into a real bundle ---------------------------------------------------------------


def issued(owner, case) -> Dossier:
    dossier = dossier_create(owner=owner, case=case, addressee="alipay")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    return dossier


def rewrite(
    data: bytes, *, replace: dict[str, bytes] | None = None, add: list[tuple[str, bytes]] = ()
) -> bytes:
    """The bundle with members replaced and others appended (in that order, duplicates allowed)."""
    replace = replace or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename, source.read(info)))
        for name, content in add:
            target.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), content)
    return out.getvalue()


def member(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name)


@pytest.fixture
def bundle(alice, filled_case) -> tuple[Dossier, bytes]:
    dossier = issued(alice, filled_case)
    return dossier, bundle_file(dossier).read()


def test_an_untouched_bundle_still_verifies(api, bundle):
    dossier, data = bundle
    body = post_api(api, data).json()
    assert body["valid"] is True and body["problems"] == [] and body["dossier"]["seal"] == dossier.seal


def test_a_forged_screenshot_added_to_the_bundle_and_its_sums_is_reported(api, bundle, tmp_path):
    dossier, data = bundle
    forged = jpeg_bytes()
    sums = (
        member(data, "SHA256SUMS")
        + f"{hashlib.sha256(forged).hexdigest()}  evidence/E9-forged.jpg\n".encode()
    )
    tampered = rewrite(data, replace={"SHA256SUMS": sums}, add=[("evidence/E9-forged.jpg", forged)])
    body = post_api(api, tampered).json()
    assert body["valid"] is False
    assert (
        "unexpected file in bundle: evidence/E9-forged.jpg (not in the sealed manifest)" in body["problems"]
    )
    assert any(
        p.startswith("SHA256SUMS line")
        and "evidence/E9-forged.jpg" in p
        and "not in the sealed manifest" in p
        for p in body["problems"]
    ), body["problems"]
    assert len(body["problems"]) == 2, body["problems"]
    # The command line says the same.
    path = tmp_path / "tampered.zip"
    path.write_bytes(tampered)
    out = io.StringIO()
    with translation.override("en"), pytest.raises(CommandError) as failure:
        call_command("verify_bundle", str(path), stdout=out)
    assert failure.value.returncode == 1
    assert "PROBLEM unexpected file in bundle: evidence/E9-forged.jpg" in out.getvalue()


def test_a_replaced_verify_txt_is_reported(api, bundle):
    dossier, data = bundle
    original = member(data, "VERIFY.txt").decode()
    forged = (
        original.replace(dossier.seal, "0" * 64) + "\nCall 400-000-0000 to have this dossier confirmed.\n"
    )
    body = post_api(api, rewrite(data, replace={"VERIFY.txt": forged.encode()})).json()
    assert body["valid"] is False
    assert len(body["problems"]) == 1 and body["problems"][0].startswith("VERIFY.txt: differs")
    assert dossier.number in body["problems"][0]


def test_sha256sums_must_give_every_sealed_file_its_sealed_hash(api, bundle):
    dossier, data = bundle
    lines = member(data, "SHA256SUMS").decode().splitlines(keepends=True)
    evidence_line = next(line for line in lines if "evidence/" in line)
    path = evidence_line.split("  ", 1)[1].strip()
    wrong = "f" * 64 + "  " + path + "\n"
    body = post_api(
        api,
        rewrite(
            data,
            replace={
                "SHA256SUMS": "".join(wrong if line == evidence_line else line for line in lines).encode()
            },
        ),
    ).json()
    assert body["valid"] is False
    assert len(body["problems"]) == 1 and path in body["problems"][0] and "f" * 64 in body["problems"][0]
    body = post_api(
        api,
        rewrite(
            data, replace={"SHA256SUMS": "".join(line for line in lines if line != evidence_line).encode()}
        ),
    ).json()
    assert body["problems"] == [f"SHA256SUMS: no line for {path}, which is in the bundle"]


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_unsafe_and_duplicated_names_are_named(api, bundle):
    dossier, data = bundle
    evidence_path = next(
        name for name in zipfile.ZipFile(io.BytesIO(data)).namelist() if name.startswith("evidence/")
    )
    tampered = rewrite(
        data,
        add=[
            ("../../etc/cron.d/evil", b"x"),
            ("/VERIFY.txt", b"Trust me."),
            (evidence_path, b"a second copy"),
        ],
    )
    body = post_api(api, tampered).json()
    assert body["valid"] is False
    problems = "\n".join(body["problems"])
    assert "unsafe path in bundle: ../../etc/cron.d/evil" in problems
    assert "unsafe path in bundle: /VERIFY.txt" in problems
    assert f"{evidence_path}: appears 2 times in the bundle" in problems


def test_a_bundle_not_issued_here_is_checked_no_further_than_its_seal(api, bundle):
    dossier, data = bundle
    Dossier.objects.filter(pk=dossier.pk).update(seal="", status="failed")
    IssuedSeal.objects.filter(seal=dossier.seal).delete()  # no record of it here at all
    default_storage.delete(f"ledger-records/seals/{dossier.seal}.json")  # nor in the evidence store
    body = post_api(api, rewrite(data, add=[("evidence/E9-forged.jpg", b"x")])).json()
    assert body["valid"] is False and body["dossier"] is None
    assert any("never issued" in p for p in body["problems"])
    assert any("were not checked" in p and "VERIFY.txt is informative only" in p for p in body["problems"])


# --- throttling -----------------------------------------------------------------------------------


def test_verification_is_throttled_per_client_with_retry_after(db, api, page, settings):
    settings.VERIFY_RATE = "3/hour"
    for _ in range(2):
        assert post_api(api, b"not a dossier", name="x.txt").status_code == 200
    assert page.post("/verify/", {"file": SimpleUploadedFile("x.txt", b"not a dossier")}).status_code == 200
    # The fourth attempt from the same address, page or API, waits.
    refused = post_api(api, b"not a dossier", name="x.txt")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled" and refused.json()["error"]["message"]
    assert 1 <= int(refused["Retry-After"]) <= 3600
    on_page = page.post("/verify/", {"file": SimpleUploadedFile("x.txt", b"not a dossier")})
    assert on_page.status_code == 429 and 1 <= int(on_page["Retry-After"]) <= 3600
    assert "Too many attempts" in on_page.content.decode()
    # Looking at the page is not an attempt, and another address has its own count.
    assert page.get("/verify/").status_code == 200
    assert post_api(api, b"not a dossier", name="x.txt", REMOTE_ADDR="198.51.100.7").status_code == 200


def test_hit_counts_attempts_per_window():
    assert [hit("t", "k", limit=2, window=60, now=now) for now in (6000.0, 6001.0)] == [None, None]
    assert hit("t", "k", limit=2, window=60, now=6002.5) == 58
    assert hit("t", "other", limit=2, window=60, now=6003.0) is None
    assert hit("t", "k", limit=2, window=60, now=6060.0) is None  # a new window


def test_rates_and_client_addresses(settings):
    assert parse_rate("30/hour") == (30, 3600) and parse_rate("5/10min") == (5, 600)
    assert parse_rate("100/days") == (100, 86400)
    factory = RequestFactory()
    one = factory.get("/", REMOTE_ADDR="2001:db8:1:2::1")
    two = factory.get("/", REMOTE_ADDR="2001:db8:1:2:ffff::9")
    assert client_address(one) == client_address(two) == "2001:db8:1:2::/64"
    proxied = factory.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")
    assert client_address(proxied) == "10.0.0.1"
    settings.THROTTLE_PROXY_HOPS = 1
    assert client_address(proxied) == "203.0.113.9"


def test_verification_leaves_no_temporary_file_behind(bundle, tmp_path, monkeypatch):
    dossier, data = bundle
    # The PDF goes to disk at once, into a folder of the test's own.
    monkeypatch.setattr(verification, "PDF_SPOOL_BYTES", 1)
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    descriptors = len(os.listdir("/proc/self/fd"))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w") as archive:
        archive.writestr("dossier.pdf", manifest_bomb_pdf(40))
    with translation.override("en"):
        assert verify_upload(io.BytesIO(data)).valid
        # Refused while the PDF sits in its temporary file.
        with pytest.raises(VerificationRefused):
            verify_upload(bomb)
    assert list(spool.iterdir()) == [] and len(os.listdir("/proc/self/fd")) == descriptors
