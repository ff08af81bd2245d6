"""One log stream: every line gunicorn, the app and the worker write is one JSON object with a UTC
time; requests carry a request id, duration and user id, never a query string; a wrong Host header
is a warning."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from datetime import datetime, timedelta

import requests

from tests.test_serving import BASE_DIR, free_port


def production_env(tmp_path, port: int) -> dict:
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
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        }
    )
    return env


def parse(lines: list[str]) -> list[dict]:
    entries = []
    for line in lines:
        entry = json.loads(line)  # every line, not only most
        moment = datetime.fromisoformat(entry["time"])
        assert moment.utcoffset() == timedelta(0), line
        entries.append(entry)
    return entries


def test_web_and_worker_logs_are_one_json_stream(tmp_path):
    port = free_port()
    env = production_env(tmp_path, port)
    log = tmp_path / "web.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            ["make", "-s", "serve"],
            cwd=BASE_DIR,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                requests.get(f"{base}/healthz", timeout=2)
                break
            except (requests.ConnectionError, requests.Timeout):  # starting, or loading the app
                assert server.poll() is None, log.read_text()
                time.sleep(0.3)
        assert (
            requests.get(f"{base}/accounts/login/?next=/cases/&phone=13800000000", timeout=10).status_code
            == 200
        )
        assert requests.get(f"{base}/nothing-here", timeout=10).status_code == 404
        assert requests.get(f"{base}/", headers={"Host": "evil.example"}, timeout=10).status_code == 400
        login = requests.Session()
        page = login.get(f"{base}/accounts/signup/", timeout=10)
        token = page.text.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        login.post(
            f"{base}/accounts/signup/",
            data={
                "csrfmiddlewaretoken": token,
                "username": "erin",
                "password1": "a-long-pass-phrase-9",
                "password2": "a-long-pass-phrase-9",
            },
            headers={"Referer": f"{base}/accounts/signup/"},
            timeout=10,
        )
        assert login.get(f"{base}/cases/", timeout=10).status_code == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    lines = [line for line in log.read_text().splitlines() if line.strip() and not line.startswith("make")]
    entries = parse(lines)
    assert any(e["logger"].startswith("gunicorn") for e in entries)
    requests_logged = [e for e in entries if e["logger"] == "request"]
    login_line = next(e for e in requests_logged if e["path"] == "/accounts/login/")
    assert (
        login_line["status_code"] == 200
        and login_line["duration_ms"] >= 0
        and len(login_line["request_id"]) >= 8
    )
    assert "13800000000" not in log.read_text() and "phone=" not in log.read_text()
    assert any(e["path"] == "/nothing-here" and e["status_code"] == 404 for e in requests_logged)
    host = next(e for e in entries if e["logger"] == "django.security.DisallowedHost")
    assert host["level"] == "WARNING" and "exception" not in host
    signed_in = next(e for e in requests_logged if e["path"] == "/cases/")
    assert isinstance(signed_in["user_id"], int)

    # The worker writes to the same stream, in the same shape.
    worker = subprocess.run(
        [str(BASE_DIR / ".venv/bin/python"), "manage.py", "worker", "--batch", "--no-startup-delay"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    worker_lines = [line for line in (worker.stdout + worker.stderr).splitlines() if line.strip()]
    assert worker_lines, worker.stderr
    parse(worker_lines)


def test_a_python_warning_is_a_json_log_record_not_a_bare_line(tmp_path):
    """Warnings (a library's deprecation, say) reach the log stream as records of `py.warnings`; the
    one known third-party deprecation (DSA, when pyHanko is imported) is filtered where it is raised."""
    env = production_env(tmp_path, free_port())
    code = (
        "import warnings, pyhanko.sign.signers.pdf_cms; "
        "warnings.warn('a deprecated call', DeprecationWarning, stacklevel=1); "
        "warnings.warn('something odd', UserWarning)"
    )
    result = subprocess.run(
        [
            str(BASE_DIR / ".venv/bin/python"),
            "-W",
            "always::DeprecationWarning",
            "manage.py",
            "shell",
            "-v",
            "0",
            "-c",
            code,
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    entries = parse(lines)
    warned = [e for e in entries if e["logger"] == "py.warnings"]
    assert any("something odd" in e["message"] for e in warned), lines
    assert any("a deprecated call" in e["message"] for e in warned), lines
    assert not any("DSA" in e["message"] for e in entries), lines
