"""Production serving: `make serve` runs gunicorn with WhiteNoise; /healthz reports the database and
the storage."""

from __future__ import annotations

import io
import os
import re
import secrets
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

BASE_DIR = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL")}
    env.update(
        {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_SECURE": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DATA_DIR": str(tmp_path / "data"),
            "STATIC_ROOT": str(tmp_path / "static"),
            "PORT": str(port),
            "WEB_CONCURRENCY": "1",
            "HOST": "127.0.0.1",
        }
    )
    server = subprocess.Popen(
        ["make", "-s", "serve"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/healthz", timeout=2)
            break
        except (requests.ConnectionError, requests.Timeout):  # starting, or its first request loading the app
            if server.poll() is not None:
                raise AssertionError(server.stdout.read().decode()) from None
            time.sleep(0.3)
    yield base, tmp_path
    os.killpg(server.pid, 15)
    server.wait(timeout=30)


def test_make_serve_runs_gunicorn_with_static_files_and_healthz(served):
    base, tmp_path = served
    health = requests.get(f"{base}/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json()["database"] == "ok" and health.json()["storage"] == "ok"
    # No worker runs beside this web node: reported, yet the node still answers 200, so a load
    # balancer keeps it (config/health.py); `manage.py status` exits non-zero for monitoring.
    assert health.json()["worker"] == "down" and health.json()["status"] == "degraded"
    css = requests.get(f"{base}/static/css/app.css", timeout=10)
    assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]
    assert (tmp_path / "static" / "css" / "app.css").exists()  # collected, served by WhiteNoise
    login = requests.get(f"{base}/accounts/login/", timeout=10)
    assert login.status_code == 200 and "default-src 'self'" in login.headers["Content-Security-Policy"]
    assert "gunicorn" in login.headers.get("Server", "")


def test_pages_and_static_files_leave_compressed_and_hashed_files_are_kept_for_long(served):
    base, tmp_path = served
    gzip = {"Accept-Encoding": "gzip"}
    page = requests.get(f"{base}/accounts/login/", headers=gzip, timeout=10)
    assert page.status_code == 200 and page.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in page.headers["Vary"]
    # The page names app.js by a hash of its content (collectstatic's manifest), loaded without blocking.
    linked = re.search(r'<script src="(/static/js/app\.[0-9a-f]{12}\.js)" defer>', page.text)
    assert linked, page.text
    script = requests.get(base + linked.group(1), headers=gzip, timeout=10)
    assert script.status_code == 200 and script.headers["Content-Encoding"] == "gzip"
    assert "immutable" in script.headers["Cache-Control"]
    assert int(re.search(r"max-age=(\d+)", script.headers["Cache-Control"]).group(1)) >= 365 * 24 * 3600
    # requests decodes gzip: what a browser runs is app.js as collected.
    assert script.content == (tmp_path / "static" / "js" / "app.js").read_bytes()
    plain_name = requests.get(f"{base}/static/js/app.js", headers=gzip, timeout=10)
    assert plain_name.status_code == 200 and plain_name.headers["Content-Encoding"] == "gzip"
    # A client that accepts no compression gets the bytes as they are.
    identity = requests.get(base + linked.group(1), headers={"Accept-Encoding": "identity"}, timeout=10)
    assert "Content-Encoding" not in identity.headers and identity.content == script.content


def test_only_whole_text_responses_are_gzipped(rf):
    from django.http import FileResponse, HttpResponse, JsonResponse

    from config.compression import TextGZipMiddleware

    def compressed(response) -> bool:
        middleware = TextGZipMiddleware(lambda request: response)
        answer = middleware(rf.get("/", HTTP_ACCEPT_ENCODING="gzip, deflate, br"))
        return answer.get("Content-Encoding") == "gzip"

    text = "incident " * 100
    assert compressed(HttpResponse(f"<p>{text}</p>", content_type="text/html; charset=utf-8"))
    assert compressed(JsonResponse({"incidents": [text]}))
    # Evidence and dossier downloads stream their stored bytes with their length, never recompressed.
    assert not compressed(FileResponse(io.BytesIO(text.encode()), content_type="text/plain"))
    assert not compressed(HttpResponse(text.encode(), content_type="audio/amr"))


def test_healthz_reports_a_broken_storage(client, settings, db):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "tests.test_serving.BrokenStorage", "OPTIONS": {}},
    }
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["storage"].startswith("error")
    assert response.json()["database"] == "ok"


class BrokenStorage:
    def exists(self, name):
        raise OSError("unreachable")


def test_production_logs_are_one_json_object_a_line():
    import json
    import logging

    from config.logging import JsonFormatter

    try:
        raise ValueError("broken pipe")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "evidence", logging.ERROR, __file__, 1, "upload of %s failed", ("x.amr",), sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line  # the traceback is escaped inside the one line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "evidence"
    assert entry["message"] == "upload of x.amr failed" and "ValueError" in entry["exception"]
