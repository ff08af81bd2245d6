"""Verify-bomb benchmark: crafted uploads sent over real HTTP to the public `POST /api/v1/verify/`
of the app behind gunicorn (one worker, a fresh one per upload).

For each upload it prints the HTTP status and error code, the seconds until the answer and the
worker's peak RSS growth. The uploads: a zip of about 1.5 MB whose dossier.pdf inflates to 1.5 GiB;
an evidence member of 1 GiB of zeros (only its compression ratio gives it away); a dossier.pdf that
declares 1,000 bytes but holds 1 GiB; a zip of 200,000 empty entries; a PDF whose embedded
manifest.json inflates to 512 MiB; and, for comparison, the intact bundle of a small real dossier.
Goals: each bomb answered in about a second with under 100 MiB of RSS growth. Figures only.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.writer import PdfFileWriter
from upload import free_port, manage, rss_kib, wait_for_port, worker_pid

BASE_DIR = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
ZEROS = bytes(MiB)


def deflated_zeros(archive: zipfile.ZipFile, name: str, megabytes: int) -> None:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as member:
        for _ in range(megabytes):
            member.write(ZEROS)


def pdf_bomb_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        deflated_zeros(archive, "dossier.pdf", 1536)
        archive.writestr("manifest.json", b"{}")


def ratio_bomb_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        deflated_zeros(archive, "evidence/E1-recording.wav", 1024)


def lying_zip(path: Path) -> None:
    """dossier.pdf holds 1 GiB of zeros, but its headers say 1,000 bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("dossier.pdf", date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w") as member:
            for _ in range(1024):
                member.write(ZEROS)
    with zipfile.ZipFile(path) as archive:
        header, directory = archive.getinfo("dossier.pdf").header_offset, archive.start_dir
    with path.open("r+b") as handle:
        for offset in (header + 22, directory + 24):
            handle.seek(offset)
            handle.write(struct.pack("<L", 1000))


def crowded_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for number in range(200_000):
            archive.writestr(f"e/{number}", b"")


def manifest_bomb_pdf(path: Path) -> None:
    compressor = zlib.compressobj(9)
    encoded = b"".join(compressor.compress(ZEROS) for _ in range(512)) + compressor.flush()
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
    with path.open("wb") as out:
        writer.write(out)


REAL_BUNDLE = """
import io, math, struct, wave
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from complaints.services import dossier_create
from complaints.verification import write_bundle
from evidence.services import case_create, evidence_store, incident_create
u = get_user_model().objects.create_user('bench', password='bench-pass-123')
c = case_create(owner=u, title='bench', creditor='huabei', lender_name='bench lender')
i = incident_create(case=c, kind='call', occurred_at=timezone.now(), counterpart_number='17012345678')
frame = bytes([(7 << 3) | 0x04]) + bytes(31)
evidence_store(incident=i, upload=SimpleUploadedFile('recording.amr', b'#!AMR\\n' + frame * 3000))
d = dossier_create(owner=u, case=c, addressee='alipay')
d.refresh_from_db()
with open({target!r}, 'wb') as out:
    write_bundle(d, out)
print(d.status)
"""


def post_file(port: int, path: Path) -> tuple[int, dict, float]:
    """POST the file as multipart field `file`; (status, JSON body, seconds until the whole answer)."""
    boundary = "----bench" + hashlib.sha256(path.name.encode()).hexdigest()[:16]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    connection.putrequest("POST", "/api/v1/verify/")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(len(head) + path.stat().st_size + len(tail)))
    connection.endheaders()
    connection.send(head)
    with path.open("rb") as source:
        while chunk := source.read(MiB):
            connection.send(chunk)
    connection.send(tail)
    response = connection.getresponse()
    raw = response.read()
    seconds = time.perf_counter() - started
    connection.close()
    try:
        body = json.loads(raw)
    except ValueError:
        body = {"raw": raw[:200].decode("utf-8", "replace")}
    return response.status, body, seconds


def measure(env: dict, upload: Path, warm: Path) -> dict:
    """One upload to a fresh gunicorn worker, warmed by a small verification first."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
            "--timeout",
            "600",
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env=env,
        # The app logs each refusal (a 413) on stdout; only the figures are printed here.
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        worker = worker_pid(server.pid)
        # Imports (pyHanko, zipfile), the first query and the signing key load before measuring.
        post_file(port, warm)
        rss_before = rss_kib(worker, "VmRSS")
        status, body, seconds = post_file(port, upload)
        peak = rss_kib(worker, "VmHWM")
    finally:
        server.terminate()
        server.wait(timeout=30)
    error = body.get("error", {})
    outcome = error.get("code") or (
        "valid" if body.get("valid") else f"invalid: {'; '.join(body.get('problems', []))}"
    )
    return {
        "status": status,
        "outcome": outcome[:160],
        "message": error.get("message", "")[:200],
        "seconds": round(seconds, 3),
        "rss_growth_mib": round(max(peak - rss_before, 0) / 1024, 1),
        "upload_kib": round(upload.stat().st_size / 1024, 1),
    }


def main() -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    try:
        env = {
            **os.environ,
            "DATA_DIR": str(work / "data"),
            "DJANGO_DEBUG": "0",
            "DJANGO_SECURE": "0",
            "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "FILE_UPLOAD_TEMP_DIR": str(work / "tmp"),
            "LOG_LEVEL": "ERROR",
            "TASKS_BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        (work / "tmp").mkdir()
        manage(env, "migrate", "--noinput", "-v0")
        real = work / "real-bundle.zip"
        manage(env, "shell", "--no-imports", "-c", REAL_BUNDLE.format(target=str(real)))
        warm = work / "warm.txt"
        warm.write_bytes(b"not a dossier")

        uploads = {
            "pdf_bomb_zip": pdf_bomb_zip,
            "ratio_bomb_zip": ratio_bomb_zip,
            "lying_size_zip": lying_zip,
            "crowded_zip": crowded_zip,
            "manifest_bomb_pdf": manifest_bomb_pdf,
        }
        figures: dict = {}
        for name, build in uploads.items():
            path = work / (name.rsplit("_", 1)[0] + "." + name.rsplit("_", 1)[1])
            build(path)
            for key, value in measure(env, path, warm).items():
                figures[f"{name}.{key}"] = value
            path.unlink()
        for key, value in measure(env, real, warm).items():
            figures[f"intact_bundle.{key}"] = value
        figures["temporary_files_left"] = len(list((work / "tmp").iterdir()))
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    for key, value in main().items():
        print(f"verify_bomb.{key}: {value}")
