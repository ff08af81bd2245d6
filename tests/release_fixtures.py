"""Release fixtures (tests/fixtures/releases/<version>/, made by scripts/make-release-fixture.sh with
each release's own code) restored into an installation of their own: a copy of the data folder, and
the database either as the SQLite file it is or, for the PostgreSQL run, copied row by row into a new
PostgreSQL database brought to exactly the release's schema by the release's own migrations."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
RELEASES_DIR = BASE_DIR / "tests" / "fixtures" / "releases"
PY = str(BASE_DIR / ".venv" / "bin" / "python")
RELEASES = sorted(path.name for path in RELEASES_DIR.iterdir() if (path / "meta.json").exists())
SKIPPED_TABLES = {"django_migrations", "sqlite_sequence"}


def postgres_server_url() -> str | None:
    """The PostgreSQL server of the production-like run (DATABASE_URL without its database)."""
    url = os.environ.get("DATABASE_URL", "")
    return url.rsplit("/", 1)[0] if url.startswith(("postgres://", "postgresql://")) else None


def base_env(data_dir: Path, database_url: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EVIDENCE_S3_", "AWS_", "DJANGO_", "PYTEST_")) and k != "DATABASE_URL"
    }
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "DATABASE_URL": database_url,
            "DJANGO_DEBUG": "1",
            "LOG_LEVEL": "ERROR",
            "TASKS_BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    return env


def manage(env: dict, *args: str, cwd: Path = BASE_DIR, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PY, "manage.py", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def row_counts(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as connection:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if row[0] not in SKIPPED_TABLES
        ]
        return {
            table: connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] for table in tables
        }


def applied_migrations(database: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(database) as connection:
        return [
            tuple(row) for row in connection.execute("SELECT app, name FROM django_migrations ORDER BY id")
        ]


def copy_data_dir(version: str, target: Path) -> Path:
    data = target / "data"
    shutil.copytree(RELEASES_DIR / version / "data", data)
    return data


def release_source(version: str, target: Path) -> Path:
    """The release's own code, unpacked (kept in the fixture, so no git history is needed)."""
    source = target / f"source-{version}"
    source.mkdir()
    with tarfile.open(RELEASES_DIR / version / "source.tar.gz") as archive:
        archive.extractall(source, filter="data")
    return source


def restore(version: str, target: Path) -> tuple[Path, str]:
    """A restored installation of the release: (its data folder, its DATABASE_URL)."""
    data = copy_data_dir(version, target)
    sqlite_path = data / "db.sqlite3"
    server = postgres_server_url()
    if server is None:
        return data, f"sqlite:///{sqlite_path}"
    return data, restore_into_postgres(sqlite_path, server, data)


def restore_into_postgres(sqlite_path: Path, server: str, data: Path) -> str:
    import psycopg

    name = f"upgrade_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = f"{server}/{name}"
    # The release's schema, exactly: HEAD's migration files up to what the release had applied.
    targets: dict[str, str] = {}
    for app, migration in applied_migrations(sqlite_path):
        targets[app] = migration
    script = (
        "from django.core.management import call_command\n"
        f"for app, name in {json.dumps(sorted(targets.items()))}:\n"
        "    call_command('migrate', app, name, verbosity=0, interactive=False)\n"
    )
    result = manage(base_env(data, url), "shell", "-v", "0", "-c", script)
    assert result.returncode == 0, result.stderr[-3000:]
    source = sqlite3.connect(sqlite_path)
    with psycopg.connect(url) as target:
        target.execute("SET TIME ZONE 'UTC'")
        existing = {
            row[0]
            for row in target.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
        tables = [
            row[0]
            for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if row[0] not in SKIPPED_TABLES
        ]
        missing = [table for table in tables if table not in existing]
        assert not missing, f"the release's migrations do not make these tables: {missing}"
        # Rows the migrations' post_migrate handlers made (content types, permissions) are replaced.
        quoted = ", ".join(f'"{table}"' for table in tables)
        target.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
        for table in tables:
            types = dict(
                target.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND table_name = %s",
                    (table,),
                ).fetchall()
            )
            cursor = source.execute(f'SELECT * FROM "{table}"')
            columns = [description[0] for description in cursor.description]
            extra = [column for column in columns if column not in types]
            assert not extra, f"{table}: the release's schema has no column {extra}"
            rows = [
                [
                    bool(value) if types[column] == "boolean" and value is not None else value
                    for column, value in zip(columns, row, strict=True)
                ]
                for row in cursor.fetchall()
            ]
            if not rows:
                continue
            names = ", ".join(f'"{column}"' for column in columns)
            marks = ", ".join(["%s"] * len(columns))
            with target.cursor() as insert:
                insert.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)
            if "id" in types:
                target.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                    f'(SELECT MAX(id) FROM "{table}"))'
                )
    source.close()
    return url


def drop_postgres(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_row_counts(env: dict) -> dict[str, int]:
    """Row counts per table of the (migrated) database the environment names."""
    script = (
        "import json\n"
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    out = {}\n"
        "    for t in connection.introspection.table_names(c):\n"
        "        c.execute(f'SELECT COUNT(*) FROM \"{t}\"')\n"
        "        out[t] = c.fetchone()[0]\n"
        "print(json.dumps(out))\n"
    )
    result = manage(env, "shell", "-v", "0", "-c", script)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
