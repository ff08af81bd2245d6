"""Real server processes for the crash and multi-instance tests: gunicorn on a free port, sharing the
test database (the SQLite file or DATABASE_URL's PostgreSQL), the evidence store and the tus spool
folder with the test process, each with a data folder of its own. Killed with a real SIGKILL."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import requests

BASE_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    from django.db import connection

    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    return (
        f"postgres://{database['USER']}:{database['PASSWORD'] or ''}@{database['HOST'] or 'localhost'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


def server_env(evidence_storage, data_dir: Path, spool_dir: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        {
            "DATABASE_URL": database_url(),
            "DATA_DIR": str(data_dir),
            "RESUMABLE_UPLOAD_DIR": str(spool_dir),
            "DJANGO_DEBUG": "1",
            "LOG_LEVEL": "WARNING",
            "TASKS_BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "DJANGO_SECRET_KEY": "tus-servers-share-one-key-" + "x" * 40,
        }
    )
    if evidence_storage["kind"] == "filesystem":
        env["EVIDENCE_ROOT"] = str(evidence_storage["path"])
    else:
        env["EVIDENCE_S3_PREFIX"] = evidence_storage["prefix"]
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Server:
    """One gunicorn instance (a sync worker with threads) in its own process group."""

    def __init__(self, env: dict, port: int | None = None):
        self.env = env
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        Path(self.env["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "--threads",
                "4",
                "--timeout",
                "600",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self._log_handle(),
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:  # e.g. the port was taken meanwhile
                raise AssertionError("the server stopped:\n" + self.log())
            try:
                requests.get(f"{self.url}/healthz", timeout=30)
            except requests.RequestException:
                time.sleep(0.2)
                continue
            if self.process.poll() is None:
                return self
        raise AssertionError("the server did not start:\n" + self.log())

    def _log_handle(self):
        if getattr(self, "_log", None) is None:
            self._log = (Path(self.env["DATA_DIR"]) / "server.log").open("ab")
        return self._log

    def log(self) -> str:
        return (Path(self.env["DATA_DIR"]) / "server.log").read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL to the server's own process group (gunicorn's arbiter and its worker)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            self.kill()
        self.process = None


# --- tus over real HTTP -------------------------------------------------------------------------


def meta(**values) -> str:
    return ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in values.items())


def tus_headers(secret: str, **extra) -> dict:
    return {"Authorization": f"Bearer {secret}", "Tus-Resumable": "1.0.0", **extra}


def tus_create(base: str, secret: str, length: int, **metadata) -> requests.Response:
    return requests.post(
        f"{base}/api/v1/uploads/",
        headers=tus_headers(secret, **{"Upload-Length": str(length), "Upload-Metadata": meta(**metadata)}),
        timeout=60,
    )


def tus_patch(base: str, secret: str, path: str, offset: int, body) -> requests.Response:
    return requests.patch(
        f"{base}{path}",
        data=body,
        headers=tus_headers(
            secret,
            **{"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"},
        ),
        timeout=600,
    )


def tus_head(base: str, secret: str, path: str) -> requests.Response:
    return requests.head(f"{base}{path}", headers=tus_headers(secret), timeout=600)


def open_patch(base: str, secret: str, path: str, offset: int, content_length: int) -> socket.socket:
    """A PATCH whose headers are sent and whose body the caller sends (or not) on the raw socket."""
    host = urlparse(base)
    raw = socket.create_connection((host.hostname, host.port), timeout=120)
    raw.sendall(
        (
            f"PATCH {path} HTTP/1.1\r\nHost: {host.netloc}\r\nAuthorization: Bearer {secret}\r\n"
            f"Tus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n"
            f"Content-Type: application/offset+octet-stream\r\nContent-Length: {content_length}\r\n\r\n"
        ).encode()
    )
    return raw


def read_response(raw: socket.socket) -> tuple[int, dict, bytes]:
    """Status, headers and body of one HTTP/1.1 response read off a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        block = raw.recv(65536)
        if not block:
            break
        data += block
    head, _sep, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        key, _colon, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    wanted = int(headers.get("content-length", "0") or 0)
    while len(body) < wanted:
        block = raw.recv(65536)
        if not block:
            break
        body += block
    return status, headers, body


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            hasher.update(block)
    return hasher.hexdigest()


def amr_file(path: Path, megabytes: int) -> tuple[Path, int, str]:
    """A raw AMR-NB recording of about `megabytes` MB written to disk (12.2 kbit/s frames of 32 bytes,
    each a little different so no two pieces of the file are alike). Returns (path, size, sha256)."""
    frames_per_block = 32_768  # 1 MiB of frames
    hasher = hashlib.sha256()
    with path.open("wb") as out:
        out.write(b"#!AMR\n")
        hasher.update(b"#!AMR\n")
        for block in range(megabytes):
            frame = bytes([(7 << 3) | 0x04]) + block.to_bytes(4, "big") + bytes(27)
            data = frame * frames_per_block
            out.write(data)
            hasher.update(data)
    return path, path.stat().st_size, hasher.hexdigest()


def send_file(raw: socket.socket, path: Path, start: int, stop: int) -> None:
    with path.open("rb") as handle:
        handle.seek(start)
        left = stop - start
        while left:
            block = handle.read(min(1 << 20, left))
            raw.sendall(block)
            left -= len(block)


def file_slices(path: Path, start: int, stop: int, size: int = 1 << 20):
    with path.open("rb") as handle:
        handle.seek(start)
        left = stop - start
        while left:
            block = handle.read(min(size, left))
            if not block:
                return
            yield block
            left -= len(block)
