"""Every release upgrades: each release fixture (made by that release's own code) is restored into an
empty database, migrated to HEAD, and must still hold and prove everything it held.

On SQLite in `make test`; on PostgreSQL in `make test-production` (DATABASE_URL names the server), where
the fixture's rows are copied into a database made by the release's own migrations first."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile

import pytest

from tests.release_fixtures import (
    BASE_DIR,
    PY,
    RELEASES,
    RELEASES_DIR,
    base_env,
    database_row_counts,
    drop_postgres,
    manage,
    restore,
    row_counts,
)


@pytest.fixture(scope="module", params=RELEASES)
def upgraded(request, tmp_path_factory):
    version = request.param
    folder = tmp_path_factory.mktemp(f"upgrade-{version}")
    data, url = restore(version, folder)
    env = base_env(data, url)
    before = row_counts(RELEASES_DIR / version / "data" / "db.sqlite3")
    migrated = manage(env, "migrate", "--noinput", timeout=600)
    yield {
        "version": version,
        "fixture": RELEASES_DIR / version,
        "meta": json.loads((RELEASES_DIR / version / "meta.json").read_text()),
        "env": env,
        "before": before,
        "migrate": migrated,
        "folder": folder,
    }
    drop_postgres(url)


def test_the_release_database_migrates_to_head_keeping_every_row(upgraded):
    assert upgraded["migrate"].returncode == 0, upgraded["migrate"].stderr[-3000:]
    after = database_row_counts(upgraded["env"])
    for table, count in upgraded["before"].items():
        if table.startswith(("auth_permission", "django_content_type")):
            continue  # Django adds the new models' own rows
        assert after.get(table, 0) >= count, (table, count, after.get(table))
        if table.startswith(("evidence_", "complaints_", "auth_user", "accounts_")):
            assert after[table] == count, (table, count, after[table])


def test_verify_evidence_strict_passes_on_the_upgraded_store(upgraded):
    assert upgraded["migrate"].returncode == 0
    result = manage(upgraded["env"], "verify_evidence", "--strict")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "OK: every file matches" in result.stdout


def test_every_old_bundle_verifies_intact_and_a_changed_byte_is_named(upgraded, tmp_path):
    assert upgraded["migrate"].returncode == 0
    dossiers = [dossier for user in upgraded["meta"]["users"] for dossier in user["dossiers"]]
    assert dossiers
    for dossier in dossiers:
        path = upgraded["fixture"] / dossier["bundle"]
        result = manage(upgraded["env"], "verify_bundle", str(path))
        assert result.returncode == 0, result.stdout + result.stderr[-2000:]
        assert result.stdout.startswith("INTACT"), result.stdout
        assert "Traceback" not in result.stdout + result.stderr
    # One byte of one evidence file changed: named, exit 1.
    original = (upgraded["fixture"] / dossiers[0]["bundle"]).read_bytes()
    with zipfile.ZipFile(io.BytesIO(original)) as bundle:
        victim = next(name for name in bundle.namelist() if name.startswith("evidence/"))
        members = [(info, bundle.read(info)) for info in bundle.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as forged:
        for info, data in members:
            if info.filename == victim:
                data = data[:100] + bytes([data[100] ^ 0x01]) + data[101:]
            forged.writestr(info, data)
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(buffer.getvalue())
    result = manage(upgraded["env"], "verify_bundle", str(tampered))
    assert result.returncode == 1, result.stdout
    assert f"PROBLEM {victim}: expected sha256" in result.stdout, result.stdout
    # A verify.py slipped into an old bundle must be one this software wrote.
    planted = tmp_path / "planted.zip"
    with zipfile.ZipFile(io.BytesIO(original)) as bundle, zipfile.ZipFile(planted, "w") as out:
        for info in bundle.infolist():
            out.writestr(info, bundle.read(info))
        out.writestr("verify.py", "print('ALL CHECKS PASSED')\n")
    result = manage(upgraded["env"], "verify_bundle", str(planted))
    assert result.returncode == 1 and "PROBLEM verify.py" in result.stdout, result.stdout


def test_old_tokens_old_files_old_dossiers_and_a_new_dossier_work(upgraded):
    assert upgraded["migrate"].returncode == 0
    result = subprocess.run(
        [PY, "tests/upgrade_checks.py", str(upgraded["fixture"])],
        cwd=BASE_DIR,
        env=upgraded["env"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    for user in upgraded["meta"]["users"]:
        mine = found["users"][user["username"]]
        assert mine["token_status"] == 200
        assert mine["cases"] == sorted(user["cases"])
        assert set(mine["incident_status"].values()) == {200}, mine["incident_status"]
        assert set(user["incidents"].values()) <= {
            pk for listed in mine["incidents"].values() for pk in listed
        }
        for item in user["evidence"]:
            assert mine["evidence"][str(item["id"])] == {"status": 200, "sha256_equal": True}
        for dossier in user["dossiers"]:
            checked = mine["dossiers"][str(dossier["id"])]
            assert checked["pdf_status"] == 200 and checked["pdf_identical"], checked
            assert checked["api"]["valid"] is True, checked["api"]
            assert checked["api"]["dossier"]["seal"] == dossier["seal"]
            assert checked["api_pdf"]["valid"] is True, checked["api_pdf"]
            assert checked["page_intact"], dossier
            assert checked["fresh_bundle"]["valid"] is True, checked["fresh_bundle"]
            assert checked["fresh_verify_py"][0] == 0, checked["fresh_verify_py"][1]
        assert mine["new_dossier"] == {"create_status": 202, "status": "ready"} or mine["new_dossier"] == {
            "create_status": 201,
            "status": "ready",
        }, mine["new_dossier"]
        assert mine["password_login"] is True
    # Another user's token never reaches the first user's evidence.
    alice, bob = upgraded["meta"]["users"][:2]
    assert not set(found["users"]["bob"]["cases"]) & set(alice["cases"])
    assert not set(found["users"]["alice"]["cases"]) & set(bob["cases"])


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_previous_release_keeps_serving_while_and_after_migrate_runs(tmp_path):
    """No window of errors: the previous release's own code (its web process) creates incidents and
    takes uploads while `migrate` to HEAD runs against its database, and after it has finished."""
    import time

    import requests

    from tests.release_fixtures import release_source

    previous = RELEASES[-1]
    data, url = restore(previous, tmp_path)
    env = base_env(data, url)
    source = release_source(previous, tmp_path)
    meta = json.loads((RELEASES_DIR / previous / "meta.json").read_text())
    alice = meta["users"][0]
    port = free_port()
    server = subprocess.Popen(
        [PY, "manage.py", "runserver", "--noreload", "--nothreading", f"127.0.0.1:{port}"],
        cwd=source,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {alice['token']}"
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if session.get(f"{base}/cases/", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "the old server did not start"
            time.sleep(0.2)
        statuses: list[tuple[str, int]] = []

        def write_once(n: int) -> None:
            created = session.post(
                f"{base}/incidents/",
                json={
                    "case": alice["cases"][0],
                    "kind": "call",
                    "occurred_at": f"2025-12-01T2{n % 4}:{n % 60:02d}:00+08:00",
                    "counterpart_number": f"1380013{n:04d}",
                    "answered": False,
                },
                timeout=60,
            )
            statuses.append(("incident", created.status_code))
            if created.status_code == 201:
                uploaded = session.post(
                    f"{base}/incidents/{created.json()['id']}/evidence/",
                    files={"file": (f"shot-{n}.png", png(n), "image/png")},
                    timeout=60,
                )
                statuses.append(("upload", uploaded.status_code))

        migrating = subprocess.Popen(
            [PY, "manage.py", "migrate", "--noinput"],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        n = 0
        while migrating.poll() is None:
            write_once(n)
            n += 1
        out, err = migrating.communicate()
        assert migrating.returncode == 0, err[-3000:]
        during = n
        for _ in range(3):  # the old code against the migrated schema
            write_once(n)
            n += 1
    finally:
        server.terminate()
        _out, server_err = server.communicate(timeout=30)
        drop_postgres(url)
    assert during >= 1
    assert all(status < 500 for _kind, status in statuses), (statuses, server_err[-3000:])
    assert [kind for kind, status in statuses if status == 201].count("upload") == n, statuses


def png(n: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40 + n % 10, 30), (n * 7 % 255, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()
