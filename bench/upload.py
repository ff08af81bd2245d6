"""Upload benchmark: a 200 MiB recording over real HTTP to the app behind gunicorn, through the API.

Prints MB/s, the ratio against `sha256sum` + `cp` of the same file in the same run (goal >= 0.85),
on S3 (moto's server) the ratio against boto3's `upload_file` of the same file (goal >= 0.9),
and the gunicorn worker's peak RSS growth (goal <= 64 MiB). Figures only; nothing is asserted.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SIZE = int(os.environ.get("BENCH_UPLOAD_BYTES", 200 * 1024 * 1024))
CHUNK = 1 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, attempts: int = 100) -> None:
    for _ in range(attempts):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)


def make_wav(path: Path, size: int) -> None:
    """A WAV header followed by pseudo-random PCM: accepted by the sniffer, incompressible."""
    data_size = size - 44
    header = (
        b"RIFF"
        + struct.pack("<I", size - 8)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
        + b"data"
        + struct.pack("<I", data_size)
    )
    block = hashlib.sha256(b"seed").digest() * (CHUNK // 32)
    with path.open("wb") as out:
        out.write(header)
        written = 0
        counter = 0
        while written < data_size:
            counter += 1
            piece = block[: min(CHUNK, data_size - written)]
            # Vary each block a little so the file is not one repeated pattern.
            piece = struct.pack("<Q", counter) + piece[8:]
            out.write(piece)
            written += len(piece)


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def worker_pid(master: int) -> int:
    for _ in range(100):
        children = Path(f"/proc/{master}/task/{master}/children")
        if children.exists() and children.read_text().split():
            return int(children.read_text().split()[0])
        time.sleep(0.1)
    raise RuntimeError("gunicorn worker did not start")


def manage(env: dict, *args: str, input_text: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        input=input_text,
    )
    return result.stdout.strip()


def install(env: dict) -> tuple[str, int]:
    """Migrate a fresh installation and give it a user with a case and one incident: (token, incident id)."""
    manage(env, "migrate", "--noinput", "-v0")
    incident = manage(
        env,
        "shell",
        "--no-imports",
        "-c",
        (
            "from django.contrib.auth import get_user_model\n"
            "from django.utils import timezone\n"
            "from evidence.services import case_create, incident_create\n"
            "u = get_user_model().objects.create_user('bench', password='bench-pass-123')\n"
            "c = case_create(owner=u, title='bench', creditor='huabei')\n"
            "print(incident_create(case=c, kind='call', occurred_at=timezone.now()).pk)\n"
        ),
    )
    return manage(env, "issue_token", "bench"), int(incident.splitlines()[-1])


def start_gunicorn(env: dict, port: int) -> subprocess.Popen:
    """One sync worker with the production settings file, quiet."""
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"],
        cwd=BASE_DIR,
        env={**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stream_upload(port: int, path: Path, token: str, incident: int) -> tuple[float, dict]:
    boundary = "----bench" + hashlib.sha256(str(time.time()).encode()).hexdigest()[:16]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + path.stat().st_size + len(tail)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    connection.putrequest("POST", f"/api/v1/incidents/{incident}/evidence/")
    connection.putheader("Authorization", f"Bearer {token}")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(length))
    connection.endheaders()
    connection.send(head)
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            connection.send(chunk)
    connection.send(tail)
    response = connection.getresponse()
    body = json.loads(response.read())
    elapsed = time.perf_counter() - started
    if response.status != 201:
        raise RuntimeError(f"upload failed: {response.status} {body}")
    return elapsed, body


def measure(work: Path, recording: Path, extra_env: dict) -> dict:
    """One upload of the recording to a fresh installation behind gunicorn; seconds and RSS growth."""
    data_dir = work / f"data-{len(list(work.glob('data-*')))}"
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "DJANGO_DEBUG": "0",
        "DJANGO_SECURE": "0",
        "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "FILE_UPLOAD_TEMP_DIR": str(work / "tmp"),
        "LOG_LEVEL": "WARNING",
        **extra_env,
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    (work / "tmp").mkdir(exist_ok=True)
    token, incident = install(env)
    port = free_port()
    server = start_gunicorn(env, port)
    try:
        wait_for_port(port)
        worker = worker_pid(server.pid)
        # Warm the worker (imports, first query) so RSS growth is the upload's alone.
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/api/v1/cases/", headers={"Authorization": f"Bearer {token}"})
        conn.getresponse().read()
        rss_before = rss_kib(worker, "VmRSS")
        elapsed, body = stream_upload(port, recording, token, incident)
        peak = rss_kib(worker, "VmHWM")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"seconds": elapsed, "sha256": body["sha256"], "rss_growth_mib": max(peak - rss_before, 0) / 1024}


def start_moto(work: Path) -> tuple[subprocess.Popen, dict] | None:
    moto = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    if not Path(moto).exists():
        return None
    port = free_port()
    process = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_port(port)
    env = {
        "EVIDENCE_S3_BUCKET": "bench-evidence",
        "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_S3_ADDRESSING_STYLE": "path",
        "EVIDENCE_S3_RETENTION_DAYS": "1",
    }
    import boto3
    from botocore.config import Config

    boto3.client(
        "s3",
        endpoint_url=env["AWS_S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(s3={"addressing_style": "path"}),
    ).create_bucket(Bucket="bench-evidence", ObjectLockEnabledForBucket=True)
    return process, env


def boto3_upload_file_seconds(s3_env: dict, recording: Path) -> float:
    """The baseline: boto3's own `upload_file` of the same file to the same store (its defaults:
    8 MiB parts, 10 threads), as a client that has the whole file already would send it."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=s3_env["AWS_S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(s3={"addressing_style": "path"}),
    )
    started = time.perf_counter()
    client.upload_file(str(recording), s3_env["EVIDENCE_S3_BUCKET"], "baseline/recording.wav")
    return time.perf_counter() - started


def main() -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    try:
        recording = work / "recording.wav"
        make_wav(recording, SIZE)
        expected = hashlib.sha256(recording.read_bytes()).hexdigest()

        # Baseline: what the machine needs to hash and copy the same bytes.
        started = time.perf_counter()
        subprocess.run(["sha256sum", str(recording)], check=True, capture_output=True)
        shutil.copyfile(recording, work / "copy.wav")
        baseline = time.perf_counter() - started
        (work / "copy.wav").unlink()

        local = measure(work, recording, {})
        mb = SIZE / 1e6
        figures = {
            "size_mib": SIZE / (1 << 20),
            "upload_seconds": round(local["seconds"], 3),
            "upload_mb_per_s": round(mb / local["seconds"], 1),
            "baseline_sha256sum_plus_cp_seconds": round(baseline, 3),
            "ratio_vs_baseline": round(baseline / local["seconds"], 2),
            "goal": ">= 0.85 of sha256sum && cp",
            "worker_peak_rss_growth_mib": round(local["rss_growth_mib"], 1),
            "hash_matches": local["sha256"] == expected,
        }
        moto = start_moto(work)
        if moto is None:
            figures["s3"] = "skipped (moto_server not installed)"
            return figures
        process, s3_env = moto
        try:
            baseline_s3 = boto3_upload_file_seconds(s3_env, recording)
            remote = measure(work, recording, s3_env)
        finally:
            process.terminate()
            process.wait(timeout=30)
        figures.update(
            {
                "s3_upload_seconds": round(remote["seconds"], 3),
                "s3_upload_mb_per_s": round(mb / remote["seconds"], 1),
                "s3_ratio_to_filesystem": round(local["seconds"] / remote["seconds"], 2),
                "s3_baseline_boto3_upload_file_seconds": round(baseline_s3, 3),
                "s3_ratio_vs_boto3_upload_file": round(baseline_s3 / remote["seconds"], 2),
                "s3_goal": ">= 0.9 of boto3 upload_file",
                "s3_worker_peak_rss_growth_mib": round(remote["rss_growth_mib"], 1),
                "s3_hash_matches": remote["sha256"] == expected,
            }
        )
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    for key, value in main().items():
        print(f"upload.{key}: {value}")
